"""Issue 14, "Must show" (UX-2, UX-5): an automated accessibility check and the screenshots.

One walk through the demo company (seed/demo.json) as its admin, at 1440×900 and at
390×844: login, panel home, inbox list, inbox with a conversation open, three
configuration screens (Departamentos list, a department's form, a new user's form) and
the site widget. On each page axe-core (axe-playwright-python, which ships axe's script:
nothing is fetched at run time) runs with its default rules and the test fails on any
violation, whatever its impact (critical, serious, moderate or minor: one level-one
heading, one main landmark, no content outside landmarks, headings in order, no empty
table header), listing rule, impact, elements and help. One exception, `THIRD_PARTY`.
The same walk saves the screenshots under docs/screenshots/ (tests/e2e/screens.py).

One live server, one seed and one login for the whole file: a browser test costs
seconds, and both sizes share the session by resizing the same page.
"""
from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company, Connection, Department, Ticket
from backoffice.models.articles import AUDIENCE_PUBLIC, STATUS_PUBLISHED, Article
from backoffice.seed import SEED_FILE
from backoffice.seed_portal import demo_representative
from tests.admin_registry import tenant_views
from tests.e2e.conftest import DEMO_ADMIN
from tests.e2e.screens import DESKTOP, PHONE, save_screenshot

FAILING_IMPACTS = ("critical", "serious", "moderate", "minor")
# (rule, selector prefix) not ours to fix: Flask-Admin's select2 3.x gives the hidden text
# input that takes the focus of a single select role="button" (minor: a role an <input
# type="text"> may not have). Any other element under that rule still fails.
THIRD_PARTY = {("aria-allowed-role", "#s2id_autogen")}

axe = Axe()


def axe_problems(target, where: str) -> list[str]:
    """Violations of `target` (a page or a frame) that fail the check, one readable block
    each: rule id, impact, the elements' selectors and axe's help text and link."""
    response = axe.run(target).response
    problems = []
    for violation in response["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        nodes = [node for node in violation["nodes"]
                 if not any(violation["id"] == rule and str(node["target"][0]).startswith(prefix)
                            for rule, prefix in THIRD_PARTY)]
        if not nodes:
            continue
        lines = [f"[{where}] {violation['id']} ({violation['impact']}): {violation['help']}",
                 f"    {violation['helpUrl']}"]
        for node in nodes[:8]:
            summary = (node.get("failureSummary") or "").replace("\n", " ").strip()
            lines.append(f"    - {' '.join(map(str, node['target']))}  {summary[:220]}")
        if len(nodes) > 8:
            lines.append(f"    ... and {len(nodes) - 8} more elements")
        problems.append("\n".join(lines))
    return problems


@pytest.fixture
def demo_rows(app, demo):
    """Ids the walk needs: an open demo ticket, a department and the site's widget key."""
    with app.app_context():
        cid = demo.company_id
        rows = {
            "department": db.session.scalar(select(Department.id).where(
                Department.company_id == cid).order_by(Department.id)),
            "widget_key": db.session.scalar(select(Connection.public_key).where(
                Connection.company_id == cid, Connection.kind == "webchat")),
            "open_tickets": db.session.scalar(select(db.func.count(Ticket.id)).where(
                Ticket.company_id == cid, Ticket.closed_at.is_(None))),
        }
        db.session.remove()
    assert rows["department"] and rows["widget_key"] and rows["open_tickets"], rows
    return rows


