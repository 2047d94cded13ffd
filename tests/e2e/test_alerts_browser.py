"""UX-1 in real Chromium at 1440×900: an agent whose inbox tab is hidden is alerted when a
webchat visitor writes (the count in the tab title and on the favicon, the unread badges
of the views, a desktop notification whose body is the message as text), an agent of
another department is not; when the agent comes back and opens the conversation, the
counts go back to zero. A refused notification permission is explained once in
Portuguese and the page keeps working; the sound switch is saved for the user.

Headless Chromium never hides a tab by itself, and bringing another page to the front
does not change document.hidden there either, so an init script overrides
document.hidden / visibilityState and dispatches visibilitychange when the test "switches
tabs" (window.__atendeSetHidden). The same script replaces window.Notification with a
recorder (the permission and the user's answer set per test, the answer remembered in
localStorage as a browser would) and makes WebAudio throw, as on a machine with no audio
device: the alerts must go on without the sound.
"""
from __future__ import annotations

import json

from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import User
from tests.e2e.screens import DESKTOP, save_screenshot
from tests.e2e.steps import open_inbox, visitor_writes
from tests.factories import PASSWORD

XSS = "<img src=x onerror=alert(1)>"
TITLE = "Atendimento · Atende"
DENIED = ("As notificações da área de trabalho estão bloqueadas neste navegador. Os alertas "
          "continuam no título da aba, no som e nos contadores; para recebê-las, permita as "
          "notificações deste site nas configurações do navegador.")

STUBS = """
(() => {
  const config = %s;
  let hidden = config.hidden;
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  Object.defineProperty(document, "visibilityState", {configurable: true,
                                                      get: () => (hidden ? "hidden" : "visible")});
  window.__atendeSetHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
  const calls = [];
  window.__notifications = calls;
  function FakeNotification(title, options) {
    calls.push({title: title, body: options && options.body});
    this.close = () => {};
  }
  FakeNotification.permission = localStorage.getItem("fake-permission") || config.permission;
  FakeNotification.requestPermission = () => {
    localStorage.setItem("fake-permission", config.answer);
    FakeNotification.permission = config.answer;
    return Promise.resolve(config.answer);
  };
  window.Notification = FakeNotification;
  window.AudioContext = function () { throw new Error("no audio device"); };
  window.webkitAudioContext = undefined;
})();
"""


def agent_page(browser, live_server, log_in, email, errors, hidden=True, permission="granted",
               answer="granted"):
    context = browser.new_context(locale="pt-BR", viewport=DESKTOP)
    context.add_init_script(script=STUBS % json.dumps(
        {"hidden": hidden, "permission": permission, "answer": answer}))
    page = context.new_page()
    page.set_default_timeout(8_000)
    open_inbox(page, live_server, log_in, email, errors)
    return context, page


def test_UX_1_hidden_tab_shows_count_badges_and_notification_only_to_who_sees_the_ticket(
        app, browser, page, shop, webchat_world, live_server, log_in, console_errors):
    world = webchat_world
    errors: list[str] = []
    agent_context, agent = agent_page(browser, live_server, log_in, world.agents["support"], errors)
    seller_context, seller = agent_page(browser, live_server, log_in, world.agents["sales"], errors)
    expect(agent).to_have_title(TITLE)
    icon = agent.locator('link[rel~="icon"]')
    original_icon = icon.get_attribute("href")

    # a visitor writes to Suporte while the agent's tab is hidden
    chat = visitor_writes(page, shop, world.key, XSS, name="Maria Visitante")
    expect(chat.locator(".wc-msg.wc-mine .wc-text")).to_have_text(XSS)

    expect(agent).to_have_title(f"(1) {TITLE}")
    expect(agent.locator("#view-unread-all")).to_have_text("1 1 não lida(s)")
    expect(agent.locator("#view-unread-unassigned")).to_have_text("1 1 não lida(s)")
    expect(agent.locator("#view-unread-mine")).to_be_hidden()
    assert icon.get_attribute("href").startswith("data:image/png;base64,")
    agent.wait_for_function("() => window.__notifications.length > 0")
    # the message's characters as the body, never markup
    assert agent.evaluate("window.__notifications") == [{"title": "Maria Visitante", "body": XSS}]
    save_screenshot(agent, "inbox-alerts")

    # the Vendas agent may not see the ticket: no count, no badge, no notification
    expect(agent.locator(".ticket-row")).to_have_count(1)
    assert seller.title() == TITLE
    expect(seller.locator("#view-unread-all")).to_be_hidden()
    assert seller.evaluate("window.__notifications") == []

    # the admin panel's "Atendimento" menu item shows the supervisor's waiting conversations
    admin_context = browser.new_context(locale="pt-BR", viewport=DESKTOP)
    admin = admin_context.new_page()
    log_in(admin, "admin-wa@example.com", PASSWORD)  # company A's admin (gen_webchat_world)
    admin.goto(f"{live_server}/admin/")
    expect(admin.locator("a.atende-inbox-link [data-testid=inbox-menu-unread]")).to_have_text("1 1 não lida(s)")
    admin_context.close()

    # the agent comes back and opens the conversation: it is read, the counts go to zero
    agent.evaluate("window.__atendeSetHidden(false)")
    agent.locator(".ticket-row").click()
    expect(agent.locator(".msg .msg-text")).to_have_text([XSS])
    expect(agent).to_have_title(TITLE)
    expect(agent.locator("#view-unread-all")).to_be_hidden()
    assert icon.get_attribute("href") == original_icon

    # a second message while the tab is visible: counted, but no desktop notification
    chat.locator("#wc-text").fill("Ainda está aí?")
    chat.locator("#wc-text").press("Enter")
    expect(agent.locator(".msg .msg-text", has_text="Ainda está aí?")).to_have_count(1)
    assert len(agent.evaluate("window.__notifications")) == 1

    assert errors == [] and console_errors == []
    agent_context.close()
    seller_context.close()


def test_UX_1_denied_notifications_explained_once_page_keeps_working_sound_saved(
        app, browser, webchat_world, live_server, log_in):
    errors: list[str] = []
    email = webchat_world.agents["support"]
    context, agent = agent_page(browser, live_server, log_in, email, errors,
                                hidden=False, permission="default", answer="denied")
    ask = agent.get_by_role("button", name="Ativar notificações")
    expect(ask).to_be_visible()
    ask.click()
    notice = agent.get_by_test_id("alerts-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(DENIED)
    expect(ask).to_be_hidden()

    # the page keeps working: the views switch, the sound can be turned off
    agent.locator("#filter-view-mine").click()
    expect(agent.locator("#filter-view-mine")).to_have_attribute("aria-pressed", "true")
    bell = agent.get_by_role("button", name="Som dos alertas")
    expect(bell).to_have_attribute("aria-pressed", "true")
    bell.click()
    expect(bell).to_have_attribute("aria-pressed", "false")
    with app.app_context():
        assert db.session.scalar(select(User.sound_enabled).where(User.email == email)) is False
        db.session.remove()

    # after a reload: still off, the refusal is remembered and not explained again
    agent.reload()
    expect(bell).to_have_attribute("aria-pressed", "false")
    expect(agent.locator("#filter-view-all")).to_be_visible()
    expect(ask).to_be_hidden()
    expect(notice).to_be_hidden()
    assert errors == []
    context.close()
