"""PLT-6 / UX-7 Atualizações: what changed for the customer in each version, rendered
from backoffice/updates.md (Portuguese, for customers), escaped. CHANGELOG.md stays the
developer notes: every version there has its customer notes, and the page shows none of
the developer text."""
from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from backoffice import version
from backoffice.admin.updates import UPDATES
from backoffice.extensions import db
from backoffice.models import Company
from backoffice.services import changelog
from tests.conftest import login
from tests.factories import gen_group, gen_user

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"


def _changelog(html: str) -> str:
    return re.search(r'data-testid="changelog">(.*?)</div>', html, re.S).group(1)


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def test_UX_7_every_version_of_the_changelog_has_customer_notes():
    """A release writes both: the developer notes (CHANGELOG.md) and what changed for the
    customer (backoffice/updates.md), version for version."""
    developer = changelog.versions(CHANGELOG.read_text(encoding="utf-8"))
    customer = changelog.versions(UPDATES.read_text(encoding="utf-8"))
    assert developer and customer == developer
    assert customer[0] == version.VERSION  # the version in use is the newest


def test_UX_7_updates_page_shows_the_customer_notes_not_the_developer_ones(app, tenants, a_client):
    notes = UPDATES.read_text(encoding="utf-8")
    page = a_client.get("/admin/updates/")
    assert page.status_code == 200
    headings = re.findall(r'<h3 class="changelog-version">(.*?)</h3>', page.text)
    assert [h.split()[0] for h in headings] == changelog.versions(notes)
    assert headings[0].startswith(version.VERSION)
    first_item = re.search(r"^- (.+)$", notes, re.M).group(1)
    assert html.unescape(first_item.split(":")[0]) in html.unescape(page.text)
    body = _changelog(page.text)
    assert "<li>" in body and "## " not in body
    # the developer notes stay out: commands, internals
    for developer_only in ("flask inbox sweeper", "docs/ARCHITECTURE.md", "SSRF", "Redis"):
        assert developer_only in CHANGELOG.read_text(encoding="utf-8")
        assert developer_only not in page.text, developer_only


def test_PLT_6_updates_page_is_next_to_about_for_any_logged_in_user(app, tenants):
    assert app.test_client().get("/admin/updates/").status_code == 302  # login first
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "nada@example.com", gen_group(company, "Nada", []))
        db.session.commit()
    client = app.test_client()
    login(client, "nada@example.com")
    home = client.get("/admin/")
    assert client.get("/admin/updates/").status_code == 200
    links = re.findall(r'href="(/admin/[a-z_]+/)"', home.text)
    assert "/admin/updates/" in links
    assert links.index("/admin/updates/") == links.index("/admin/about/") + 1


def test_PLT_6_notes_text_is_escaped_and_rereads_on_change(app, tenants, a_client, tmp_path):
    path = tmp_path / "updates.md"
    path.write_text(
        "# Changelog\n\n## 9.9.9 <script>alert(1)</script>\n\nTexto com <img src=x onerror=alert(2)>.\n\n"
        "- Item com `<b>código</b>` e <a href=javascript:x>link</a>\n"
        "  continuação do item\n- Segundo item\n", encoding="utf-8")
    app.config["UPDATES_PATH"] = str(path)
    page = a_client.get("/admin/updates/").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<a href=javascript" not in page
    assert "<code>&lt;b&gt;código&lt;/b&gt;</code>" in page
    items = re.findall(r"<li>(.*?)</li>", _changelog(page), re.S)
    assert len(items) == 2 and items[0].endswith("continuação do item")

    path.write_text("## 10.0.0 — nova\n\n- Novidade\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    page = a_client.get("/admin/updates/").text
    assert "10.0.0 — nova" in page and "9.9.9" not in page
