"""Etiquetas (TAG-1) and Motivos de atendimento (RSN-1)."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import BooleanField
from wtforms.fields import ColorField
from wtforms.validators import InputRequired, Length, Regexp

from sqlalchemy import and_, select

from ..extensions import db
from ..models import Department, Reason, Tag
from ..services import catalog
from ..tenancy import current_company_id
from .base import TenantModelView, VisibleRowsMixin
from .filters import PerRequestFilterOptions, TenantOptionsFilter

# --- Etiquetas ---------------------------------------------------------------------------


class PersonalField(BooleanField):
    """"Minha etiqueta": read from the form by the view, never written onto the row.

    The owner is always the logged-in user; no owner id travels in the form.
    """

    def populate_obj(self, obj, name):
        pass


class TagScopeFilter(BaseSQLAFilter):
    """Minhas etiquetas / Etiquetas da empresa. Fixed options: no tenant rows in them."""

    def __init__(self, name):
        super().__init__(Tag.owner_id, name, options=[("company", _l("Etiquetas da empresa")),
                                                      ("mine", _l("Minhas etiquetas"))])

    def apply(self, query, value, alias=None):
        if value == "mine":
            return query.filter(Tag.owner_id == current_user.id)
        return query.filter(Tag.owner_id.is_(None))

    def operation(self):
        return _l("é")


def tag_badge(tag: Tag) -> Markup:
    """The tag as people see it on tickets: its name (escaped: user text) on its colour."""
    color = catalog.safe_color(tag.color)
    return Markup('<span class="badge" style="background-color:{bg};color:{fg}">{name}</span>').format(
        bg=color, fg=catalog.text_color_on(color), name=tag.name)


def _swatch(view, context, model, name):
    color = catalog.safe_color(model.color)
    return Markup('<span class="tag-swatch" style="display:inline-block;width:1.2em;height:1.2em;'
                  'vertical-align:middle;border:1px solid #999;border-radius:3px;'
                  'background-color:{c}"></span> <code>{c}</code>').format(c=color)


def _scope_label(model) -> str:
    return _("Minha etiqueta") if model.owner_id is not None else _("Etiqueta da empresa")


class TagView(VisibleRowsMixin, TenantModelView):
    """Company tags and the logged-in user's own tags; other users' personal tags are
    out of every query (list, count, export, edit, delete, bulk actions)."""

    area = "tags"
    column_list = ["name", "color", "owner", "created_at"]
    column_searchable_list = ["name"]
    column_sortable_list = ["name", "color", "created_at"]
    column_default_sort = "name"
    column_labels = {
        "name": _l("Nome"), "color": _l("Cor"), "owner": _l("Tipo"),
        "personal": _l("Minha etiqueta"), "created_at": _l("Criada em"),
    }
    column_formatters = {
        "name": lambda v, c, m, p: tag_badge(m),
        "color": _swatch,
        "owner": lambda v, c, m, p: _scope_label(m),
    }
    column_formatters_export = {
        "name": lambda v, c, m, p: m.name,
        "color": lambda v, c, m, p: m.color,
        "owner": lambda v, c, m, p: _scope_label(m),
    }
    column_filters = [TagScopeFilter(_l("Tipo"))]
    form_columns = ["name", "color", "personal"]
    form_overrides = {"color": ColorField}
    form_args = {
        "color": {
            "default": catalog.DEFAULT_COLOR,
            "render_kw": {"style": "max-width: 6em"},
            "validators": [InputRequired(message=catalog.COLOR_MESSAGE), Length(max=7),
                           Regexp(catalog.COLOR_RE, message=catalog.COLOR_MESSAGE)],
        },
    }
    form_extra_fields = {
        "personal": PersonalField(
            _l("Minha etiqueta"),
            description=_l("Marcada: só você vê a etiqueta. Desmarcada: etiqueta da empresa, "
                           "visível para todos os usuários."),
        ),
    }

    def _visible(self, query):
        return catalog.visible_tags(query, current_user.id)

    def validate_change(self, form, model, is_created):
        model.owner_id = current_user.id if form.personal.data else None
        model.color = catalog.normalise_color(model.color)
        model.name = catalog.check_tag_name(current_company_id(), model.owner_id, model.name,
                                            exclude_id=None if is_created else model.id)


# --- Motivos de atendimento ----------------------------------------------------------------


class ReasonDepartmentFilter(TenantOptionsFilter):
    """RSN-1: reasons linked to one department; the options are the current company's
    departments, read on every request."""

    def __init__(self, name):
        super().__init__(Reason.id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(
            select(Department.id, Department.name).where(Department.company_id == company_id)
            .order_by(Department.order, Department.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(Reason.departments.any(and_(
            Department.id == value, Department.company_id == current_company_id())))


def _department_names(view, context, model, name):
    return ", ".join(d.name for d in model.departments)


class ReasonView(PerRequestFilterOptions, TenantModelView):
    """RSN-1: name, description, departments, active; searchable, filterable by department
    (a filter whose options are read per request: Flask-Admin computes filter option lists
    once, across tenants)."""

    area = "reasons"
    column_list = ["name", "description", "departments", "active"]
    column_searchable_list = ["name", "description"]
    column_filters = ["active", ReasonDepartmentFilter(_l("Departamento"))]
    column_sortable_list = ["name", "active"]
    column_default_sort = "name"
    column_labels = {"name": _l("Nome"), "description": _l("Descrição"), "active": _l("Ativo"),
                     "departments": _l("Departamentos"), "created_at": _l("Criado em")}
    column_descriptions = {
        "departments": _l("Departamentos em que o motivo é oferecido ao encerrar um atendimento."),
    }
    column_formatters = {"departments": _department_names}
    column_formatters_export = {"departments": _department_names}
    form_columns = ["name", "description", "departments", "active"]
    form_args = {"active": {"default": True}}

    def validate_change(self, form, model, is_created):
        model.name = catalog.check_reason_name(current_company_id(), model.name,
                                               exclude_id=None if is_created else model.id)
        model.description = (model.description or "").strip() or None
