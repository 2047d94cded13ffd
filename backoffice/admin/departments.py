"""Departamentos (DEP-1..DEP-8).

The create form holds the main tab only (name, description, status, order); the other
tabs (Parâmetros, Membros, Inatividade, Mensagens de ação, Telefonia) open on the edit
form once the department exists (DEP-3), as in the manual. They are real tabs (UX-5),
drawn by the form rules `Tabs` and `Tab` below, with the save button in a bar that stays
in sight.
"""
from __future__ import annotations

from flask import flash, g
from flask_admin.contrib.sqla.filters import BooleanEqualFilter
from flask_admin.form import rules
from flask_admin.helpers import get_redirect_target
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import inspect
from wtforms import IntegerField, SelectField
from wtforms.validators import Optional, ValidationError

from ..automation import timers
from ..extensions import db
from ..models import Department, DepartmentMember
from ..models.automation import SURVEY_CSAT, SURVEY_SCALES
from ..services import RuleError
from ..services import departments as rules_svc
from ..services import messages
from ..tenancy import current_company_id
from .base import TenantModelView

MESSAGE_FIELDS = (
    "out_of_hours_message", "survey_timeout_message", "close_queue_message",
    "close_in_progress_message",
    "on_start_text", "on_transfer_text", "on_close_text",
)
MINUTE_FIELDS = (
    "survey_max_inactivity_minutes", "close_queue_after_minutes",
    "close_in_progress_after_minutes",
)
MAX_MESSAGE = 1000
ALERT_MAX_MINUTES = 1440  # PAU-4: a wait alert beyond a day would never show
MAX_FLOW = 4000

# Validators build their message when they run (a plain str in the request's language).


def _known_variables(form, field):
    unknown = messages.validate_template(field.data)
    if unknown:
        raise ValidationError(messages.unknown_variables_message(unknown))


def _message_length(form, field):
    if field.data and len(field.data) > MAX_MESSAGE:
        raise ValidationError(_("A mensagem deve ter no máximo %(max)d caracteres.", max=MAX_MESSAGE))


def _flow_length(form, field):
    if field.data and len(field.data) > MAX_FLOW:
        raise ValidationError(_("O texto deve ter no máximo %(max)d caracteres.", max=MAX_FLOW))


def _minutes(form, field):
    if field.data is not None and not 1 <= field.data <= rules_svc.MAX_MINUTES:
        raise ValidationError(_("Informe um número inteiro de minutos entre 1 e %(max)d.",
                                max=rules_svc.MAX_MINUTES))


def _alert_minutes(form, field):
    if field.data is not None and not 1 <= field.data <= ALERT_MAX_MINUTES:
        raise ValidationError(_("Informe um número inteiro de minutos entre 1 e %(max)d.",
                                max=ALERT_MAX_MINUTES))


def _order(form, field):
    if field.data is not None and not 0 <= field.data <= rules_svc.MAX_ORDER:
        raise ValidationError(_("Informe uma ordem entre 0 e %(max)d.", max=rules_svc.MAX_ORDER))


_STATUS = {"1": True, "0": False, "True": True, "False": False, "y": True}


def _status(value):
    if isinstance(value, bool):
        return value
    if value in _STATUS:
        return _STATUS[value]
    raise ValueError(value)


class StatusField(SelectField):
    """ATIVO / INATIVO, as in the manual, stored in the boolean `active`."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=_status,
                         choices=[(True, _l("ATIVO")), (False, _l("INATIVO"))], **kwargs)

    def pre_validate(self, form):
        if self.data not in (True, False):
            raise ValidationError(_("Escolha ATIVO ou INATIVO."))

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None


class ScaleField(SelectField):
    """AUT-3: the survey's scale (SURVEY_SCALES); a form without it keeps CSAT."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=list(SURVEY_SCALES.items()),
                         default=SURVEY_CSAT, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if not self.data:
            self.data = SURVEY_CSAT


