"""Entregas de webhooks (WHK-1): the delivery log of the company's webhooks, newest first,
and "Reenviar". Read-only otherwise: the rows are written by the outbox and the delivery
job (backoffice/webhooks/). Guarded by the Webhooks area: who sees the webhooks sees their
log; resending takes the right to edit them."""
from __future__ import annotations

import json

from flask import flash, redirect
from flask_admin.actions import action
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from .. import events
from ..extensions import db
from ..lib import after_commit
from ..models.webhooks import DELIVERED, FAILED, PENDING, SENDING, Webhook, WebhookDelivery
from ..services import RuleError, audit
from ..webhooks import delivery
from .base import ReadOnlyMixin, TenantModelView
from .filters import PerRequestFilterOptions, TenantOptionsFilter

STATUS_LABELS = {
    PENDING: _l("Pendente"),
    SENDING: _l("Enviando"),
    DELIVERED: _l("Entregue"),
    FAILED: _l("Falhou"),
}
PING_LABEL = _l("Teste (ping)")
# The list's URL argument of the webhook filter (the first filter of the view, and
# Flask-Admin numbers them): the Webhooks screen links each row to its deliveries with it.
WEBHOOK_FILTER_ARG = "flt0_0"


def event_label(name: str) -> str:
    return str(PING_LABEL) if name == delivery.PING else events.label(name)


def _event_options() -> list[tuple[str, str]]:
    return [(name, str(label)) for name, label in events.EVENTS.items()] + \
        [(delivery.PING, str(PING_LABEL))]


class DeliveryWebhookFilter(TenantOptionsFilter):
    """The company's webhooks (read per request: never another company's)."""

    def __init__(self, name):
        super().__init__(WebhookDelivery.webhook_id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(select(Webhook.id, Webhook.name).where(
            Webhook.company_id == company_id).order_by(Webhook.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(WebhookDelivery.webhook_id == value)


class _FixedFilter(TenantOptionsFilter):
    """A fixed list of values (nothing of any company in it)."""

    def options_list(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def tenant_options(self, company_id):
        return self.options_list()

    def validate(self, value) -> bool:
        return value in dict(self.options_list())

    def clean(self, value):
        return value


class DeliveryEventFilter(_FixedFilter):
    def __init__(self, name):
        super().__init__(WebhookDelivery.event, name)

    def options_list(self):
        return _event_options()

    def apply(self, query, value, alias=None):
        return query.filter(WebhookDelivery.event == value)


class DeliveryStatusFilter(_FixedFilter):
    def __init__(self, name):
        super().__init__(WebhookDelivery.status, name)

    def options_list(self):
        return [(key, str(label)) for key, label in STATUS_LABELS.items()]

    def apply(self, query, value, alias=None):
        return query.filter(WebhookDelivery.status == value)


def _pre(text: str | None):
    # data-verbatim: bytes exchanged with another system, shown as they were (ISO times,
    # English keys); the no-raw-values walk (tests/test_ux_raw_values.py) skips them
    return Markup('<pre class="webhook-body" data-verbatim>{}</pre>').format(text) if text else ""


def _body(view, context, model, name):
    try:  # shown indented; the bytes sent are the compact stored text
        text = json.dumps(json.loads(model.body), ensure_ascii=False, indent=2)
    except ValueError:
        text = model.body
    return _pre(text)


def _webhook(view, context, model, name):
    return model.webhook.name if model.webhook is not None else ""


def _status(view, context, model, name):
    return str(STATUS_LABELS.get(model.status, model.status))


def _event(view, context, model, name):
    return event_label(model.event)


def _duration(view, context, model, name):
    return "" if model.duration_ms is None else _("%(ms)s ms", ms=model.duration_ms)


class WebhookDeliveryView(ReadOnlyMixin, PerRequestFilterOptions, TenantModelView):
    area = "webhooks"
    can_view_details = True
    column_list = ["webhook", "event", "status", "attempts", "response_status", "created_at",
                   "last_attempt_at"]
    column_details_list = ["webhook", "event", "event_id", "status", "attempts",
                           "response_status", "duration_ms", "error", "created_at",
                           "last_attempt_at", "next_attempt_at", "delivered_at",
                           "response_body", "body"]
    column_export_list = column_list
    column_sortable_list = ["event", "status", "attempts", "response_status", "created_at",
                            "last_attempt_at"]
    column_default_sort = [("created_at", True), ("id", True)]
    column_filters = [DeliveryWebhookFilter(_l("Nome do webhook")),
                      DeliveryEventFilter(_l("Evento")), DeliveryStatusFilter(_l("Situação"))]
    column_labels = {
        # not "Webhook" alone: a cell holding only a model's name reads as raw (UX-4)
        "webhook": _l("Nome do webhook"), "event": _l("Evento"), "event_id": _l("Id do evento"),
        "status": _l("Situação"), "attempts": _l("Tentativas"),
        "response_status": _l("Código da resposta"), "duration_ms": _l("Duração"),
        "error": _l("Erro"), "created_at": _l("Criado em"),
        "last_attempt_at": _l("Última tentativa"), "next_attempt_at": _l("Próxima tentativa"),
        "delivered_at": _l("Entregue em"),
        "response_body": _l("Resposta (primeiro KB)"), "body": _l("Conteúdo enviado"),
    }
    column_formatters = {
        "webhook": _webhook, "event": _event, "status": _status, "duration_ms": _duration,
    }
    column_formatters_export = column_formatters
    column_formatters_detail = {
        **column_formatters,
        "response_body": lambda v, c, m, p: _pre(m.response_body),
        "body": _body,
    }
    audit_choices = {"status": {k: str(v) for k, v in STATUS_LABELS.items()}}

    def is_action_allowed(self, name):
        if name == "resend":
            return self.allowed("edit")
        return super().is_action_allowed(name)

    @action("resend", _l("Reenviar"),
            _l("Reenviar as entregas selecionadas agora, com o mesmo conteúdo? O destino "
               "receberá o evento de novo, com o mesmo id."))
    def action_resend(self, ids):
        back = get_redirect_target() or self.get_url(".index_view")
        if not self.allowed("edit"):  # also checked by handle_action; kept next to the write
            return redirect(back)
        rows = get_query_for_ids(self.get_query(), self.model, ids).all()
        done, refused = 0, []
        for row in rows:
            before = row.status
            try:
                delivery.resend(row)
            except RuleError as exc:
                refused.append(str(exc))
                continue
            audit.record(current_user, "update", row, {"status": [before, PENDING]},
                         self.audit_company_id(row))
            done += 1
        after_commit.commit()
        if done:
            flash(ngettext("%(num)d entrega reenviada.", "%(num)d entregas reenviadas.", done),
                  "success")
        for text in dict.fromkeys(refused):
            flash(text, "error")
        if not rows:
            flash(_("Nenhuma entrega selecionada."), "error")
        return redirect(back)
