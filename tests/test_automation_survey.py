"""Satisfaction survey (AUT-3, RAT-1, DEP-2): asked when a ticket closes in a department
with the survey on, answered by the customer's next messages (score, then an optional
comment), expired by the department's maximum inactivity; the score on the ticket's
detail and the agent's month on the home page."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from backoffice import events
from backoffice.automation import survey, timers
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Ticket
from backoffice.models.automation import (
    SURVEY_ANSWERED,
    SURVEY_ASKED,
    SURVEY_COMMENT,
    SURVEY_EXPIRED,
    SurveyAnswer,
)
from backoffice.models.tickets import AUTHOR_SYSTEM, CLOSED
from backoffice.services import tickets as ticket_rules
from tests.factories import gen_agent_setup, gen_inbound, sent_texts

QUESTION = "Olá {{nome_cliente}}, que nota de 1 a 5 você dá ao atendimento?"


@pytest.fixture
def desk(app, timeline):
    """Company v: Suporte asks the survey (30 minutes to answer, a timeout message); its
    agent's accepted ticket with the customer at address cliente-1."""
    with app.app_context():
        setup = gen_agent_setup(key="v")
        department = setup.department
        department.survey_enabled = True
        department.survey_flow = QUESTION
        department.survey_timeout_message = "Pesquisa encerrada, {{nome_cliente}}."
        department.survey_max_inactivity_minutes = 30
        db.session.commit()
        yield setup


@pytest.fixture
def answered(monkeypatch):
    seen = []
    listeners = list(events._LISTENERS.get("survey.answered", []))
    monkeypatch.setitem(events._LISTENERS, "survey.answered",
                        listeners + [lambda name, survey, ticket, **_: seen.append(
                            (survey.id, ticket.id))])
    return seen


def _close(setup) -> Ticket:
    ticket = db.session.get(Ticket, setup.ticket.id)
    ticket_rules.close(ticket, setup.agent)
    after_commit.commit()
    return ticket


def _inbound(setup, text, address="cliente-1") -> Ticket:
    message = gen_inbound(setup.connection, text, address, setup.department)
    return db.session.get(Ticket, message.ticket_id)


def _system_texts(ticket) -> list[str]:
    return sent_texts(ticket, AUTHOR_SYSTEM)


def _answer(ticket) -> SurveyAnswer:
    db.session.expire_all()
    return db.session.scalar(select(SurveyAnswer).where(SurveyAnswer.ticket_id == ticket.id))


def test_AUT_3_RAT_1_survey_answered_with_score_and_comment(desk, timeline, answered):
    ticket = _close(desk)
    found = _answer(ticket)
    assert found.status == SURVEY_ASKED and found.agent_id == desk.agent.id
    assert found.department_id == desk.department.id and found.scale == "csat"
    name = ticket.contact.name
    assert _system_texts(ticket)[-1] == f"Olá {name}, que nota de 1 a 5 você dá ao atendimento?"

    timeline.advance(minutes=5)
    assert _inbound(desk, "nota 4").id == ticket.id  # the closed ticket takes the answer
    found = _answer(ticket)
    assert (found.status, found.score) == (SURVEY_COMMENT, 4)
    assert "comentário" in _system_texts(ticket)[-1]

    timeline.advance(minutes=5)
    assert _inbound(desk, "Muito bom, obrigado").id == ticket.id
    found = _answer(ticket)
    assert (found.status, found.score, found.comment) == (SURVEY_ANSWERED, 4, "Muito bom, obrigado")
    assert found.answered_at == datetime(2026, 12, 1, 12, 10)
    assert answered == [(found.id, ticket.id)]
    assert db.session.get(Ticket, ticket.id).status == CLOSED
    # the survey is over: the next message opens a new conversation
    assert _inbound(desk, "Outra dúvida").id != ticket.id


def test_AUT_3_survey_expires_with_the_timeout_message(desk, timeline):
    ticket = _close(desk)
    assert db.session.get(Ticket, ticket.id).due_at == datetime(2026, 12, 1, 12, 30)
    timeline.set(datetime(2026, 12, 1, 12, 29))
    timers.tick()
    assert _answer(ticket).status == SURVEY_ASKED
    timeline.set(datetime(2026, 12, 1, 12, 30))
    assert timers.tick() == 1
    assert _answer(ticket).status == SURVEY_EXPIRED
    assert _system_texts(ticket)[-1] == f"Pesquisa encerrada, {ticket.contact.name}."
    assert _inbound(desk, "5").id != ticket.id  # too late: a new conversation


