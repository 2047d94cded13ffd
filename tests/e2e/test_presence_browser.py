"""PAU-3 / PAU-4 in a real browser: the agent opens "Iniciar Pausa", picks a pause from
the list fetched from the server, sees "Em pausa" and the notice, ends the pause; the
supervisor's home card follows the agent's status live (agent.status), the agent's
Disponível / Ausente switch (UX-3) included."""
from __future__ import annotations

from playwright.sync_api import expect

import backoffice.realtime  # noqa: F401  (socket handlers registered before any app exists)
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company, Department
from tests.factories import gen_pause

ALL_DAY = ((range(7), "00:00", "12:00"), (range(7), "12:00", "00:00"))
BRUNO = ("bruno@demo.atende.local", "demo12345")
DIEGO = ("diego@demo.atende.local", "demo12345")


def _log_in_to_panel(page, live_server, email, password):
    """An agent lands in the inbox (UX-3), whose socket makes them online: these tests
    start from the panel, offline."""
    page.goto(f"{live_server}/login?next=/admin/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_url(f"{live_server}/admin/")


def _pause_for_comercial(app, demo, name="Pausa do teste"):
    with app.app_context():
        company = db.session.get(Company, demo.company_id)
        comercial = db.session.scalar(select(Department).where(
            Department.company_id == demo.company_id, Department.name == "Comercial"))
        gen_pause(company, name, [comercial], windows=ALL_DAY)
        db.session.commit()
        db.session.remove()


def test_PAU_3_agent_starts_and_ends_a_pause_from_the_navbar(app, demo, live_server, page):
    _pause_for_comercial(app, demo)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in_to_panel(page, live_server, *BRUNO)
    badge = page.get_by_test_id("presence-badge")
    expect(badge).to_have_text("Offline")
    notice = page.get_by_test_id("presence-notice")
    expect(notice).to_be_hidden()

    page.get_by_role("button", name="Iniciar Pausa").click()
    menu = page.get_by_test_id("presence-pauses")
    expect(menu.get_by_role("button", name="Pausa do teste")).to_be_visible()
    menu.get_by_role("button", name="Pausa do teste").click()

    expect(badge).to_have_text("Em pausa: Pausa do teste")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Seu status é em pausa: Pausa do teste")
    expect(page.get_by_role("button", name="Iniciar Pausa")).to_be_hidden()

    page.reload()  # the status is the server's, not the page's
    expect(page.get_by_test_id("presence-badge")).to_have_text("Em pausa: Pausa do teste")
    page.get_by_role("button", name="Encerrar Pausa").click()
    expect(page.get_by_test_id("presence-badge")).to_have_text("Offline")
    expect(page.get_by_test_id("presence-notice")).to_be_hidden()
    expect(page.get_by_role("button", name="Iniciar Pausa")).to_be_visible()

    # UX-3: the navbar's switch is the agent's, and stays as they left it
    switch = page.locator("#availability-switch")
    expect(switch).to_be_checked()
    with page.expect_response("**/presence/availability"):
        page.locator("label[for=availability-switch]").click()
    expect(switch).not_to_be_checked()
    page.reload()
    expect(page.locator("#availability-switch")).not_to_be_checked()
    assert errors == []


def test_PAU_4_supervisor_home_follows_agent_status_live(app, demo, live_server, browser, log_in):
    _pause_for_comercial(app, demo)
    supervisor = browser.new_context().new_page()
    supervisor.set_default_timeout(5_000)
    log_in(supervisor, *DIEGO)
    supervisor.goto(f"{live_server}/admin/")
    card = supervisor.get_by_test_id("team-status")
    row = card.locator("tr", has_text="Bruno Lima")
    expect(row).to_contain_text("Offline")
    supervisor.wait_for_function("() => window.io !== undefined")

    agent = browser.new_context().new_page()
    agent.set_default_timeout(5_000)
    _log_in_to_panel(agent, live_server, *BRUNO)
    agent.get_by_role("button", name="Iniciar Pausa").click()
    agent.get_by_test_id("presence-pauses").get_by_role("button", name="Pausa do teste").click()
    expect(agent.get_by_test_id("presence-badge")).to_have_text("Em pausa: Pausa do teste")

    expect(row).to_contain_text("Em pausa: Pausa do teste")
    agent.get_by_role("button", name="Encerrar Pausa").click()
    expect(row).to_contain_text("Offline")

    # UX-3: in the inbox the agent is online; "Ausente" reaches the supervisor live
    agent.goto(f"{live_server}/inbox/")
    expect(row).to_contain_text("Disponível")
    agent.locator("label[for=availability-switch]").click()
    expect(row).to_contain_text("Ausente")
    expect(agent.locator("#availability-switch")).not_to_be_checked()
    agent.locator("label[for=availability-switch]").click()
    expect(row).to_contain_text("Disponível")
