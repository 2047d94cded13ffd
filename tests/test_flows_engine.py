"""The chatbot engine (AUT-2), driven through the public path: a webchat connection whose
entry flow is published, the customer's messages through services.tickets.receive_inbound
(then the commit), the bot's answers read back as Message rows (author "bot"), the clock
moved with `timeline` and the timers run by timers.tick."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from backoffice.automation import timers
from backoffice.automation.flows import engine, service
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import ContactField, Message, MessageTemplate, Ticket, TicketEvent
from backoffice.models.automation import (
    RUN_ACTIVE, RUN_DONE, RUN_EXPIRED, RUN_HANDED_OVER, Flow, FlowRun,
)
from backoffice.models.tickets import AUTHOR_BOT, CLOSED, WAITING
from backoffice.services import tickets
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_inbound, gen_period, gen_tag, gen_user,
    sent_texts,
)


def node(kind, nxt=None, **data):
    return {"type": kind, "x": 0, "y": 0, "data": data,
            "next": {"next": nxt} if isinstance(nxt, str) else (nxt or {})}


def graph(**nodes):
    return {"nodes": nodes}


@pytest.fixture
def bot(app, timeline):
    with app.app_context():
        company, admin = gen_company("Robô Ltda", "admin@robo.example")
        connection = gen_connection(company, "Site", kind="webchat")
        vendas = gen_department(company, "Vendas")
        suporte = gen_department(company, "Suporte")
        vip = gen_tag(company, "VIP")
        db.session.add(ContactField(company_id=company.id, label="Nascimento", key="nascimento"))
        template = MessageTemplate(company_id=company.id, kind="text", shortcut="/momento",
                                   title="Momento", body="Um momento, {{nome_cliente}}.")
        db.session.add(template)
        db.session.commit()
        yield SimpleNamespace(company=company, admin=admin, connection=connection,
                              vendas=vendas, suporte=suporte, vip=vip, template=template)


def publish(world, g, name="Atendimento", entry=True, **fields) -> Flow:
    flow = Flow.query.filter_by(company_id=world.company.id, name=name).first()
    if flow is None:
        flow = Flow(company_id=world.company.id, name=name, draft={}, **fields)
        db.session.add(flow)
        db.session.flush()
    service.save_draft(flow, g)
    service.publish(flow, world.admin)
    if entry:
        world.connection.flow_id = flow.id
    db.session.commit()
    return flow


def say(world, text, address="visitante-1") -> Ticket:
    message = gen_inbound(world.connection, text, address)
    return db.session.get(Ticket, message.ticket_id)


def bot_texts(ticket) -> list[str]:
    return sent_texts(ticket, AUTHOR_BOT)


def run_of(ticket) -> FlowRun:
    return db.session.scalars(select(FlowRun).where(FlowRun.ticket_id == ticket.id)
                              .order_by(FlowRun.id.desc())).first()


def bot_history(ticket) -> list[str]:
    return [e.data.get("detail") for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "bot")
        .order_by(TicketEvent.id))]


def tick_after(timeline, ticket, minutes: int) -> Ticket:
    """The timers tick finds nothing a minute early and the ticket due `minutes` later."""
    timeline.advance(minutes=minutes - 1)
    assert timers.tick() == 0
    timeline.advance(minutes=1)
    assert timers.tick() == 1
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def menu_flow(world, fail=None, max_tries=3):
    nxt = {"option:0": "sales", "option:1": "tag"}
    g = graph(
        start=node("start", "hello"),
        hello=node("message", "menu", text="Olá, {{nome_cliente}}!"),
        menu=node("menu", nxt, text="Como podemos ajudar?", options=["Vendas", "Suporte técnico"],
                  max_tries=max_tries),
        sales=node("transfer", department_id=world.vendas.id, text="Transferindo para vendas."),
        tag=node("tag", "bye", tag_id=world.vip.id),
        bye=node("end", text="Até logo!", close=True),
    )
    if fail:
        nxt["fail"] = "again"
        g["nodes"]["again"] = node("message", "stop", text="Vamos tentar de outro jeito.")
        g["nodes"]["stop"] = node("end", text="Um atendente vai responder.", close=False)
    return g


def test_AUT_2_menu_by_number_transfers_to_the_department(bot):
    """AUT-2: entry flow greets, the menu takes "1." and the transfer node routes."""
    flow = publish(bot, menu_flow(bot))
    ticket = say(bot, "Oi")
    assert bot_texts(ticket) == ["Olá, Visitante do site!",
                                 "Como podemos ajudar?\n\n1 - Vendas\n2 - Suporte técnico"]
    run = run_of(ticket)
    assert (run.status, run.waiting_for, run.node_id) == (RUN_ACTIVE, "input", "menu")
    assert ticket.automated is True
    assert run.resume_at == datetime(2026, 12, 1, 12, 0) + timedelta(minutes=flow.timeout_minutes)

    ticket = say(bot, " 1. ")
    assert bot_texts(ticket)[-1] == "Transferindo para vendas."
    run = run_of(ticket)
    assert run.status == RUN_HANDED_OVER and run.resume_at is None
    assert (ticket.department_id, ticket.agent_id, ticket.status) == (bot.vendas.id, None, WAITING)
    assert ticket.automated is False
    assert bot_history(ticket) == ["Fluxo iniciado", "Transferido para Vendas"]
    assert db.session.scalars(select(TicketEvent.data).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "bot")).first()["source"] \
        == "Atendimento v1"


def test_AUT_2_menu_by_words_tags_and_ends_closing(bot):
    """AUT-2: "quero suporte tecnico" picks the option by its words (no accents); the tag
    node tags the ticket; the end node says goodbye and closes."""
    publish(bot, menu_flow(bot))
    say(bot, "Oi")
    ticket = say(bot, "Quero SUPORTE TECNICO, por favor")
    assert bot_texts(ticket)[-1] == "Até logo!"
    assert [t.name for t in ticket.tags] == ["VIP"]
    assert ticket.status == CLOSED
    assert run_of(ticket).status == RUN_DONE
    assert ticket.automated is False


def test_AUT_2_invalid_answers_retry_then_take_the_fail_outlet(bot):
    """AUT-2: an invalid option resends the menu with the default text; after max_tries
    the "fail" outlet is taken."""
    publish(bot, menu_flow(bot, fail="again", max_tries=2))
    say(bot, "Oi")
    ticket = say(bot, "banana")
    assert bot_texts(ticket)[-2:] == ["Opção inválida. Responda com o número da opção.",
                                      "Como podemos ajudar?\n\n1 - Vendas\n2 - Suporte técnico"]
    assert run_of(ticket).tries == 1
    ticket = say(bot, "7")
    assert bot_texts(ticket)[-2:] == ["Vamos tentar de outro jeito.", "Um atendente vai responder."]
    assert run_of(ticket).status == RUN_DONE
    assert ticket.status == WAITING  # end without close: the queue takes it


def test_AUT_2_exhausted_tries_without_fail_outlet_hand_over(bot):
    """AUT-2: no "fail" outlet: after max_tries a person takes over."""
    publish(bot, menu_flow(bot, max_tries=1))
    say(bot, "Oi")
    ticket = say(bot, "não sei")
    assert bot_texts(ticket)[-1] == "Certo! Vou transferir você para um atendente."
    assert run_of(ticket).status == RUN_HANDED_OVER
    assert bot_history(ticket)[-1] == "Transferido para um atendente: tentativas esgotadas"
    assert ticket.status == WAITING and ticket.automated is False


def test_AUT_2_questions_validate_and_store_on_the_contact(bot):
    """AUT-2 questions: each validation refuses a wrong answer (retry text) and stores a
    right one normalised, on the contact's field, a custom field and a flow variable."""
    def question(nxt, field=None, variable=None, validate="text"):
        return node("question", nxt, text=f"Pergunta {validate}?", field=field,
                    variable=variable, validate=validate, max_tries=3)

    publish(bot, graph(
        start=node("start", "q1"),
        q1=question("q2", field="name"),
        q2=question("q3", field="email", validate="email"),
        q3=question("q4", field="document", validate="cpf_cnpj"),
        q4=question("q5", field="phone", validate="phone"),
        q5=question("q6", field="custom:nascimento", variable="nasc", validate="date"),
        q6=question("thanks", variable="valor", validate="number"),
        thanks=node("message", "bye", text="Obrigado! {{nasc}} / {{valor}}"),
        bye=node("end", close=False),
    ))
    say(bot, "Oi")
    answers = [(None, "Maria Souza"), ("maria@", "Maria@Example.com"),
               ("123.456.789-00", "529.982.247-25"), ("12345", "(11) 98765-4321"),
               ("31/02/1990", "5/3/1990"), ("muito", "1.234,5")]
    for wrong, right in answers:
        if wrong is not None:
            assert run_of(say(bot, wrong)).tries == 1, wrong
        run_ticket = say(bot, right)
    ticket = run_ticket
    assert bot_texts(ticket)[-1] == "Obrigado! 05/03/1990 / 1234.5"
    contact = ticket.contact
    assert (contact.name, contact.email, contact.document, contact.person_type, contact.phone) \
        == ("Maria Souza", "maria@example.com", "52998224725", "PF", "+5511987654321")
    assert contact.custom_fields == {"nascimento": "05/03/1990"}
    assert run_of(ticket).variables == {"nasc": "05/03/1990", "valor": "1234.5"}
    texts = bot_texts(ticket)
    assert "E-mail inválido." in texts
    assert "Responda com uma data no formato dd/mm/aaaa." in texts