class VariablesHelp(rules.BaseRule):
    """DEP-8: the variables a message may use, with what each becomes (per request, so
    in the user's language). UX-5: once per form, folded, above the tabs."""

    def __call__(self, form, form_opts=None, field_args=None):
        items = Markup("").join(
            Markup("<li><code>{{{{{name}}}}}</code> — {label}</li>").format(name=name, label=label)
            for name, label in messages.VARIABLES.items())
        return Markup('<details class="atende-variables alert alert-secondary" '
                      'data-testid="variables-help"><summary>{title}</summary>'
                      '<ul class="mb-0 mt-2">{items}</ul></details>').format(
            title=_("Variáveis disponíveis nas mensagens:"), items=items)


class SubTitle(rules.BaseRule):
    """A title inside a tab (translated per request)."""

    def __init__(self, text):
        super().__init__()
        self.text = text

    def __call__(self, form, form_opts=None, field_args=None):
        # a section of the form under the screen's <h1> (UX-2: no heading level skipped)
        return Markup('<h2 class="h5 mt-4 mb-2">{}</h2>').format(str(self.text))


def _has_errors(errors) -> bool:
    """A field's errors, a list of messages or, for inline rows, of dicts of lists."""
    if isinstance(errors, dict):
        return any(_has_errors(value) for value in errors.values())
    if isinstance(errors, (list, tuple)):
        return any(isinstance(e, str) or _has_errors(e) for e in errors)
    return bool(errors)


class Tab(rules.NestedRule):
    """One pane of `Tabs`: a key (the pane's id) and a title over some fields."""

    def __init__(self, key: str, title, children):
        super().__init__(list(children))
        self.key = key
        self.title = title


class Tabs(rules.NestedRule):
    """UX-5: Bootstrap tabs over the form's groups of fields. The first tab holding a field
    with an error opens (the others are marked), so a refused save shows what to fix;
    `locked` titles are tabs that open once the record is saved (DEP-3). Other rules
    (the variables help) are drawn once, above the panes."""

    def __init__(self, children, locked=()):
        super().__init__(list(children))
        self.locked = tuple(locked)

    def __call__(self, form, form_opts=None, field_args=None):
        tabs = [rule for rule in self.rules if isinstance(rule, Tab)]
        shared = [rule for rule in self.rules if not isinstance(rule, Tab)]
        failing = {tab.key for tab in tabs if any(
            name in form and _has_errors(form[name].errors) for name in tab.visible_fields)}
        active = next((tab.key for tab in tabs if tab.key in failing), tabs[0].key)
        nav = Markup("").join(
            Markup('<li class="nav-item" role="presentation">'
                   '<a class="nav-link{active}{error}" id="tab-{key}-link" '
                   'data-toggle="tab" href="#tab-{key}" role="tab" aria-controls="tab-{key}" '
                   'aria-selected="{selected}">{title}</a></li>').format(
                key=tab.key, title=str(tab.title), selected="true" if tab.key == active else "false",
                active=" active" if tab.key == active else "",
                error=" has-error" if tab.key in failing else "")
            for tab in tabs)
        nav += Markup("").join(
            Markup('<li class="nav-item" role="presentation">'
                   '<span class="nav-link disabled" aria-disabled="true" role="tab" '
                   'title="{hint}">{title}</span></li>').format(
                title=str(title), hint=_("Salve a aba Principal para liberar esta aba."))
            for title in self.locked)
        panes = Markup("").join(
            Markup('<div class="tab-pane{active}" id="tab-{key}" role="tabpanel" '
                   'aria-labelledby="tab-{key}-link">{body}</div>').format(
                key=tab.key, active=" active" if tab.key == active else "",
                body=tab(form, form_opts, field_args))
            for tab in tabs)
        top = Markup("").join(rule(form, form_opts, field_args) for rule in shared)
        return Markup('<ul class="nav nav-tabs atende-form-tabs" role="tablist" '
                      'data-testid="form-tabs">{nav}</ul><div class="tab-content '
                      'atende-tab-content">{top}{panes}</div>').format(
            nav=nav, top=top, panes=panes)


def _status_label(view, context, model, name):
    return _("ATIVO") if model.active else _("INATIVO")


