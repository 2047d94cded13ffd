"""Agendamentos (AUT-5): messages for a contact at a date and time.

Date and time are typed and shown on the company's wall clock (Company.timezone), never in
UTC; the rules (past time, the contact's address on the connection, variables, templates)
live in automation.scheduled, shared with the inbox composer's "Agendar". A schedule is
edited only while it waits; sent ones are kept (cancel instead of deleting what waits).
"""
from __future__ import annotations

from flask import flash, redirect, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import DateField, SelectField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Optional

from ..automation import scheduled as rules
from ..extensions import db
from ..models import Connection, MessageTemplate
from ..models.automation import (
    REPEATS,
    SCHEDULE_SENDING,
    SCHEDULE_SENT,
    SCHEDULE_STATUSES,
    SCHEDULED,
    ScheduledMessage,
)
from ..models.channels import KIND_WHATSAPP, ProviderTemplate
from ..services import RuleError, audit
from ..tenancy import current_company_id
from .base import MessageFieldsMixin, TenantModelView

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
STATUS_CHOICES = [(k, v) for k, v in SCHEDULE_STATUSES.items()]
BADGES = {"scheduled": "info", "sending": "warning", "sent": "success", "failed": "danger",
          "cancelled": "secondary"}


def _status(view, context, model, name):
    label = SCHEDULE_STATUSES.get(model.status, model.status)
    return Markup('<span class="badge badge-{}">{}</span>').format(
        BADGES.get(model.status, "secondary"), label)


def _message(view, context, model, name):
    return rules.summary(model)


def _template_choices(company_id: int) -> list[tuple[str, str]]:
    """"t:<id>" a text/attachment template, "p:<id>" an approved WhatsApp template."""
    choices = [("", _("Nenhum (usar o texto)"))]
    for t in db.session.scalars(MessageTemplate.owned(company_id).where(
            MessageTemplate.active.is_(True)).order_by(MessageTemplate.shortcut)):
        choices.append((f"t:{t.id}", f"{t.shortcut} — {t.title}"))
    for t, conn in db.session.execute(
            select(ProviderTemplate, Connection)
            .join(Connection, Connection.id == ProviderTemplate.connection_id)
            .where(ProviderTemplate.company_id == company_id,
                   Connection.company_id == company_id, Connection.kind == KIND_WHATSAPP,
                   ProviderTemplate.status == "APPROVED")
            .order_by(Connection.name, ProviderTemplate.name)).all():
        choices.append((f"p:{t.id}", _("Modelo do WhatsApp %(name)s (%(connection)s)",
                                       name=t.name, connection=conn.name)))
    return choices