def test_AUT_2_condition_on_a_period_inside_and_outside(bot, timeline):
    """AUT-2 condition node, PER-2: inside the period (Tue 09:00 São Paulo) and outside
    (20:00) take "yes" and "no"."""
    period = gen_period(bot.company, "Comercial")  # Mon-Fri 08-18
    db.session.commit()
    publish(bot, graph(
        start=node("start", "cond"),
        cond=node("condition", {"yes": "open", "no": "closed"},
                  condition={"type": "period", "period_id": period.id, "inside": True}),
        open=node("end", text="Estamos abertos.", close=False),
        closed=node("end", text="Estamos fechados.", close=False),
    ))
    assert bot_texts(say(bot, "Oi", address="manha")) == ["Estamos abertos."]
    timeline.set(datetime(2026, 12, 1, 23, 0))
    assert bot_texts(say(bot, "Oi", address="noite")) == ["Estamos fechados."]


def http_flow(url, error=None):
    nxt = {"next": "said"}
    g = graph(
        start=node("start", "call"),
        call=node("http", nxt, method="GET", url=url, map={"status_pedido": "data.status"}),
        said=node("end", text="Seu pedido está {{status_pedido}}.", close=False),
    )
    if error:
        nxt["error"] = "oops"
        g["nodes"]["oops"] = node("end", text="Sistema fora do ar.", close=False)
    return g