def _overflow_label(view, context, model, name):
    if not model.overflow_enabled:
        return ""
    return str(model.overflow_department or "")


class MemberInline(InlineFormAdmin):
    """DEP-4: the department's users, each receiving its tickets or not, responsible or not."""

    form_columns = ["id", "user", "receives_tickets", "responsible"]
    form_label = _l("Membro")
    form_args = {
        "user": {"label": _l("Usuário")},
        "receives_tickets": {"label": _l("Recebe atendimento neste departamento"),
                             "default": True},
        "responsible": {"label": _l("Responsável pelo departamento"),
                        "description": _l("O responsável vê a página inicial de gestor.")},
    }


MAIN = ("name", "description", "active", "order")
PARAMETERS = (
    "notify_on_ticket", "reason_required_to_close", "receives_tickets",
    "observation_required_on_transfer", "direct_to_wallet_agent", "survey_enabled",
    "survey_scale", "survey_flow", "survey_timeout_message", "survey_max_inactivity_minutes",
    "wait_alert_minutes",
)
INACTIVITY = ("close_queue_after_minutes", "close_queue_message",
              "close_in_progress_after_minutes", "close_in_progress_message")
ACTIONS = ("on_start_enabled", "on_start_text", "on_transfer_enabled", "on_transfer_text",
           "on_close_enabled", "on_close_text")
TELEPHONY = ("overflow_enabled", "overflow_department")
# AUT-1, AUT-2: opening hours, the out-of-hours answer and the chatbot flow of the queue
AUTOMATION = ("period", "out_of_hours_message", "flow")


# what the automation timers read from a department (inactivity, opening hours)
TIMED_FIELDS = ("close_queue_after_minutes", "close_in_progress_after_minutes", "period")


