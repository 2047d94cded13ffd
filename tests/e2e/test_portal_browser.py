"""POR-1 / ART-1 in a real browser, on the demo (seed/demo.json): the representative of a
client organisation logs in to the company's Fale Conosco portal on a phone-sized
screen, is offered a help article while typing, opens a protocol with an attachment; the
agent of the routed department sees it arrive live in the inbox with its classification
and answers; the representative sees the answer under "Em aberto" and on the protocol
page without reloading; the agent closes it and it moves to "Finalizados"."""
from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company
from tests.e2e.steps import record_errors

REPRESENTATIVE = ("marina@horizonte.example.com", "portal12345")
AGENT = ("carla@demo.atende.local", "demo12345")  # Suporte, where "Troca ou devolução" routes
PHONE = {"width": 390, "height": 844}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _domain(app, company_id: int) -> str:
    with app.app_context():
        domain = db.session.scalar(select(Company.domain).where(Company.id == company_id))
        db.session.remove()
    return domain


def _representative(browser, portal: str):
    """(context, page, script errors) of the demo's representative, logged in on a phone."""
    context = browser.new_context(locale="pt-BR", viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(8_000)
    errors: list[str] = []
    record_errors(page, errors)
    page.goto(f"{portal}/")
    expect(page).to_have_url(re.compile(r"/entrar"))  # a representative's page: log in first
    page.get_by_label("E-mail").fill(REPRESENTATIVE[0])
    page.get_by_label("Senha").fill(REPRESENTATIVE[1])
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_test_id("portal-title")).to_have_text("Fale Conosco · Óticas Boa Vista")
    return context, page, errors


def test_POR1_ART1_representative_opens_protocol_agent_answers_and_closes(
        app, browser, demo, live_server, log_in, tmp_path):
    portal = f"{live_server}/portal/{_domain(app, demo.company_id)}"

    # the agent's inbox, open before the protocol exists
    agent_context = browser.new_context(locale="pt-BR")
    agent = agent_context.new_page()
    agent.set_default_timeout(8_000)
    agent_errors: list[str] = []
    record_errors(agent, agent_errors)
    log_in(agent, *AGENT)
    agent.goto(f"{live_server}/inbox/")
    agent.wait_for_function("() => window.atendeInboxSocket && window.atendeInboxSocket.connected")
    expect(agent.locator(".ticket-row", has_text="Marina")).to_have_count(0)

    # the representative, on a phone
    rep_context, rep, rep_errors = _representative(browser, portal)

    # Novo contato: classification, then its sub-classifications only
    rep.get_by_role("link", name="Novo contato").click()
    rep.locator("#classification_id").select_option(label="Pedidos e entregas")
    subs = rep.locator("#subclassification_id option:not([value='']):not([hidden])")
    expect(subs).to_have_text(["Status do pedido", "Troca ou devolução"])
    rep.locator("#subclassification_id").select_option(label="Troca ou devolução")
    expect(rep.locator("#contact_person")).to_have_value("Marina Alves")  # from the account
    expect(rep.locator("#email")).to_have_value(REPRESENTATIVE[0])
    rep.locator("#contact_method_id").select_option(label="E-mail")
    # ART-1: typing suggests the matching article ("devolucao" finds "devoluções")
    rep.locator("#message").press_sequentially("Quero a devolucao de 3 armações com defeito")
    expect(rep.get_by_role("link", name="Política de trocas e devoluções")).to_be_visible()
    upload = tmp_path / "nota-fiscal.pdf"
    upload.write_bytes(PDF)
    rep.locator("#files").set_input_files(str(upload))
    rep.get_by_role("button", name="Enviar").click()
    number = rep.get_by_test_id("protocol-number")
    expect(number).to_contain_text("Protocolo ")
    protocol = number.inner_text().split()[-1]
    expect(rep.get_by_test_id("attachment")).to_contain_text("nota-fiscal.pdf")

    # the agent sees it live, routed to Suporte, with its classification
    row = agent.locator(".ticket-row", has_text="Marina")
    expect(row).to_have_count(1)
    row.click()
    expect(agent.locator(".msg .msg-text").first).to_contain_text("Quero a devolucao")
    expect(agent.locator("body")).to_contain_text("Pedidos e entregas › Troca ou devolução")
    expect(agent.locator(".msg", has_text="nota-fiscal.pdf")).to_have_count(1)
    agent.locator("#btn-accept").click()
    expect(agent.locator("#btn-accept")).to_be_hidden()
    agent.locator("#composer-text").fill("Olá, Marina! Pode trazer as armações a qualquer loja.")
    agent.locator("#btn-send").click()
    expect(agent.locator(".msg", has_text="Pode trazer as armações")).to_have_count(1)

    # the protocol page shows the answer without a reload (it polls)
    expect(rep.get_by_test_id("message").filter(has_text="Pode trazer as armações")).to_have_count(
        1, timeout=15_000)
    # "Em aberto" lists it with the last answer
    rep.goto(f"{portal}/")
    rep.get_by_role("link", name=re.compile(r"^Em aberto")).click()
    open_row = rep.locator(f"[data-protocol='{protocol}']")
    expect(open_row).to_be_visible()
    expect(open_row.get_by_test_id("protocol-last")).to_contain_text("Pode trazer as armações")

    # the agent closes it
    agent.locator("#btn-close").click()
    reasons = agent.locator("#close-reason option:not([value=''])")
    if reasons.count():
        agent.locator("#close-reason").select_option(index=1)
    agent.locator("#close-submit").click()
    expect(agent.locator("#modal-close")).to_be_hidden()

    # it leaves "Em aberto" and shows under "Finalizados"
    rep.reload()
    expect(rep.locator(f"[data-protocol='{protocol}']")).to_have_count(0)
    rep.get_by_role("link", name=re.compile(r"^Finalizados")).click()
    closed_row = rep.locator(f"[data-protocol='{protocol}']")
    expect(closed_row).to_be_visible()
    expect(closed_row.get_by_test_id("protocol-status")).to_have_text("Finalizado")

    assert rep_errors == [] and agent_errors == []
    rep_context.close()
    agent_context.close()


def test_ART1_text_typed_before_the_suggestions_script_ran_is_looked_up(
        app, browser, demo, live_server):
    """The suggestions script is deferred: on a slow connection a customer can type the
    whole message before it runs, and no keystroke follows. The text already in the field
    is looked up when the script starts."""
    portal = f"{live_server}/portal/{_domain(app, demo.company_id)}"
    context, rep, errors = _representative(browser, portal)
    held = []
    rep.route("**/help/suggest.js*", lambda route: held.append(route))  # released below
    rep.get_by_role("link", name="Novo contato").click()
    rep.locator("#message").press_sequentially("Quero a devolucao de 3 armações")
    for _ in range(100):  # the page asks for the script as it is parsed; the ask waits here
        if held:
            break
        rep.wait_for_timeout(50)
    assert len(held) == 1
    held[0].continue_()
    expect(rep.get_by_role("link", name="Política de trocas e devoluções")).to_be_visible()
    assert errors == []
    context.close()