def test_AUT_2_INT_1_http_node_maps_json_to_a_variable(bot, httpserver):
    """AUT-2/INT-1: the JSON answer's field goes to a variable used by the next text."""
    httpserver.expect_request("/pedido").respond_with_json({"data": {"status": "enviado"}})
    publish(bot, http_flow(httpserver.url_for("/pedido"), error="oops"))
    ticket = say(bot, "Oi")
    assert bot_texts(ticket) == ["Seu pedido está enviado."]
    assert run_of(ticket).variables == {"status_pedido": "enviado"}


def test_AUT_2_INT_1_http_error_takes_the_error_outlet(bot, httpserver):
    """AUT-2: a 500 answer takes the "error" branch."""
    httpserver.expect_request("/pedido").respond_with_data("boom", status=500)
    publish(bot, http_flow(httpserver.url_for("/pedido"), error="oops"))
    assert bot_texts(say(bot, "Oi")) == ["Sistema fora do ar."]


def test_AUT_2_INT_1_unreachable_or_slow_http_hands_over_without_error_outlet(bot, httpserver,
                                                                          monkeypatch):
    """AUT-2: unreachable (refused) and timed-out calls hand over to a person when the
    node has no "error" outlet."""
    publish(bot, http_flow("http://127.0.0.1:9/pedido"))
    ticket = say(bot, "Oi", address="recusado")
    assert bot_texts(ticket) == ["Certo! Vou transferir você para um atendente."]
    assert run_of(ticket).status == RUN_HANDED_OVER
    assert "a integração falhou" in bot_history(ticket)[-1]

    from backoffice.automation import actions
    monkeypatch.setattr(actions, "HTTP_TIMEOUT", 0.2)

    def slow(request):
        import time
        time.sleep(0.5)
        from werkzeug import Response
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/lento").respond_with_handler(slow)
    publish(bot, http_flow(httpserver.url_for("/lento")))
    ticket = say(bot, "Oi", address="lento")
    assert run_of(ticket).status == RUN_HANDED_OVER