class DepartmentView(TenantModelView):
    area = "departments"
    column_list = ["order", "name", "description", "active", "overflow_department"]
    column_searchable_list = ["name"]
    column_sortable_list = ["order", "name", "active"]
    column_default_sort = [("order", False), ("name", False)]
    column_filters = [BooleanEqualFilter(Department.active, _l("Status"),
                                         options=(("1", _l("ATIVO")), ("0", _l("INATIVO"))))]
    column_formatters = {"active": _status_label, "overflow_department": _overflow_label}
    column_formatters_export = column_formatters
    column_details_list = list(MAIN + PARAMETERS + AUTOMATION + INACTIVITY + ACTIONS + TELEPHONY)
    column_labels = {
        "name": _l("Nome"), "description": _l("Descrição"), "active": _l("Status"),
        "order": _l("Ordem"), "members": _l("Membros"),
        "notify_on_ticket": _l("Notificação ao receber atendimentos"),
        "reason_required_to_close": _l("Obrigatório o motivo do atendimento"),
        "receives_tickets": _l("Recebe atendimento"),
        "observation_required_on_transfer": _l("Obrigatório cadastrar observação ao transferir "
                                               "atendimento"),
        "direct_to_wallet_agent": _l("Transferência direta para clientes atribuídos"),
        "survey_enabled": _l("Pesquisa de satisfação"),
        "survey_scale": _l("Escala da pesquisa"),
        "survey_flow": _l("Fluxo de comunicação da pesquisa de satisfação"),
        "period": _l("Período de atendimento"),
        "out_of_hours_message": _l("Mensagem fora do horário"),
        "flow": _l("Fluxo de chatbot"),
        "survey_timeout_message": _l("Mensagem de encerramento devido a inatividade"),
        "survey_max_inactivity_minutes": _l("Tempo máximo de inatividade na pesquisa de "
                                            "satisfação (em minutos)"),
        "close_queue_after_minutes": _l("Encerrar atendimentos na fila após (minutos)"),
        "close_queue_message": _l("Mensagem ao encerrar atendimentos na fila"),
        "close_in_progress_after_minutes": _l("Encerrar atendimentos em andamento após "
                                              "(minutos)"),
        "close_in_progress_message": _l("Mensagem ao encerrar atendimentos em andamento"),
        "on_start_enabled": _l("Mensagem ao iniciar o atendimento"),
        "on_start_text": _l("Texto ao iniciar o atendimento"),
        "on_transfer_enabled": _l("Mensagem ao transferir o atendimento"),
        "on_transfer_text": _l("Texto ao transferir o atendimento"),
        "on_close_enabled": _l("Mensagem ao encerrar o atendimento"),
        "on_close_text": _l("Texto ao encerrar o atendimento"),
        "overflow_enabled": _l("Transbordo"),
        "overflow_department": _l("Departamento para roteamento de chamadas"),
        "wait_alert_minutes": _l("Alerta de espera (minutos)"),
    }
    column_descriptions = {
        "description": _l("Por exemplo: responsável pelo financeiro, contas a receber."),
        "order": _l("Opcional: posição na lista ao abrir um atendimento. Vazio: o sistema "
                    "preenche com a próxima ordem."),
        "notify_on_ticket": _l("Notifica o departamento quando um atendimento é transferido "
                               "para ele."),
        "reason_required_to_close": _l("O atendente precisa informar o motivo antes de "
                                       "encerrar."),
        "receives_tickets": _l("Desmarcado: o departamento não aparece nas transferências "
                               "internas."),
        "observation_required_on_transfer": _l("O atendente precisa escrever uma observação "
                                               "ao transferir."),
        "direct_to_wallet_agent": _l("Direciona o atendimento ao atendente atribuído ao "
                                     "cliente (carteira)."),
        "survey_flow": _l("As mensagens e perguntas da pesquisa, enviadas ao encerrar o "
                          "atendimento."),
        "survey_max_inactivity_minutes": _l("Depois desse tempo sem resposta, o atendimento é "
                                            "encerrado automaticamente."),
        "survey_scale": _l("Nota de 1 a 5 (satisfação) ou de 0 a 10 (NPS)."),
        "period": _l("Fora deste período, ou num feriado, o cliente recebe a mensagem fora do "
                     "horário e o atendimento aguarda na fila. Vazio: usa o período da conexão; "
                     "sem nenhum, sempre aberto."),
        "out_of_hours_message": _l("Vazio: a mensagem da conexão, ou a mensagem padrão do "
                                   "sistema."),
        "flow": _l("O chatbot que atende quando o atendimento chega à fila deste "
                   "departamento."),
        "close_queue_after_minutes": _l("Vazio: não encerra automaticamente."),
        "close_in_progress_after_minutes": _l("Vazio: não encerra automaticamente."),
        "on_start_text": _l("Vazio com a opção marcada: é enviada a mensagem padrão do sistema."),
        "on_transfer_text": _l("Vazio com a opção marcada: é enviada a mensagem padrão do "
                               "sistema."),
        "on_close_text": _l("Vazio com a opção marcada: é enviada a mensagem padrão do sistema."),
        "overflow_department": _l("Obrigatório com o transbordo ativo; recebe as ligações do "
                                  "transbordo."),
        "wait_alert_minutes": _l("O painel dos gestores destaca o atendimento que espera na "
                                 "fila há mais tempo que isto. Vazio: a meta de primeira "
                                 "resposta da empresa (Parâmetros)."),
    }
    form_columns = list(MAIN + PARAMETERS + AUTOMATION + INACTIVITY + ACTIONS + TELEPHONY) + [
        "members"]
    form_extra_fields = {
        "active": StatusField(_l("Status"), default=True),
        "survey_scale": ScaleField(_l("Escala da pesquisa")),
        "order": IntegerField(_l("Ordem"), validators=[Optional(), _order]),
    }
    form_args = {
        **{name: {"validators": [_message_length, _known_variables]} for name in MESSAGE_FIELDS},
        **{name: {"validators": [_minutes]} for name in MINUTE_FIELDS},
        "survey_flow": {"validators": [_flow_length, _known_variables]},
        "wait_alert_minutes": {"validators": [_alert_minutes]},
    }
    inline_models = [MemberInline(DepartmentMember)]

    create_template = "admin/department_create.html"
    edit_template = "admin/department_edit.html"
    # the manual's tabs; opening hours and the chatbot sit with the parameters
    form_create_rules = [Tabs([Tab("principal", _l("Principal"), MAIN)], locked=(
        _l("Parâmetros"), _l("Membros"), _l("Inatividade"), _l("Mensagens de ação"),
        _l("Telefonia")))]
    form_edit_rules = [Tabs([
        VariablesHelp(),
        Tab("principal", _l("Principal"), MAIN),
        Tab("parametros", _l("Parâmetros"),
            (*PARAMETERS, SubTitle(_l("Horário e chatbot")), *AUTOMATION)),
        Tab("membros", _l("Membros"), ("members",)),
        Tab("inatividade", _l("Inatividade"), INACTIVITY),
        Tab("mensagens", _l("Mensagens de ação"), ACTIONS),
        Tab("telefonia", _l("Telefonia"), TELEPHONY),
    ])]

    def _show_missing_fields_warning(self, text):
        """The create form leaves the other tabs out on purpose (DEP-3)."""

    def validate_change(self, form, model, is_created):
        company_id = current_company_id()
        model.name = rules_svc.check_name(company_id, model.name,
                                          exclude_id=None if is_created else model.id)
        model.description = (model.description or "").strip() or None
        if model.order is None:
            model.order = rules_svc.next_order(company_id)
        if is_created:
            return  # the other tabs are not on the create form (DEP-3)
        if model.company_id is None:
            model.company_id = company_id
        for name in MESSAGE_FIELDS + ("survey_flow",):
            value = (getattr(model, name) or "").strip() or None
            setattr(model, name, value)
            unknown = messages.validate_template(value)
            if unknown:
                raise RuleError(messages.unknown_variables_message(unknown))
        for name in MINUTE_FIELDS:
            value = getattr(model, name)
            if value is not None and not 1 <= value <= rules_svc.MAX_MINUTES:
                raise RuleError(_l("Informe um número inteiro de minutos entre 1 e %(max)d.",
                                   max=rules_svc.MAX_MINUTES))
        alert = model.wait_alert_minutes
        if alert is not None and not 1 <= alert <= ALERT_MAX_MINUTES:
            raise RuleError(_l("Informe um número inteiro de minutos entre 1 e %(max)d.",
                               max=ALERT_MAX_MINUTES))
        if model.survey_enabled and not model.survey_flow:
            raise RuleError(_l("Com a pesquisa de satisfação ativa, informe o fluxo da "
                               "pesquisa."))
        if model.survey_scale not in SURVEY_SCALES:
            model.survey_scale = SURVEY_CSAT
        for name in ("period", "flow"):  # the form's fields are scoped; the row is checked too
            chosen = getattr(model, name)
            if chosen is not None and chosen.company_id != company_id:
                raise RuleError(_l("Escolha inválida: o registro não existe ou não pertence "
                                   "à sua empresa."))
        state = inspect(model)
        g.department_timers_changed = any(
            state.attrs[name].history.has_changes() for name in TIMED_FIELDS)
        rules_svc.check_overflow(model)
        kept = [m for m in model.members if m not in db.session.deleted]
        rules_svc.check_members(model, kept)
        for member in kept:
            member.company_id = model.company_id

    def validate_delete(self, model):
        sources = rules_svc.overflow_sources(model)
        if sources:
            raise RuleError(_l("Este departamento recebe o transbordo de %(names)s; altere a "
                               "telefonia deles antes de excluí-lo.", names=", ".join(sources)))

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        if g.pop("department_timers_changed", False):
            # the open tickets take the new minutes or hours now, not at their next message
            timers.reschedule_open_soon(model.company_id, model.id)
        if is_created:
            flash(_("Departamento salvo. As abas Parâmetros, Membros, Inatividade, Mensagens "
                    "de ação e Telefonia já estão disponíveis."), "info")

    def get_save_return_url(self, model, is_created=False):
        """DEP-3: after the main tab is saved, the edit form with the other tabs."""
        if is_created:
            return self.get_url(".edit_view", id=model.id,
                                url=get_redirect_target() or self.get_url(".index_view"))
        return super().get_save_return_url(model, is_created)
