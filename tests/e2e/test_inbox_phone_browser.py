"""The inbox on a phone (UX-2) and its polish on a laptop (UX-6), in real Chromium.

At 390×844 the inbox is two screens: the agent opens a ticket from the list, accepts it,
answers with a quick reply picked by thumb and goes back to the list (the page's "Voltar"
and the browser's back button). At 1440×900 the shortcuts are listed under "?" and
the channel badge heads a run of messages instead of repeating on every bubble."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backoffice.extensions import db
from tests.e2e.screens import DESKTOP, PHONE, save_screenshot
from tests.e2e.steps import record_errors
from tests.factories import PASSWORD

CUSTOMER = "Rosa Celular"
LONG_NAME = "Maria Aparecida da Conceição Albuquerque Figueiredo de Souza Lima e Silva Pereira"
LONG_TEXT = "Pedido" + "0123456789" * 30  # one word: only an ellipsis keeps it in the list
TEXTS = ["Bom dia!", "Meu pedido 4521 ainda não chegou", "Podem verificar?"]


@pytest.fixture
def phone_world(app, webchat_world):
    """A waiting Suporte ticket with three customer messages and a "/ola" quick reply;
    an older one whose name and message are too long for the list."""
    from backoffice.lib import after_commit
    from backoffice.models import Connection, Department, MessageTemplate
    from backoffice.services import tickets

    with app.app_context():
        connection = db.session.get(Connection, webchat_world.connection_id)
        department = db.session.get(Department, webchat_world.departments["support"])
        older = tickets.open_ticket(tickets.contact_for(connection, "visitante-longo", LONG_NAME),
                                    connection, department)
        tickets.receive(older, LONG_TEXT)
        contact = tickets.contact_for(connection, "visitante-celular", CUSTOMER)
        ticket = tickets.open_ticket(contact, connection, department)
        for text in TEXTS:
            tickets.receive(ticket, text)
        db.session.add(MessageTemplate(company_id=webchat_world.company_id, kind="text", shortcut="/ola",
                                       title="Saudação", body="Olá {{nome_cliente}}, já vou verificar."))
        after_commit.commit()
        db.session.remove()
    return webchat_world


def agent_inbox(browser, live_server, log_in, email: str, **context_args):
    """A new browser context with `email`'s inbox open; returns (page, errors)."""
    page = browser.new_context(locale="pt-BR", **context_args).new_page()
    page.set_default_timeout(8_000)
    errors: list[str] = []
    record_errors(page, errors)
    log_in(page, email, PASSWORD)
    page.goto(f"{live_server}/inbox/")
    return page, errors


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_UX_2_on_a_phone_the_agent_opens_a_ticket_answers_with_a_quick_reply_and_goes_back(
        browser, phone_world, live_server, log_in):
    page, errors = agent_inbox(browser, live_server, log_in, phone_world.agents["support"],
                               viewport=PHONE, is_mobile=True, has_touch=True)

    # the first screen: the list, full width; the header's actions fold into one menu
    row = page.locator(".ticket-row", has_text=CUSTOMER)
    expect(row).to_be_visible()
    expect(row.locator(".ticket-preview")).to_have_text(TEXTS[-1])
    expect(page.locator("#conversation")).to_be_hidden()
    logout = page.get_by_role("button", name="Sair")
    expect(logout).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    menu.tap()
    expect(logout).to_be_visible()
    menu.tap()
    expect(logout).to_be_hidden()
    assert no_sideways_scroll(page)

    # the second screen: the conversation replaces the list
    row.tap()
    expect(page.locator("#message-list .msg-text")).to_have_text(TEXTS)
    expect(page.locator("#ticket-list")).to_be_hidden()
    back = page.get_by_role("button", name="Voltar")
    expect(back).to_be_visible()
    page.locator("#btn-accept").tap()
    expect(page.locator("#btn-accept")).to_be_hidden()

    # every control a thumb needs is at least 44 px and nothing scrolls sideways
    for target in ("#btn-back", "#btn-transfer", "#btn-close", "#btn-attach", "#btn-quick", "#btn-send",
                   "#composer-text"):
        box = page.locator(target).bounding_box()
        assert box and box["height"] >= 44 and box["width"] >= 44, (target, box)
    assert no_sideways_scroll(page)

    # a quick reply picked by thumb, its variable filled in, then sent
    page.get_by_role("button", name="Respostas rápidas").tap()
    choice = page.locator("#quick-replies .qr", has_text="/ola")
    expect(choice).to_be_visible()
    choice.tap()
    expect(page.locator("#composer-text")).to_have_value(f"Olá {CUSTOMER}, já vou verificar.")
    page.locator("#btn-send").tap()
    expect(page.locator(".msg-out .msg-text")).to_have_text([f"Olá {CUSTOMER}, já vou verificar."])
    expect(page.locator("#composer-text")).to_have_value("")
    save_screenshot(page, "inbox-quick-reply")

    # "Voltar" returns to the list; the browser's back button does the same
    back.tap()
    expect(row).to_be_visible()
    expect(page.locator("#conversation")).to_be_hidden()
    row.tap()
    expect(back).to_be_visible()
    page.go_back()
    expect(row).to_be_visible()
    expect(back).to_be_hidden()
    assert page.url.endswith("/inbox/")

    # the close dialog fits the screen and says the farewell replaces the closing message
    row.tap()
    page.locator("#btn-close").tap()
    dialog = page.locator("#modal-close .modal-content")
    expect(dialog).to_contain_text("substitui a mensagem de encerramento do departamento")
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert no_sideways_scroll(page)
    assert errors == []
    page.context.close()


