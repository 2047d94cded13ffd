"""Satisfaction survey (AUT-3, RAT-1, DEP-2).

When a ticket closes in a department with the survey on (and the ticket has a channel and
a contact, and was not closed for inactivity), a SurveyAnswer is created and the question
goes to the customer: the department's "Fluxo de comunicação da pesquisa" text (message
variables filled in), or a default for its scale (CSAT 1 to 5, NPS 0 to 10).

The customer's next message goes to the closed ticket only when it answers the survey
(`claim`, registered in services.tickets.closed_ticket_claims): a valid score ("4",
"nota 4", "5 estrelas", "⭐⭐⭐⭐"), or, after the score, any text as the comment. Anything
else is the customer moving on: the survey ends (expired) and the message opens a new
conversation as usual, so nothing a customer writes is left on a closed ticket.
`on_inbound` then stores the score and asks for an optional comment, or stores the
comment: answered, a thank-you, event "survey.answered".

Timer "survey": without an answer for `survey_max_inactivity_minutes` (60 when empty)
after the question, the department's timeout message (if any) goes out and the survey
expires; after the score, waiting for the comment, it is answered with the score alone.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select

from .. import events
from ..extensions import db
from ..models import Ticket, TicketEvent
from ..models.automation import (
    SURVEY_ANSWERED,
    SURVEY_ASKED,
    SURVEY_COMMENT,
    SURVEY_EXPIRED,
    SURVEY_NPS,
    SURVEY_SCALES,
    SurveyAnswer,
)
from ..models.tickets import AUTHOR_SYSTEM, CLOSED
from ..services import sending, tickets
from . import inactivity, timers
from .actions import render
from .conditions import Context

DEFAULT_MINUTES = 60
SOURCE = "Pesquisa de satisfação"  # stored in the history as is (pt-BR)
QUESTIONS = {
    "csat": "Como você avalia o atendimento? Responda de 1 a 5.",
    SURVEY_NPS: "De 0 a 10, quanto você recomendaria a {{empresa}} a um amigo?",
}
RANGES = {"csat": (1, 5), SURVEY_NPS: (0, 10)}
ASK_COMMENT = "Obrigado! Quer deixar um comentário? (opcional)"
THANKS = "Obrigado pela sua avaliação!"

_NUMBER = re.compile(r"(?<!\d)(\d{1,2})(?!\d)")
_STARS = "⭐★"


def scale_of(department) -> str:
    scale = getattr(department, "survey_scale", None)
    return scale if scale in SURVEY_SCALES else "csat"


def parse_score(text: str | None, scale: str) -> int | None:
    """The score in a customer's answer, within the scale's range; None when there is
    none ("nota 4" -> 4, "5 estrelas" -> 5, "⭐⭐⭐" -> 3, "11" on NPS -> None)."""
    text = (text or "").strip()
    if not text or len(text) > 60:
        return None
    low, high = RANGES.get(scale, RANGES["csat"])
    numbers = _NUMBER.findall(text)
    if numbers:
        if len(set(numbers)) > 1 and not re.search(r"\b(de|/)\s*\d", text):
            return None  # "4 ou 5": ambiguous
        value = int(numbers[0])
    else:
        stars = sum(text.count(s) for s in _STARS)
        if not stars or text.replace("⭐", "").replace("★", "").strip("\ufe0f ").strip():
            return None
        value = stars
    return value if low <= value <= high else None


def answer_of(ticket, statuses=None) -> SurveyAnswer | None:
    query = select(SurveyAnswer).where(SurveyAnswer.ticket_id == ticket.id)
    if statuses:
        query = query.where(SurveyAnswer.status.in_(statuses))
    return db.session.scalar(query.limit(1))


def _closed_by_inactivity(ticket) -> bool:
    data = db.session.scalar(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id,
                                       TicketEvent.kind == "closed")
        .order_by(TicketEvent.id.desc()).limit(1))
    return bool(data) and data.get("source") == inactivity.SOURCE


def _send(ticket, text: str | None, now: datetime) -> None:
    body = render(text, Context(ticket=ticket, now=now)) if text else ""
    if body.strip():
        sending.queue(ticket, None, body, author_kind=AUTHOR_SYSTEM)


def _question(ticket, survey) -> str:
    department = ticket.department
    text = department.survey_flow if department is not None else None
    return text if text and text.strip() else QUESTIONS.get(survey.scale, QUESTIONS["csat"])


def on_closed(ticket, now) -> None:
    department = ticket.department
    if department is None or not department.survey_enabled:
        return
    if ticket.connection_id is None or ticket.contact_id is None:
        return
    if department.company_id != ticket.company_id or _closed_by_inactivity(ticket):
        return
    if answer_of(ticket) is not None:
        return  # one survey per ticket (a reopened ticket closed again is not re-asked)
    survey = SurveyAnswer(company_id=ticket.company_id, ticket_id=ticket.id,
                          agent_id=ticket.agent_id, department_id=department.id,
                          scale=scale_of(department), status=SURVEY_ASKED, asked_at=now)
    db.session.add(survey)
    _send(ticket, _question(ticket, survey), now)
    tickets.history(ticket, "survey", source=SOURCE, detail="Pesquisa enviada")


def waiting_ticket(contact, connection) -> Ticket | None:
    """The contact's closed ticket on this connection whose survey waits for them."""
    return db.session.scalar(
        select(Ticket).join(SurveyAnswer, SurveyAnswer.ticket_id == Ticket.id)
        .where(Ticket.contact_id == contact.id, Ticket.connection_id == connection.id,
               Ticket.status == CLOSED,
               SurveyAnswer.status.in_((SURVEY_ASKED, SURVEY_COMMENT)))
        .order_by(Ticket.id.desc()).limit(1))


