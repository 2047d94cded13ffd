"""Controle de pausa (PAU-1, PAU-2): edited, never deleted (Inativo instead)."""
from __future__ import annotations

from flask_admin.model.form import InlineFormAdmin
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func

from ..extensions import db
from ..models import Pause, PauseWindow
from ..services import RuleError, pauses
from ..tenancy import current_company_id
from .base import TenantModelView
from .schedule import WEEKDAY_SHORT, ScheduleInline, _fmt_time


class PauseWindowInline(InlineFormAdmin):
    """Availability windows: same fields and checks as a period's schedules."""

    form_columns = ["id", "weekdays", "start_time", "end_time"]
    form_label = _l("Horário de disponibilidade")
    form_extra_fields = ScheduleInline.form_extra_fields


def describe_window(window: PauseWindow) -> str:
    days = ", ".join(str(WEEKDAY_SHORT[d]) for d in window.weekdays or () if 0 <= d <= 6)
    return f"{days} {_fmt_time(window.start_time)}–{_fmt_time(window.end_time)}"


class PauseView(TenantModelView):
    area = "pauses"
    column_list = ["name", "departments", "windows", "active"]
    column_searchable_list = ["name"]
    column_filters = ["active"]
    column_sortable_list = ["name", "active"]
    column_default_sort = "name"
    column_labels = {"name": _l("Nome"), "active": _l("Ativa"), "departments": _l("Departamentos"),
                     "windows": _l("Disponibilidade")}
    column_descriptions = {
        "active": _l("Pausas não podem ser excluídas: desmarque para inativar."),
    }
    column_formatters = {
        "windows": lambda v, c, m, p: Markup("<br>").join(escape(describe_window(w)) for w in m.windows),
        "departments": lambda v, c, m, p: ", ".join(d.name for d in m.departments),
    }
    column_formatters_export = {
        "windows": lambda v, c, m, p: "; ".join(describe_window(w) for w in m.windows),
    }
    form_columns = ["name", "active", "departments"]
    form_args = {
        "name": {"description": _l("Por exemplo: Almoço, Café, Treinamento.")},
        "departments": {"description": _l("Só atendentes destes departamentos veem a pausa.")},
    }
    inline_models = [PauseWindowInline(PauseWindow)]

    @property
    def can_delete(self):
        return False  # PAU-2: never deleted, only made inactive

    def validate_change(self, form, model, is_created):
        model.name = (model.name or "").strip()
        same_name = Pause.owned(current_company_id(), func.count(Pause.id)).where(
            func.lower(Pause.name) == model.name.lower())
        if not is_created:
            same_name = same_name.where(Pause.id != model.id)
        if db.session.scalar(same_name):
            raise RuleError(_l("Já existe uma pausa com este nome."))
        if not model.departments:
            raise RuleError(_l("Escolha ao menos um departamento."))
        pauses.check_windows([w for w in model.windows if w not in db.session.deleted])

    def validate_delete(self, model):
        # Reached only if the delete route is called despite can_delete (defence in depth).
        raise RuleError(_l("Pausas não podem ser excluídas; marque a pausa como inativa."))
