"""Browser tests: Debian's Chromium driven by pytest-playwright against a live server.

`playwright install` cannot download here, so the browser is always /usr/bin/chromium.
Without it these tests skip on a developer machine and fail under CI=true.
Each test gets its own app (a SQLite file when ATENDE_TEST_BACKEND=embedded) served by
Werkzeug in a daemon thread; Flask-SocketIO's threading mode runs through the same WSGI app.
"""
from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import missing_service

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
HERE = Path(__file__).resolve().parent

# Demo data of seed/demo.json (backoffice.seed.load_demo).
DEMO_ADMIN = ("admin@demo.atende.local", "demo12345")
ROOT_USER = ("root@atende.local", "root12345")
DEMO_COMPANY = "Óticas Boa Vista Ltda"


def pytest_collection_modifyitems(config, items):
    # A conftest hook sees every collected item of the session: mark only ours.
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        missing_service(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture
def page(page):
    # Fail in seconds, not after Playwright's 30 s default, when a text never shows up.
    page.set_default_timeout(5_000)
    page.set_default_navigation_timeout(10_000)
    return page


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        pass  # one line per static file drowns the failure report


@pytest.fixture
def live_server(app):
    """Base URL of the test app served on a free port of 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Demo:
    company_id: int
    admin_id: int


@pytest.fixture
def demo(app):
    """The demo company of seed/demo.json plus the SaaS super user."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models import Company, User
    from backoffice.seed import load_demo

    with app.app_context():
        assert load_demo()
        company_id = db.session.scalar(select(Company.id).where(Company.name == DEMO_COMPANY))
        admin_id = db.session.scalar(select(User.id).where(User.email == DEMO_ADMIN[0]))
        db.session.remove()
    return Demo(company_id=company_id, admin_id=admin_id)


@pytest.fixture
def log_in(live_server):
    """Fill the login form as a person would; returns after the response page loads."""

    def _log_in(page, email: str, password: str):
        page.goto(f"{live_server}/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Senha").fill(password)
        page.get_by_role("button", name="Entrar").click()
        page.wait_for_load_state()

    return _log_in


@pytest.fixture
def log_out():
    def _log_out(page):
        page.get_by_role("button", name="Sair").click()
        page.wait_for_url("**/login")

    return _log_out


@pytest.fixture
def shop(page, live_server):
    """The shop's page, served by another server (another origin) with the widget's tag.

    Both on loopback: Chromium refuses a public page loading from 127.0.0.1 (Private
    Network Access), which a real shop and a real Atende host never are."""
    pages = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body or self.path == "/favicon.ico" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # "localhost" vs the app's "127.0.0.1": another origin, as a customer's site is
    origin = f"http://localhost:{server.server_port}"

    def open_shop(key):
        pages["/"] = (f'<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">'
                      f'<title>Loja</title><style>button{{background:red!important}} '
                      f'iframe{{display:block}}</style></head><body><h1>Loja de teste</h1>'
                      f'<script src="{live_server}/widget.js" data-key="{key}" async></script>'
                      f'</body></html>')
        page.goto(f"{origin}/")

    yield open_shop
    server.shutdown()
    server.server_close()


@pytest.fixture
def console_errors(page):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    return errors
