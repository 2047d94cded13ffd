"""REP-1 in a real browser: Relatórios draws its charts with Chart.js, and a click on a
bar opens the tickets behind it (the facts are test_reports_queries's fixed set)."""
from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import save_screenshot
from tests.e2e.steps import record_errors
from tests.factories import PASSWORD
from tests.test_reports_queries import _world

# make test runs these pages in the services pass, on PostgreSQL, whose report queries
# differ from SQLite's (Makefile)
pytestmark = pytest.mark.browser_on_services


def test_REP_1_clicking_a_volume_bar_opens_its_tickets(app, timeline, live_server, page, log_in):
    timeline.set(datetime(2026, 12, 8, 1, 0))
    with app.app_context():
        w = _world()
        first_day = [w["tickets"][0].protocol, w["tickets"][1].protocol]
        other_day = w["tickets"][2].protocol
    errors: list[str] = []
    record_errors(page, errors)
    page.set_viewport_size({"width": 1440, "height": 900})
    log_in(page, "admin-a@example.com", PASSWORD)
    page.goto(f"{live_server}/admin/reports/?start=2026-12-01&end=2026-12-07")
    canvas = page.locator('canvas[data-chart="volume"]')
    expect(canvas).to_be_visible()
    # the "Criados" bar of 01/12 (2 tickets): its centre, from Chart.js's own layout
    bar = canvas.evaluate("""c => {
        const chart = Chart.getChart(c);
        const el = chart.getDatasetMeta(0).data[0];
        return {value: chart.data.datasets[0].data[0], label: chart.data.labels[0],
                x: el.x, y: (el.y + el.base) / 2};
    }""")
    assert (bar["value"], bar["label"]) == (2, "01/12/2026")
    save_screenshot(page, "reports")
    canvas.click(position={"x": bar["x"], "y": bar["y"]})
    page.wait_for_url("**/admin/reports/tickets?**")
    assert "day=2026-12-01" in page.url
    table = page.get_by_test_id("drill-table")
    for protocol in first_day:
        expect(table.get_by_role("link", name=protocol)).to_be_visible()
    expect(table.get_by_role("link", name=other_day)).to_have_count(0)
    expect(page.get_by_test_id("drill-summary")).to_contain_text("2 atendimento(s).")
    assert errors == []