def test_AUT_2_wait_node_resumes_on_the_timer_tick(bot, timeline):
    """AUT-2 message node with a template, wait node: the run waits for time (resume_at =
    Ticket.due_at) and the tick continues it after timeline.advance."""
    publish(bot, graph(
        start=node("start", "first"),
        first=node("message", "pause", template_id=bot.template.id),
        pause=node("wait", "after", minutes=10),
        after=node("end", text="Pronto, verificado!", close=True),
    ))
    ticket = say(bot, "Oi")
    run = run_of(ticket)
    assert (run.waiting_for, run.resume_at) == ("time", datetime(2026, 12, 1, 12, 10))
    assert ticket.due_at == datetime(2026, 12, 1, 12, 10)
    say(bot, "alô?")  # the message waits with the conversation
    ticket = tick_after(timeline, ticket, minutes=10)
    assert bot_texts(ticket) == ["Um momento, Visitante do site.", "Pronto, verificado!"]
    assert ticket.status == CLOSED and run_of(ticket).status == RUN_DONE


def test_AUT_2_keyword_hands_over_at_any_point(bot):
    """AUT-2: "Atendente!" (case, accents, punctuation ignored) hands over mid-question;
    the ticket goes back to its department's queue and no other bot starts there."""
    bot.vendas.flow_id = publish(bot, menu_flow(bot), name="Vendas bot", entry=False).id
    publish(bot, graph(
        start=node("start", "ask"),
        ask=node("question", "bye", text="Qual o seu e-mail?", field="email", validate="email"),
        bye=node("end", close=True),
    ))
    ticket = say(bot, "Oi")
    ticket.department_id = bot.vendas.id
    db.session.commit()
    ticket = say(bot, "ATENDENTE!")
    assert bot_texts(ticket)[-1] == "Certo! Vou transferir você para um atendente."
    run = run_of(ticket)
    assert run.status == RUN_HANDED_OVER and run.version.flow.name == "Atendimento"
    assert bot_history(ticket)[-1] == "Transferido para um atendente: o cliente pediu um atendente"
    assert (ticket.status, ticket.department_id) == (WAITING, bot.vendas.id)
    assert ticket.automated is False
    say(bot, "Olá?")  # no bot answers any more
    assert len(bot_texts(ticket)) == 2


def test_AUT_2_transfer_to_a_department_starts_its_flow(bot):
    """AUT-2 on_queued: the department a transfer node routes to runs its own flow."""
    publish(bot, graph(start=node("start", "hi"),
                       hi=node("message", "end", text="Bem-vindo às vendas."),
                       end=node("end", close=False)), name="Vendas bot", entry=False)
    bot.vendas.flow_id = Flow.query.filter_by(name="Vendas bot").one().id
    publish(bot, menu_flow(bot))
    say(bot, "Oi")
    ticket = say(bot, "vendas")
    assert bot_texts(ticket)[-2:] == ["Transferindo para vendas.", "Bem-vindo às vendas."]
    assert [r.version.flow.name for r in db.session.scalars(
        select(FlowRun).where(FlowRun.ticket_id == ticket.id).order_by(FlowRun.id))] \
        == ["Atendimento", "Vendas bot"]


