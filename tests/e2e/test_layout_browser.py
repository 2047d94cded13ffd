"""UX-5 / UX-2 in a real browser: on a phone (390×844) the side menu hides behind its
toggle and opens, lists and forms never scroll sideways, the department form's tabs and
its save bar work; the dark theme follows the system setting on the login page and the
panel."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import DEMO_ADMIN

PHONE = {"width": 390, "height": 844}
DARK_BG = "rgb(21, 24, 29)"  # --at-bg of the dark theme (static/admin/atende.css)
LIGHT_BG = "rgb(244, 246, 248)"


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE}


def no_sideways_scroll(page) -> bool:
    wide = page.evaluate("""() => {
        const root = document.documentElement;
        if (root.scrollWidth <= root.clientWidth) { return null; }
        // what sticks out, to name it in the failure
        return [root.scrollWidth, root.clientWidth, Array.from(document.querySelectorAll("body *"))
            .filter(el => el.getBoundingClientRect().right > root.clientWidth + 1)
            .slice(0, 8).map(el => el.tagName + "." + el.className + "#" + el.id)];
    }""")
    assert wide is None, wide
    return True


def body_background(page) -> str:
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


def test_UX_5_UX_2_phone_menu_behind_toggle_no_sideways_scroll_and_dark_theme(
        page, live_server, demo, log_in):
    # -- dark theme from the system setting, login page first ----------------------------
    page.emulate_media(color_scheme="dark")
    page.goto(f"{live_server}/login")
    assert body_background(page) == DARK_BG
    expect(page.locator("link#favicon")).to_have_attribute("href", re.compile(r"favicon\.svg$"))
    log_in(page, *DEMO_ADMIN)
    expect(page).to_have_url(f"{live_server}/admin/")
    assert body_background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert body_background(page) == LIGHT_BG
    expect(page.locator("link#favicon")).to_have_attribute("href", re.compile(r"favicon\.svg$"))

    # -- the menu waits behind its toggle --------------------------------------------------
    sidebar = page.locator("#atende-sidebar")
    toggle = page.get_by_test_id("menu-toggle")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert no_sideways_scroll(page)
    page.wait_for_load_state("load")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    group = sidebar.locator('.atende-menu-group[data-group="Configurações"]')
    group.get_by_role("button", name="Configurações", exact=True).click()
    expect(group.locator(".atende-submenu")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    group.get_by_role("link", name="Departamentos", exact=True).click()

    # -- a list page: the table scrolls inside its box, never the page ----------------------
    expect(page).to_have_url(re.compile(r"/admin/departments/$"))
    expect(sidebar).to_be_hidden()
    expect(page.locator("table.model-list tbody tr").first).to_be_visible()
    assert no_sideways_scroll(page)

    # -- the department form: tabs and a save bar always in sight --------------------------
    page.locator("table.model-list tbody tr").first.get_by_title("Editar registro").click()
    expect(page).to_have_url(re.compile(r"/admin/departments/edit/"))
    tabs = page.get_by_test_id("form-tabs")
    expect(tabs.get_by_role("tab")).to_have_text(
        ["Principal", "Parâmetros", "Membros", "Inatividade", "Mensagens de ação", "Telefonia"])
    expect(page.get_by_label("Nome")).to_be_visible()
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_be_hidden()
    page.wait_for_load_state("load")  # Bootstrap's tabs listen once its script has run
    tabs.get_by_role("tab", name="Mensagens de ação").click()
    expect(page.get_by_label("Texto ao iniciar o atendimento")).to_be_visible()
    expect(page.get_by_label("Nome")).to_be_hidden()
    expect(page.get_by_test_id("save-bar")).to_be_in_viewport()
    assert no_sideways_scroll(page)
