"""SEC-8: security headers on every response (backoffice.lib.headers).

Every page, JSON answer and error page says nosniff, a referrer policy, and that no other
site may frame it; the Content-Security-Policy allows scripts from this origin only
(Flask-Admin's pages also inline ones, see the module). The webchat frame alone is
framed by the customers' sites.
"""
from __future__ import annotations

import pytest

from backoffice.extensions import db
from tests.conftest import login


def csp(response) -> dict[str, set[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    parts = [p.split() for p in policy.split(";") if p.strip()]
    return {p[0]: set(p[1:]) for p in parts}


def assert_common(response):
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin",
                                                      "same-origin", "no-referrer")
    policy = csp(response)
    assert policy["default-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert "base-uri" in policy
    return policy


@pytest.fixture
def site(app):
    """One company (its admin holds every right) with a webchat connection."""
    from tests.factories import gen_company, gen_connection

    with app.app_context():
        company, admin = gen_company("Alfa Comércio", "admin-a@example.com")
        db.session.flush()
        key = gen_connection(company, "Site", kind="webchat").public_key
        db.session.commit()
        return {"admin": admin.email, "key": key}


PAGES = [  # path, status, whether inline scripts are allowed
    ("/admin/", 200, True),              # Flask-Admin's onclick handlers: see lib.headers
    ("/admin/users/", 200, True),
    ("/inbox/", 200, False),
    ("/inbox/api/meta", 200, False),     # JSON
    ("/inbox/api/tickets/999999", 404, False),  # JSON error
    ("/pagina-que-nao-existe", 404, False),     # error page
]


def test_SEC_8_every_page_sends_security_headers_and_cannot_be_framed(app, site):
    """Another site that frames the back office (clickjacking) gets a refusal from the
    browser, and a script injected into a page cannot run where the page needs none."""
    anonymous, client = app.test_client(), app.test_client()
    login(client, site["admin"])
    for who, path, status, inline_allowed in ([(anonymous, "/login", 200, False)]
                                              + [(client, *page) for page in PAGES]):
        response = who.get(path)
        assert response.status_code == status, path
        policy = assert_common(response)
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert policy["frame-ancestors"] == {"'none'"}, path
        assert policy["form-action"] == {"'self'"}, path
        assert "'self'" in policy["script-src"], path
        assert ("'unsafe-inline'" in policy["script-src"]) is inline_allowed, path
        assert "'unsafe-eval'" not in policy["script-src"], path


def test_SEC_8_widget_frame_is_embeddable_and_still_locked(app, site):
    """A customer's site still shows the chat frame; the frame, its API and the loader
    get the same nosniff / referrer / script rules as every other page."""
    client = app.test_client()
    key = site["key"]
    for path in (f"/widget/{key}/", f"/widget/{key}/api/config", "/widget.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = assert_common(response)
        assert "X-Frame-Options" not in response.headers, path
        assert policy.get("frame-ancestors", {"*"}) == {"*"}, path
        assert policy["script-src"] == {"'self'"}, path
