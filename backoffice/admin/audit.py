"""Auditoria (PLT-7): read-only log of configuration changes of the company, in people's
words (UX-4): the screen's name instead of the table's, the field labels the screen
shows, values as the screens show them, "antes → depois"."""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..models import AuditLog
from ..services import audit
from .base import ReadOnlyMixin, TenantModelView, local_datetime

ACTIONS = {"create": _l("Criação"), "update": _l("Alteração"), "delete": _l("Exclusão")}


class _Screens:
    """The filter's choice of screens, read when the list is drawn: Flask-Admin reads a
    filter's options once, when the view is built, before every screen has registered."""

    def __bool__(self):
        return True

    def __iter__(self):
        return iter(audit.screens())


def _changes(view, context, model, name):
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td>{escape(before)}</td><td>{escape(after)}</td></tr>"
        for label, before, after in audit.describe(model, get_timezone()))
    if not rows:
        return ""
    head = "".join(f"<th>{escape(t)}</th>" for t in (_("Campo"), _("Antes"), _("Depois")))
    return Markup(f'<table class="table table-sm"><thead><tr>{head}</tr></thead>'
                  f"<tbody>{rows}</tbody></table>")


def _screen(view, context, model, name):
    return audit.screen_name(model.table, model.company_id is None)


def _action(view, context, model, name):
    return ACTIONS.get(model.action, model.action)


def _at(view, context, model, name):
    return local_datetime(model.at)


class AuditLogView(ReadOnlyMixin, TenantModelView):
    area = "audit"
    audited = False
    can_view_details = True
    column_list = ["at", "user_name", "action", "table", "row_label"]
    column_details_list = ["at", "user_name", "action", "table", "row_label", "changes"]
    column_export_list = ["at", "user_name", "action", "table", "row_label", "changes"]
    column_default_sort = ("at", True)
    column_searchable_list = ["row_label", "user_name"]
    column_filters = [FilterEqual(AuditLog.action, _l("Ação"), options=list(ACTIONS.items())),
                      FilterEqual(AuditLog.table, _l("Tela"), options=_Screens()),
                      "user_name", "at"]
    column_labels = {
        "at": _l("Quando"), "user_name": _l("Usuário"), "action": _l("Ação"),
        "table": _l("Tela"), "row_id": _l("Registro"), "row_label": _l("Descrição"),
        "changes": _l("Alterações"),
    }
    column_formatters = {"action": _action, "at": _at, "table": _screen}
    column_formatters_detail = {"changes": _changes, "action": _action, "at": _at,
                                "table": _screen}
    column_formatters_export = {
        "action": _action, "at": _at, "table": _screen,
        "changes": lambda v, c, m, p: audit.summary(m, get_timezone()),
    }