class ScheduledMessageView(MessageFieldsMixin, TenantModelView):
    area = "scheduled"
    message_fields = ("text",)
    column_list = ["contact", "connection", "send_at", "repeat", "text", "status", "error",
                   "created_by"]
    column_export_list = column_list
    column_searchable_list = ["text"]
    column_sortable_list = ["send_at", "status"]
    column_default_sort = ("send_at", True)
    column_filters = [FilterEqual(ScheduledMessage.status, _l("Situação"),
                                  options=STATUS_CHOICES)]
    column_labels = {
        "contact": _l("Contato"), "connection": _l("Conexão"), "send_at": _l("Envio"),
        "repeat": _l("Repetição"), "text": _l("Mensagem"), "status": _l("Situação"),
        "error": _l("Erro"), "created_by": _l("Criado por"),
    }
    column_formatters = {
        "send_at": lambda v, c, m, p: rules.local_label(m),
        "repeat": lambda v, c, m, p: REPEATS.get(m.repeat, m.repeat),
        "text": _message,
        "status": _status,
        "created_by": lambda v, c, m, p: m.created_by.name if m.created_by else "",
    }
    column_formatters_export = {
        **column_formatters,
        "status": lambda v, c, m, p: SCHEDULE_STATUSES.get(m.status, m.status),
    }
    form_columns = ["contact", "connection", "send_date", "send_time", "text",
                    "template_choice", "repeat"]
    form_ajax_refs = {"contact": {"fields": ("name", "phone", "email"), "page_size": 20,
                                  "placeholder": _l("Digite o nome ou telefone")}}
    form_overrides = {"text": TextAreaField}
    form_args = {
        "contact": {"validators": [InputRequired()]},
        "connection": {"validators": [InputRequired()],
                       "description": _l("Por onde a mensagem sai: o contato precisa ter "
                                         "escrito nesta conexão.")},
        "text": {"validators": [Optional()], "render_kw": {"rows": 4}},
    }
    form_extra_fields = {
        "send_date": DateField(_l("Data"), validators=[InputRequired()]),
        "send_time": TimeField(_l("Hora"), format=TIME_FORMATS, validators=[InputRequired()],
                               description=_l("No fuso horário da empresa.")),
        "template_choice": SelectField(_l("Template"), choices=[], validate_choice=False,
                                       description=_l("Um template de mensagem ou um modelo "
                                                      "aprovado do WhatsApp, em vez do texto.")),
        "repeat": SelectField(_l("Repetição"), choices=list(REPEATS.items()),
                              default="none"),
    }

    def prepare_form(self, form):
        form.template_choice.choices = _template_choices(current_company_id())
        return form

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        if model is None:
            return
        local = rules.local_of(model)
        form.send_date.data, form.send_time.data = local.date(), local.time()
        form.template_choice.data = (f"p:{model.provider_template_id}"
                                     if model.provider_template_id else
                                     f"t:{model.template_id}" if model.template_id else "")

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        model = self.get_one(request.args.get("id", ""))
        if model is not None and model.status != SCHEDULED:
            flash(_("Só agendamentos ainda não enviados podem ser alterados."), "error")
            return redirect(get_redirect_target() or self.get_url(".index_view"))
        return super().edit_view()

    def validate_change(self, form, model, is_created):
        if not is_created and model.status != SCHEDULED:
            raise RuleError(_("Só agendamentos ainda não enviados podem ser alterados."))
        choice = form.template_choice.data or ""
        template = provider = None
        if choice.startswith("t:"):
            template = choice[2:]
        elif choice.startswith("p:"):
            provider = choice[2:]
        when = rules.parse_local(form.send_date.data, form.send_time.data)
        company_id = model.company_id or current_company_id()
        rules.fill(model, company_id, form.contact.data, form.connection.data, when,
                   form.text.data, template, provider, form.repeat.data or "none")
        if is_created:
            model.company_id = company_id
            model.created_by_id = current_user.id
            model.status = SCHEDULED
        model.error = None

    def after_model_change(self, form, model, is_created):
        warning = rules.window_warning(model)
        if warning:
            flash(warning, "warning")

    def validate_delete(self, model):
        if model.status in (SCHEDULE_SENT, SCHEDULE_SENDING) or model.sent_count:
            raise RuleError(_("Agendamentos já enviados não podem ser excluídos."))

    def is_action_allowed(self, name):
        if name == "cancel":
            return self.can_edit
        return super().is_action_allowed(name)

    @action("cancel", _l("Cancelar"),
            _l("Cancelar os agendamentos selecionados? Eles não serão enviados."))
    def action_cancel(self, ids):
        if not self.can_edit:
            return redirect(self.get_url(".index_view"))
        rows = get_query_for_ids(self.get_query(), self.model, [int(i) for i in ids]).all()
        done = refused = 0
        for row in rows:
            try:
                rules.cancel(current_user, row)
            except RuleError:
                refused += 1
                continue
            audit.record(current_user, "update", row, {"status": [SCHEDULED, row.status]},
                         self.audit_company_id(row))
            done += 1
        db.session.commit()
        if done:
            flash(_("%(n)s agendamento(s) cancelado(s).", n=done), "success")
        if refused or not rows:
            flash(_("Só agendamentos ainda não enviados podem ser cancelados."), "error")
        return redirect(get_redirect_target() or self.get_url(".index_view"))
