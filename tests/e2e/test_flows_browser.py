"""AUT-2 in a real browser: the flow editor (Drawflow) draws a flow from its palette, links
it by dragging, publishes it, and the test pane chats with the drawing."""
from __future__ import annotations

from playwright.sync_api import expect

from backoffice.extensions import db
from backoffice.models import Flow
from tests.factories.companies import PASSWORD


def drag(page, source, target):
    """Press on `source`, move in steps and release on `target`, as a person would: Drawflow
    links an output to the input under the pointer on mouseup."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def test_AUT_2_draw_link_publish_and_test_a_flow(app, tenants, live_server, log_in, page):
    with app.app_context():
        flow = Flow(company_id=tenants["a"].company_id, name="Boas-vindas E2E",
                    draft={"nodes": {"1": {"type": "start", "x": 40, "y": 260, "data": {},
                                           "next": {}}}})
        db.session.add(flow)
        db.session.commit()
        flow_id = flow.id
    errors = []  # script errors and CSP refusals; not Chromium's own /favicon.ico request
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and not (
        m.location.get("url") or "").split("?")[0].endswith("/favicon.ico") else None)
    log_in(page, tenants["a"].admin_email, PASSWORD)
    page.goto(f"{live_server}/admin/flows/editor/?id={flow_id}")
    expect(page.locator("#flow-editor[data-ready='1']")).to_be_visible()

    page.get_by_test_id("flow-add-message").click()
    page.get_by_test_id("flow-panel").locator("textarea").first.fill("Olá! Como podemos ajudar?")
    page.get_by_test_id("flow-add-end").click()
    start = page.locator(".drawflow-node.start")
    message = page.locator(".drawflow-node.message")
    end = page.locator(".drawflow-node.end")
    expect(message.locator(".flow-node-summary")).to_have_text("Olá! Como podemos ajudar?")
    expect(message.locator(".output_1")).to_have_attribute("data-label", "seguir")

    drag(page, start.locator(".output_1"), message.locator(".input_1"))
    drag(page, message.locator(".output_1"), end.locator(".input_1"))
    expect(page.locator(".drawflow .connection")).to_have_count(2)

    page.get_by_test_id("flow-publish").click()
    expect(page.get_by_test_id("flow-alert")).to_contain_text("Fluxo publicado: versão 1")
    expect(page.get_by_test_id("flow-version")).to_have_text("Publicado: versão 1")

    page.get_by_test_id("flow-test-text").fill("oi")
    page.get_by_test_id("flow-test-send").click()
    log = page.get_by_test_id("flow-test-log")
    expect(log.locator(".msg.bot")).to_have_text(["Olá! Como podemos ajudar?"])
    expect(page.get_by_test_id("flow-test-outcome")).to_have_text("Resultado: Fim")
    assert errors == []
