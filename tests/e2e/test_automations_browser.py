"""AUT-8 + BLK-1 in real Chromium: in the inbox's selection mode, three tickets selected,
a manual automation run on them; the success message and the tag on each ticket."""
from __future__ import annotations

from playwright.sync_api import expect

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models.automation import AutomationRule
from tests.factories import (
    PASSWORD,
    gen_company,
    gen_connection,
    gen_department,
    gen_tag,
    gen_ticket,
)


def test_AUT_8_BLK_1_manual_automation_on_three_selected_tickets(app, page, live_server, log_in):
    with app.app_context():
        company, admin = gen_company("Automações Ltda", "admin@automacoes.example")
        connection = gen_connection(company, "Site", kind="webchat")
        department = gen_department(company, "Suporte")
        db.session.flush()
        tag = gen_tag(company, "Cliente VIP")
        for n in range(3):
            gen_ticket(connection, department=department, contact_name=f"Cliente {n}")
        db.session.flush()
        db.session.add(AutomationRule(company_id=company.id, name="Marcar <b>VIP</b>",
                                      trigger="manual", conditions=[],
                                      actions=[{"type": "add_tag", "tag_id": tag.id}]))
        after_commit.commit()
        email = admin.email
        db.session.remove()

    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, email, PASSWORD)
    page.goto(f"{live_server}/inbox/")
    page.wait_for_load_state("load")
    rows = page.locator(".ticket-row")
    expect(rows).to_have_count(3)
    page.locator("#btn-selection").click()
    for n in range(3):
        rows.nth(n).locator(".ticket-check").check()
    page.get_by_test_id("bulk-automation").click()
    # the name is text, never HTML
    expect(page.get_by_test_id("automation-rule").locator("option")).to_have_text(["Marcar <b>VIP</b>"])
    expect(page.get_by_test_id("automation-confirm")).to_contain_text("3 atendimento(s)")
    page.get_by_test_id("automation-submit").click()
    expect(page.locator("#inbox-alert")).to_contain_text(
        "Automação Marcar <b>VIP</b> executada em 3 atendimento(s).")
    expect(page.locator(".ticket-row", has_text="Cliente VIP")).to_have_count(3)
    assert errors == []
