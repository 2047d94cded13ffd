"""Períodos de atendimento (PER-1, PER-2) and Feriados (HOL-1)."""
from __future__ import annotations

from flask_admin.model.form import InlineFormAdmin
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func
from wtforms import DateField, TimeField
from wtforms.validators import StopValidation, ValidationError

from ..extensions import db
from ..models import Period, PeriodSchedule
from ..services import RuleError
from ..tenancy import current_company_id
from .base import TenantModelView
from .widgets import CheckboxList

WEEKDAYS = [
    (0, _l("Segunda-feira")), (1, _l("Terça-feira")), (2, _l("Quarta-feira")),
    (3, _l("Quinta-feira")), (4, _l("Sexta-feira")), (5, _l("Sábado")), (6, _l("Domingo")),
]
WEEKDAY_SHORT = [_l("Seg"), _l("Ter"), _l("Qua"), _l("Qui"), _l("Sex"), _l("Sáb"), _l("Dom")]
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]

# Validators build their message when they run (a plain str in the request's language):
# Flask-Admin's templates print only `str` errors, and inline sub-forms are not touched by
# SecureModelView.validate_form's conversion of lazy messages.


def _at_least_one_day(form, field):
    if not field.data:
        raise ValidationError(_("Marque ao menos um dia da semana."))


def _end_differs_from_start(form, field):
    start = form.start_time.data if "start_time" in form else None
    if start is not None and field.data is not None and field.data == start:
        raise ValidationError(_("O fim deve ser diferente do início."))


def _required(form, field):
    """A Portuguese "required" for the extra fields (the converter adds none to them)."""
    if field.data is None and not any(v.strip() for v in field.raw_data or () if isinstance(v, str)):
        raise StopValidation(_("Campo obrigatório."))


def _fmt_time(value) -> str:
    return value.strftime("%H:%M") if value else ""


def describe_schedule(schedule: PeriodSchedule) -> str:
    """"Comercial: Seg, Ter 08:00–18:00", with "(até o dia seguinte)" when overnight."""
    days = ", ".join(str(WEEKDAY_SHORT[d]) for d in sorted({int(d) for d in schedule.weekdays or ()})
                     if 0 <= d <= 6)
    text = f"{schedule.name}: {days} {_fmt_time(schedule.start_time)}–{_fmt_time(schedule.end_time)}"
    if schedule.start_time and schedule.end_time and schedule.end_time < schedule.start_time:
        text += " " + _("(até o dia seguinte)")
    return text


def _schedules_html(view, context, model, name):
    return Markup("<br>").join(escape(describe_schedule(s)) for s in model.schedules)


def _schedules_text(view, context, model, name):
    return "; ".join(describe_schedule(s) for s in model.schedules)


class ScheduleInline(InlineFormAdmin):
    """The period's schedules, edited on the period's own form ("Horários")."""

    form_columns = ["id", "name", "weekdays", "start_time", "end_time"]
    form_label = _l("Horário")
    form_args = {
        "name": {"label": _l("Nome do horário"),
                 "description": _l("Por exemplo: Comercial, Plantão noturno.")},
    }
    form_extra_fields = {
        "weekdays": CheckboxList(
            _l("Dias da semana"), choices=WEEKDAYS, coerce=int, validators=[_at_least_one_day],
            description=_l("Dias em que o horário é válido."),
        ),
        "start_time": TimeField(_l("Hora de início"), format=TIME_FORMATS, validators=[_required]),
        "end_time": TimeField(
            _l("Hora de fim"), format=TIME_FORMATS, validators=[_required, _end_differs_from_start],
            description=_l("Se o fim for antes do início, o horário atravessa a meia-noite: "
                           "22:00 às 06:00 começa no dia marcado e termina às 06:00 do dia seguinte."),
        ),
    }


class PeriodView(TenantModelView):
    """Períodos de atendimento: name, description, status and one or more schedules."""

    area = "periods"
    column_list = ["name", "description", "schedules", "active"]
    column_searchable_list = ["name", "description"]
    column_filters = ["active", "name"]
    column_sortable_list = ["name", "active"]
    column_default_sort = "name"
    column_labels = {
        "name": _l("Nome"), "description": _l("Descrição"), "active": _l("Ativo"),
        "schedules": _l("Horários"),
    }
    column_descriptions = {
        "active": _l("Um período inativo é tratado como fora do horário de atendimento."),
    }
    column_formatters = {"schedules": _schedules_html}
    column_formatters_export = {"schedules": _schedules_text}
    column_details_list = ["name", "description", "active", "schedules"]
    form_columns = ["name", "description", "active"]
    form_args = {
        "name": {"description": _l("Por exemplo: Horário comercial.")},
    }
    inline_models = [ScheduleInline(PeriodSchedule)]

    def validate_change(self, form, model, is_created):
        model.name = (model.name or "").strip()
        same_name = Period.owned(current_company_id(), func.count(Period.id)).where(
            Period.name == model.name)
        if not is_created:
            same_name = same_name.where(Period.id != model.id)
        if db.session.scalar(same_name):
            raise RuleError(_l("Já existe um período com este nome."))
        kept = [s for s in model.schedules if s not in db.session.deleted]
        if not kept:
            raise RuleError(_l("Cadastre ao menos um horário para o período."))
        for schedule in kept:
            schedule.name = (schedule.name or "").strip()
            if not schedule.weekdays:
                raise RuleError(_l("Marque ao menos um dia da semana."))
            if any(not isinstance(d, int) or not 0 <= d <= 6 for d in schedule.weekdays):
                raise RuleError(_l("Dia da semana inválido."))
            schedule.weekdays = sorted(set(schedule.weekdays))
            if schedule.start_time == schedule.end_time:
                raise RuleError(_l("O fim deve ser diferente do início."))


def _holiday_date(view, context, model, name):
    return format_date(model.date, "short") if model.date else ""


class HolidayView(TenantModelView):
    """Feriados: days on which every period of the company is closed."""

    area = "holidays"
    column_list = ["name", "date", "every_year"]
    column_searchable_list = ["name"]
    column_filters = ["every_year", "date", "name"]
    column_sortable_list = ["name", "date", "every_year"]
    column_default_sort = ("date", False)
    column_labels = {"name": _l("Nome"), "date": _l("Data"), "every_year": _l("Repete todo ano")}
    column_formatters = {"date": _holiday_date}
    column_formatters_export = {}
    form_columns = ["name", "date", "every_year"]
    form_args = {
        "name": {"description": _l("Por exemplo: Natal.")},
        "every_year": {"description": _l("Marque para fechar no mesmo dia e mês todos os anos.")},
    }
    form_overrides = {"date": DateField}

    def validate_change(self, form, model, is_created):
        model.name = (model.name or "").strip()
        if not model.name:
            raise RuleError(_l("Informe o nome do feriado."))
        if model.date is None:
            raise RuleError(_l("Informe a data do feriado."))
