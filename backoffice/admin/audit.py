"""Auditoria (PLT-7): read-only log of configuration changes of the company."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from .base import ReadOnlyMixin, TenantModelView, local_datetime

ACTIONS = {"create": _l("Criação"), "update": _l("Alteração"), "delete": _l("Exclusão")}


def _changes(view, context, model, name):
    rows = "".join(
        f"<tr><td>{escape(field)}</td><td>{escape('' if b is None else b)}</td>"
        f"<td>{escape('' if a is None else a)}</td></tr>"
        for field, (b, a) in (model.changes or {}).items()
    )
    field, before, after = (escape(_("Campo")), escape(_("Antes")), escape(_("Depois")))
    return Markup(
        f'<table class="table table-sm"><thead><tr><th>{field}</th><th>{before}</th><th>{after}</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


class AuditLogView(ReadOnlyMixin, TenantModelView):
    area = "audit"
    audited = False
    can_view_details = True
    column_list = ["at", "user_name", "action", "table", "row_label"]
    column_details_list = ["at", "user_name", "action", "table", "row_id", "row_label", "changes"]
    column_default_sort = ("at", True)
    column_searchable_list = ["row_label", "user_name"]
    column_filters = ["action", "table", "user_name", "at"]
    column_labels = {
        "at": _l("Quando"), "user_name": _l("Usuário"), "action": _l("Ação"),
        "table": _l("Tabela"), "row_id": _l("Registro"), "row_label": _l("Descrição"),
        "changes": _l("Alterações"),
    }
    column_formatters = {"action": lambda v, c, m, p: ACTIONS.get(m.action, m.action),
                         "at": lambda v, c, m, p: local_datetime(m.at)}
    column_formatters_detail = {"changes": _changes,
                                "action": lambda v, c, m, p: ACTIONS.get(m.action, m.action),
                                "at": lambda v, c, m, p: local_datetime(m.at)}