def claim(contact, connection, text: str | None) -> Ticket | None:
    """services.tickets' hook: the closed ticket when `text` answers its survey, else
    None (and a survey still waiting for its score ends: the customer moved on)."""
    ticket = waiting_ticket(contact, connection)
    if ticket is None:
        return None
    survey = answer_of(ticket, (SURVEY_ASKED, SURVEY_COMMENT))
    if survey.status == SURVEY_COMMENT or parse_score(text, survey.scale) is not None:
        return ticket
    survey.status = SURVEY_EXPIRED
    tickets.history(ticket, "survey", source=SOURCE, detail="Sem resposta válida")
    timers.reschedule(ticket)
    return None


if claim not in tickets.closed_ticket_claims:
    tickets.closed_ticket_claims.append(claim)


def on_inbound(ticket, message, now) -> bool:
    if ticket.status != CLOSED:
        return False
    survey = answer_of(ticket, (SURVEY_ASKED, SURVEY_COMMENT))
    if survey is None:
        return False
    if survey.status == SURVEY_ASKED:
        score = parse_score(message.text, survey.scale)
        if score is None:
            return False  # not reached: `claim` lets only answers in
        survey.score = score
        survey.status = SURVEY_COMMENT
        survey.answered_at = now  # the comment's wait counts from here
        sending.queue(ticket, None, ASK_COMMENT, author_kind=AUTHOR_SYSTEM)
        return True
    # SURVEY_COMMENT: this message is the comment
    survey.comment = (message.text or "").strip()[:2000] or None
    _answered(ticket, survey, now)
    sending.queue(ticket, None, THANKS, author_kind=AUTHOR_SYSTEM)
    return True


# the listener opens no savepoint for a message on an open ticket (listeners.guarded)
on_inbound.idle = lambda ticket, message, now: ticket.status != CLOSED


def _answered(ticket, survey, now) -> None:
    survey.status = SURVEY_ANSWERED
    survey.answered_at = now
    tickets.history(ticket, "survey", source=SOURCE,
                    detail=f"Nota {survey.score}" + (f": {survey.comment[:200]}"
                                                     if survey.comment else ""))
    events.emit("survey.answered", survey=survey, ticket=ticket)


# --- timer: the survey expires -----------------------------------------------------------


def _minutes(ticket) -> int:
    department = ticket.department
    minutes = department.survey_max_inactivity_minutes if department is not None else None
    return minutes or DEFAULT_MINUTES


def _due(ticket) -> datetime | None:
    if ticket.status != CLOSED or ticket.id is None:
        return None
    survey = answer_of(ticket, (SURVEY_ASKED, SURVEY_COMMENT))
    if survey is None:
        return None
    since = survey.asked_at if survey.status == SURVEY_ASKED else (
        survey.answered_at or survey.asked_at)
    return since + timedelta(minutes=_minutes(ticket))


def _fire(ticket, now: datetime) -> None:
    when = _due(ticket)
    if when is None or when > now:
        return
    survey = answer_of(ticket, (SURVEY_ASKED, SURVEY_COMMENT))
    if survey.status == SURVEY_COMMENT:
        answered_at = survey.answered_at
        _answered(ticket, survey, now)
        survey.answered_at = answered_at  # the score's time: no comment came
        return
    department = ticket.department
    _send(ticket, department.survey_timeout_message if department is not None else None, now)
    survey.status = SURVEY_EXPIRED
    tickets.history(ticket, "survey", source=SOURCE, detail="Sem resposta")


timers.register("survey", _due, _fire)


def agent_month(user, now: datetime | None = None) -> dict:
    """RAT-1 on the agent's home: their surveys answered with a score in the company's
    current month, per scale: {"count": n, "scales": [{"scale", "max", "average",
    "count"}]} (CSAT and NPS averages are never mixed)."""
    from flask_babel import format_decimal
    from sqlalchemy import func

    from ..lib import clock
    from ..models import Company
    from ..services.presence import _bounds

    company = db.session.get(Company, user.company_id)
    start, end = _bounds(company, "month", now or clock.now())
    rows = db.session.execute(
        select(SurveyAnswer.scale, func.count(SurveyAnswer.id), func.avg(SurveyAnswer.score))
        .where(SurveyAnswer.company_id == user.company_id, SurveyAnswer.agent_id == user.id,
               SurveyAnswer.status == SURVEY_ANSWERED, SurveyAnswer.score.is_not(None),
               SurveyAnswer.answered_at >= start, SurveyAnswer.answered_at < end)
        .group_by(SurveyAnswer.scale).order_by(SurveyAnswer.scale)).all()
    scales = [{"scale": scale, "max": RANGES.get(scale, RANGES["csat"])[1], "count": count,
               "average": round(float(average), 1),
               "average_text": format_decimal(round(float(average), 1), format="0.0")}
              for scale, count, average in rows]
    return {"count": sum(s["count"] for s in scales), "scales": scales}
