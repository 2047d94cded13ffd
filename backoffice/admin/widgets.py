"""Form widgets and fields shared by admin screens."""
from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup, escape
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from .. import permissions


class CheckboxListWidget(ListWidget):
    """Flask-Admin gives every field the `form-control` class, which boxes a list of
    checkboxes into one input's height: the items spill over the next fields."""

    def __call__(self, field, **kwargs):
        classes = [c for c in kwargs.pop("class", "").split() if c != "form-control"]
        kwargs["class"] = " ".join(classes + ["list-unstyled", "mb-0"])
        return super().__call__(field, **kwargs)


class CheckboxList(SelectMultipleField):
    """A multiple choice shown as checkboxes rather than a ctrl-click list."""

    widget = CheckboxListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RightsWidget:
    """System rights as an area x action grid of checkboxes; API rights as a list."""

    def __call__(self, field, **kwargs):
        chosen = set(field.data or ())
        name = escape(field.name)

        def box(value, label):
            checked = " checked" if value in chosen else ""
            return Markup(
                f'<label class="mr-3"><input type="checkbox" name="{name}" value="{escape(value)}"'
                f'{checked}> {escape(label)}</label>'
            )

        head = "".join(f"<th>{escape(str(lbl))}</th>" for lbl in permissions.ACTIONS.values())
        rows = []
        for area, label in permissions.AREAS.items():
            cells = []
            for action, action_label in permissions.ACTIONS.items():
                value = f"{area}.{action}"
                cell = box(value, action_label) if action in permissions.actions_for(area) else "—"
                cells.append(f"<td>{cell}</td>")
            rows.append(f"<tr><th>{escape(str(label))}</th>{''.join(cells)}</tr>")
        api = "".join(f"<li>{box(v, lbl)}</li>" for v, lbl in permissions.API_ACTIONS.items())
        system_title = escape(_("Permissões do tipo Sistema (telas)"))
        area_title = escape(_("Área"))
        api_title = escape(_("Permissões do tipo API (tokens)"))
        return Markup(
            f'<div class="rights-field"><h2 class="h6">{system_title}</h2>'
            f'<table class="table table-sm table-bordered"><thead><tr><th>{area_title}</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>'
            f'<h2 class="h6">{api_title}</h2><ul class="list-unstyled">{api}</ul></div>'
        )


class RightsField(SelectMultipleField):
    widget = RightsWidget()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(r, r) for r in permissions.system_rights()]
                          + [(r, r) for r in permissions.API_ACTIONS])
        super().__init__(*args, **kwargs)

    def pre_validate(self, form):
        valid = {c[0] for c in self.choices}
        unknown = [v for v in self.data or () if v not in valid]
        if unknown:
            from wtforms.validators import ValidationError
            raise ValidationError(_("Permissão desconhecida: %(r)s", r=", ".join(unknown)))