def test_UX_6_shortcuts_under_question_mark_and_one_channel_badge_per_run(
        browser, phone_world, live_server, log_in):
    page, errors = agent_inbox(browser, live_server, log_in, phone_world.agents["support"],
                               viewport=DESKTOP)
    row = page.locator(".ticket-row", has_text=CUSTOMER)
    expect(row).to_be_visible()

    # a fixed list width: a long name and message are cut with an ellipsis, not widening it
    long_row = page.locator(".ticket-row", has_text=LONG_NAME[:20])
    expect(long_row.locator(".ticket-preview")).to_contain_text(LONG_TEXT[:100])
    list_width = page.locator(".inbox-left").bounding_box()["width"]
    assert list_width == 368  # 23rem
    assert long_row.locator(".ticket-preview").evaluate("n => n.scrollWidth > n.clientWidth")
    assert long_row.locator(".ticket-contact").evaluate("n => n.scrollWidth > n.clientWidth")

    # one row of filters; the rest in the "Filtros" panel, which counts what is active
    expect(page.locator("#filter-status")).to_be_hidden()
    page.get_by_test_id("filters-toggle").click()
    expect(page.locator("#filter-status")).to_be_visible()
    page.locator("#filter-department").select_option(label="Suporte")
    expect(page.get_by_test_id("filters-count")).to_have_text("1")
    expect(page.locator(".ticket-row")).to_have_count(2)

    # "?" lists the shortcuts; Esc closes the list
    page.locator("body").click(position={"x": 700, "y": 450})
    page.keyboard.press("?")
    help_dialog = page.get_by_test_id("shortcuts-help")
    expect(help_dialog).to_be_visible()
    for text in ("Próximo atendimento", "Atendimento anterior", "Aceitar", "Transferir", "Finalizar",
                 "Escrever uma mensagem", "Buscar contato ou protocolo"):
        expect(help_dialog).to_contain_text(text)
    save_screenshot(page, "inbox-shortcuts")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # j opens the next conversation; the channel badge heads the run of three messages
    page.keyboard.press("j")
    expect(page.locator("#message-list .msg-text")).to_have_text(TEXTS)
    badges = page.locator("#message-list .msg-channel")
    expect(badges).to_have_count(1)
    expect(page.locator("#message-list .msg").first.locator(".msg-channel")).to_contain_text("Webchat")
    # the open conversation did not take width from the list
    assert page.locator(".inbox-left").bounding_box()["width"] == list_width

    # a accepts, r goes to the composer, where typing never fires a shortcut, Esc leaves it
    page.keyboard.press("a")
    expect(page.locator("#btn-accept")).to_be_hidden()
    page.keyboard.press("r")
    composer = page.locator("#composer-text")
    expect(composer).to_be_focused()
    page.keyboard.type("jaf?")
    expect(composer).to_have_value("jaf?")
    expect(page.locator("#modal-close")).to_be_hidden()
    expect(help_dialog).to_be_hidden()
    page.keyboard.press("Escape")
    expect(composer).not_to_be_focused()
    page.keyboard.press("f")
    expect(page.locator("#modal-close")).to_be_visible()
    expect(page.locator("#close-farewell-help")).to_contain_text("uma só despedida")
    assert errors == []
    page.context.close()
