"""The inbox API on scheduled messages (AUT-5): the composer's "Agendar" schedules its text
for the ticket's contact on the ticket's connection, lists that contact's pending
schedules and cancels one. The ticket is found through services.visibility (404 for
another company's or an invisible one); only a user who may act on it schedules or
cancels (403)."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from ..automation import scheduled
from ..lib import after_commit, clock
from ..models.automation import ScheduledMessage
from ..services import hours, tickets
from ..web.api import ApiError, opt_id, read_body, text
from .blueprint import bp
from .common import api, find_ticket


def _acting_ticket(ticket_id):
    ticket = find_ticket(ticket_id)
    if not tickets.may_act(current_user, ticket):
        raise ApiError(403, _("Este atendimento está com %(name)s.",
                              name=ticket.agent.name if ticket.agent else ""))
    return ticket


def _defaults(ticket) -> dict:
    """Tomorrow at 09:00 on the company's wall clock."""
    today = hours.local_time(clock.now(), scheduled.zone_of(ticket.company_id)).date()
    return {"date": (today + timedelta(days=1)).isoformat(), "time": "09:00"}


def _listing(ticket) -> dict:
    return {"scheduled": [scheduled.as_dict(i) for i in scheduled.pending_of(ticket.contact)],
            "defaults": _defaults(ticket)}


@bp.get("/api/tickets/<ticket_id>/scheduled")
@api
def ticket_scheduled(ticket_id):
    return jsonify(_listing(find_ticket(ticket_id)))


@bp.post("/api/tickets/<ticket_id>/schedule")
@api
def ticket_schedule(ticket_id):
    ticket = _acting_ticket(ticket_id)
    body = read_body()
    when = scheduled.parse_local(text(body, "date", 20), text(body, "time", 10))
    repeat = text(body, "repeat", 20) or "none"
    item = scheduled.create(current_user, ticket.contact, ticket.connection, when,
                            text=text(body, "text"), repeat=repeat)
    warning = scheduled.window_warning(item)
    label = scheduled.local_label(item)
    after_commit.commit()
    data = _listing(ticket)
    data.update({"message": _("Mensagem agendada para %(when)s", when=label),
                 "warning": warning})
    return jsonify(data), 201


@bp.post("/api/tickets/<ticket_id>/scheduled/cancel")
@api
def ticket_scheduled_cancel(ticket_id):
    ticket = _acting_ticket(ticket_id)
    item_id = opt_id(read_body().get("id"), _("Agendamento inválido."))
    item = ScheduledMessage.get_owned(ticket.company_id, item_id) if item_id else None
    if item is None or item.contact_id != ticket.contact_id:
        raise ApiError(404, _("Agendamento não encontrado."))
    scheduled.cancel(current_user, item)
    after_commit.commit()
    data = _listing(ticket)
    data["message"] = _("Agendamento cancelado.")
    return jsonify(data)