def test_UX_2_a11y_main_pages_have_no_violation_nor_script_error_and_screenshots_are_saved(
        page, live_server, demo, demo_rows, log_in, shop, console_errors):
    problems: list[str] = []

    def check(name: str):
        page.wait_for_load_state("load")
        size = f"{page.viewport_size['width']}x{page.viewport_size['height']}"
        problems.extend(axe_problems(page, f"{name} {size}"))
        save_screenshot(page, name)

    def visit(path: str, name: str, ready: str):
        page.goto(f"{live_server}{path}")
        expect(page.locator(ready).first).to_be_visible()
        check(name)

    # The login page at both sizes, before the session exists.
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server}/login")
        expect(page.get_by_label("E-mail")).to_be_visible()
        check("login")

    page.set_viewport_size(DESKTOP)
    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(f"{live_server}/admin/")

    department_form = f"/admin/departments/edit/?id={demo_rows['department']}"
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        visit("/admin/", "home", "h1, h2")
        visit("/inbox/", "inbox", ".ticket-row")
        # the demo's conversation with both sides in it (seed/demo.json)
        page.locator(".ticket-row", has_text="Juliana Prado").click()
        expect(page.locator(".msg-out").first).to_be_visible()
        check("inbox-conversation")
        visit("/admin/departments/", "config-list", "table.model-list")
        visit(department_form, "config-form", "form input[name=name]")
        visit("/admin/users/new/", "user-form", "form input[name=name]")

    # The widget as a customer sees it on the shop's site (another origin).
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        shop(demo_rows["widget_key"])
        bubble = page.locator("#atende-bubble.atende-ready")
        expect(bubble).to_be_attached()
        # the widget remembers, per site, that the chat was open (and on a phone the open
        # chat hides the bubble): click only to open it
        if bubble.get_attribute("aria-expanded") != "true":
            bubble.click()
        frame = page.frame_locator("#atende-frame")
        expect(frame.locator("#wc-text")).to_be_visible()
        save_screenshot(page, "widget")
        widget = next(f for f in page.frames if f.url.startswith(live_server))
        where = f"widget {size['width']}x{size['height']}"
        problems.extend(axe_problems(widget, where))

    assert not problems, (f"{len(problems)} accessibility violations:\n"
                          + "\n".join(problems))
    assert console_errors == []  # the walk's pages ran their scripts without an error


def test_UX_2_every_screen_and_the_customers_pages_have_no_accessibility_violation(
        page, live_server, demo, log_in, app):
    """UX-2, generically: axe-core (every impact, as above) on every registered screen's
    list and new form as the demo's admin, the panel's own pages (Relatórios, also at
    390×844 where its tables scroll sideways; Importar/exportar; Minha conta; Sobre;
    Atualizações) and the customers' pages (help center, an article, the portal's login,
    "Esqueci minha senha", and the portal's pages as the demo's representative), at
    1440×900. A screen added tomorrow is checked the day it
    exists. No screenshots: the walk above keeps those."""
    with app.app_context():
        company = db.session.get(Company, demo.company_id)
        domain = company.domain
        article = db.session.scalar(select(Article.id).where(
            Article.company_id == company.id, Article.status == STATUS_PUBLISHED,
            Article.audience == AUDIENCE_PUBLIC))
        screens = [f"/admin/{view.endpoint}/{suffix}" for view in tenant_views(app)
                   for suffix in ("", "new/")]
        db.session.remove()
    problems: list[str] = []
    checked = 0

    def probe(path: str) -> None:
        nonlocal checked
        response = page.goto(f"{live_server}{path}")
        page.wait_for_load_state("load")
        # a screen without a form for new rows answers with a redirect to its list
        if response is None or response.status != 200 or page.url.split("?")[0] != f"{live_server}{path}":
            return
        checked += 1
        problems.extend(axe_problems(page, f"{path} {page.viewport_size['width']}"))

    page.set_viewport_size(DESKTOP)
    for path in (f"/ajuda/{domain}/", f"/ajuda/{domain}/artigos/{article}",
                 f"/portal/{domain}/entrar", "/esqueci-senha"):
        probe(path)
    # the Fale Conosco portal as the demo's representative
    _organization, email, password = demo_representative(
        json.loads(SEED_FILE.read_text(encoding="utf-8")).get("portal"))
    page.goto(f"{live_server}/portal/{domain}/entrar")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()
    page.wait_for_load_state()
    for path in ("", "novo", "protocolos", "ajuda/", "minha-senha"):
        probe(f"/portal/{domain}/{path}")
    log_in(page, *DEMO_ADMIN)
    for path in screens + ["/admin/reports/", "/admin/data/", "/admin/data/?tab=export",
                           "/admin/account/", "/admin/about/", "/admin/updates/"]:
        probe(path)
    page.set_viewport_size(PHONE)
    probe("/admin/reports/")
    assert checked >= 60, checked  # the walk reached the screens (not a run of redirects)
    assert not problems, f"{len(problems)} accessibility violations:\n" + "\n".join(problems)