def test_AUT_3_score_without_comment_is_kept_when_the_comment_never_comes(desk, timeline):
    ticket = _close(desk)
    timeline.advance(minutes=10)
    _inbound(desk, "5 estrelas")
    timeline.set(datetime(2026, 12, 1, 12, 40))
    timers.tick()
    found = _answer(ticket)
    assert (found.status, found.score, found.comment) == (SURVEY_ANSWERED, 5, None)
    assert found.answered_at == datetime(2026, 12, 1, 12, 10)


def test_AUT_3_a_message_that_is_no_score_opens_a_new_conversation(desk, timeline):
    """AUT-3 / nothing lost: a customer who writes something else instead of a score has
    moved on; the survey ends and the message reaches the agents in a new ticket, never
    the closed one."""
    ticket = _close(desk)
    asked = len(_system_texts(ticket))
    new = _inbound(desk, "Preciso da segunda via do boleto")
    assert new.id != ticket.id and new.is_open
    assert new.preview == "Preciso da segunda via do boleto"
    assert _answer(ticket).status == SURVEY_EXPIRED
    assert len(_system_texts(ticket)) == asked  # no "não entendi" on the closed ticket
    assert _inbound(desk, "4").id == new.id  # later messages follow the new conversation


def test_AUT_3_a_score_out_of_range_is_no_answer(desk, timeline):
    """AUT-3: "9" on a 1-5 survey is not a score: the survey ends, a new ticket opens."""
    ticket = _close(desk)
    assert _inbound(desk, "9").id != ticket.id
    assert _answer(ticket).status == SURVEY_EXPIRED


def test_RAT_1_nps_range(desk, timeline):
    desk.department.survey_scale = "nps"
    desk.department.survey_flow = None
    db.session.commit()
    ticket = _close(desk)
    assert _answer(ticket).scale == "nps"
    assert "De 0 a 10" in _system_texts(ticket)[-1]
    _inbound(desk, "10")
    assert (_answer(ticket).status, _answer(ticket).score) == (SURVEY_COMMENT, 10)
    assert survey.parse_score("0", "nps") == 0 and survey.parse_score("11", "nps") is None
    assert survey.parse_score("0", "csat") is None and survey.parse_score("6", "csat") is None
    assert survey.parse_score("⭐⭐⭐", "csat") == 3 and survey.parse_score("4/5", "csat") == 4
    assert survey.parse_score("4 ou 5", "csat") is None


def test_AUT_3_no_survey_after_an_inactivity_close(desk, timeline):
    desk.department.close_in_progress_after_minutes = 15
    timers.reschedule(desk.ticket)
    db.session.commit()
    timeline.set(datetime(2026, 12, 1, 12, 15))
    timers.tick()
    ticket = db.session.get(Ticket, desk.ticket.id)
    assert ticket.status == CLOSED and _answer(ticket) is None


def test_AUT_3_another_company_department_settings_never_apply(desk, timeline, app):
    """DEP-2: company w's department without the survey asks nothing, whatever company
    v's department says; company v's ticket is asked with v's own question."""
    other = gen_agent_setup(key="w")
    ticket = _close(other)
    assert _answer(ticket) is None and _system_texts(ticket) == []
    mine = _close(desk)
    assert _answer(mine).department_id == desk.department.id


def test_RAT_1_score_on_the_ticket_detail_and_the_agent_home(app, timeline):
    """RAT-1: the inbox's ticket detail carries the survey ("Avaliação: 4/5"), and the
    agent's home shows their average and count of answers this month."""
    from tests.conftest import client_as

    with app.app_context():
        setup = gen_agent_setup(key="v")
        setup.department.survey_enabled = True
        setup.department.survey_flow = QUESTION
        db.session.commit()
        ticket_id = _close(setup).id
        _inbound(setup, "4")
        _inbound(setup, "Bom")
    agent = client_as(app, "agente-v@example.com")
    detail = agent.get(f"/inbox/api/tickets/{ticket_id}").get_json()
    found = detail["ticket"]["survey"]
    assert (found["score"], found["max"], found["status"]) == (4, 5, SURVEY_ANSWERED)
    home = agent.get("/admin/").text
    assert 'data-testid="survey-month"' in home and "4,0/5" in home and "1 resposta(s)" in home