def test_AUT_2_publishing_v2_leaves_running_conversations_on_v1(bot):
    """AUT-2 versions: a customer on v1 finishes on v1; the next conversation takes v2."""
    def flow(word):
        return graph(start=node("start", "ask"),
                     ask=node("menu", {"option:0": "bye"}, text=f"Menu {word}", options=["Sair"]),
                     bye=node("end", text=f"Tchau {word}", close=True))

    publish(bot, flow("v1"))
    first = say(bot, "Oi", address="primeiro")
    publish(bot, flow("v2"))
    assert bot_texts(say(bot, "1", address="primeiro"))[-1] == "Tchau v1"
    assert run_of(first).version.number == 1
    second = say(bot, "Oi", address="segundo")
    assert bot_texts(second) == ["Menu v2\n\n1 - Sair"]
    assert run_of(second).version.number == 2


def test_AUT_2_AUT_4_a_menu_loop_still_ends_by_inactivity(bot, timeline):
    """AUT-2: a flow looping through a menu ends when the customer stops answering
    (Flow.timeout_minutes, via the timers tick): message, run expired, ticket closed."""
    publish(bot, graph(
        start=node("start", "menu"),
        menu=node("menu", {"option:0": "info", "option:1": "bye"}, text="Menu",
                  options=["Informações", "Sair"]),
        info=node("message", "menu", text="Abrimos às 8h."),
        bye=node("end", close=True),
    ), timeout_minutes=15, timeout_message="Encerramos por falta de resposta, {{nome_cliente}}.")
    say(bot, "Oi")
    timeline.advance(minutes=10)
    ticket = say(bot, "1")
    assert run_of(ticket).resume_at == datetime(2026, 12, 1, 12, 25)
    ticket = tick_after(timeline, ticket, minutes=15)
    assert ticket.status == CLOSED
    assert run_of(ticket).status == RUN_EXPIRED
    last = db.session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                              .order_by(Message.id.desc())).first()
    assert last.text == "Encerramos por falta de resposta, Visitante do site."
    assert bot_history(ticket)[-1] == "Encerrado por inatividade"


def test_AUT_2_an_agent_or_a_close_ends_the_run(bot):
    """AUT-2: an agent closing the ticket ends the active run (on_closed); an agent who
    takes the conversation mid-flow stops the bot."""
    publish(bot, menu_flow(bot))
    ticket = say(bot, "Oi")
    agent = gen_user(bot.company, "agente@robo.example")
    db.session.flush()
    tickets.route(ticket, None, agent, source="teste")
    tickets.close_automatically(ticket, source="teste")
    after_commit.commit()
    assert run_of(ticket).status == RUN_DONE and ticket.automated is False
    assert bot_history(ticket)[-1] == "Atendimento finalizado"

    other = say(bot, "Oi", address="outro")  # an agent takes it mid-menu: the bot stops
    other.agent_id, other.status = agent.id, "open"
    db.session.commit()
    other = say(bot, "1", address="outro")
    assert run_of(other).status == RUN_HANDED_OVER
    assert bot_history(other)[-1] == "Assumido por um atendente"
    assert len(bot_texts(other)) == 2 and other.agent_id == agent.id


def test_AUT_2_simulate_writes_no_rows(bot):
    """AUT-2 editor test pane: simulate walks the same graph without rows or channel."""
    g = menu_flow(bot)
    before = db.session.scalar(select(db.func.count()).select_from(Message))
    first = engine.simulate(bot.company.id, g, None, None)
    assert [r["text"] for r in first["replies"]] == [
        "Olá, Cliente de teste!", "Como podemos ajudar?\n\n1 - Vendas\n2 - Suporte técnico"]
    assert first["finished"] is False
    second = engine.simulate(bot.company.id, g, first["state"], "suporte técnico")
    assert [r["text"] for r in second["replies"]] == [
        "Etiqueta VIP adicionada", "Até logo!", "Atendimento finalizado"]
    assert (second["finished"], second["outcome"]) == (True, "end")
    third = engine.simulate(bot.company.id, g, first["state"], "1")
    assert third["outcome"] == "transfer: Vendas"
    assert db.session.scalar(select(db.func.count()).select_from(Message)) == before
    assert db.session.scalar(select(db.func.count()).select_from(FlowRun)) == 0
