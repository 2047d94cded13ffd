"""SEC-2: server-side requests a company can aim (the HTTP API connection, webhooks, every
future integration) never reach loopback, private, link-local or reserved addresses,
follow no redirect, stop at a timeout and a response size cap, and tell the company
what failed in generic words only. A connection's kind is fixed once it is created.

The test apps allow private targets (ALLOW_PRIVATE_URLS, see conftest) so the provider
tests can use local servers; the tests here switch it off where that is the point.
"""
from __future__ import annotations

import html
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from flask_babel import Babel
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.lib import outbound
from backoffice.models import Company, Connection, Message
from backoffice.services import RuleError, sending
from backoffice.lib import after_commit
from backoffice.services import connections as connection_rules
from backoffice.services import webhooks as webhook_rules
from tests.conftest import login
from tests.factories import gen_agent_setup, gen_connection

# what the OS or the HTTP layer would have said: none of it may reach the company
LEAKS = ("recusad", "refused", "HTTP", "127.0.0.1", "errno", "Errno", "timed out", "404",
         "400", "302", "500")


class LocalServer:
    """A local HTTP server that records every request and answers with `reply(handler)`."""

    def __init__(self, reply=None):
        self.hits: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.hits.append((self.command, self.path))
                if reply is None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"id": "ok"}')
                else:
                    reply(self)

            do_GET = do_POST = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served():
    servers = []

    def start(reply=None) -> LocalServer:
        servers.append(LocalServer(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture(scope="module")
def bare_app():
    """A minimal Flask app: the helper's unit tests need only its config and Babel."""
    app = Flask(__name__)
    Babel(app)
    app.config["BABEL_DEFAULT_LOCALE"] = "pt_BR"
    return app


@pytest.fixture
def switch(bare_app):
    """An app context whose ALLOW_PRIVATE_URLS is what the test sets (off by default)."""
    bare_app.config["ALLOW_PRIVATE_URLS"] = False
    with bare_app.app_context():
        yield bare_app.config


def _fail_connecting(monkeypatch) -> list:
    """Record every address a socket is opened to, and open none."""
    opened = []

    def fake(address, *args, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", fake)
    return opened


def _fake_dns(monkeypatch, *answers: str) -> list:
    """getaddrinfo answering `answers[0]` on the first call, `answers[1]` on the next..."""
    calls = []
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in ("127.0.0.1", "::1") or host.startswith("127."):
            return real(host, port, *args, **kwargs)
        ip = answers[min(len(calls), len(answers) - 1)]
        calls.append(host)
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sockaddr = (ip, port or 80, 0, 0) if family == socket.AF_INET6 else (ip, port or 80)
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


# -- the attack, end to end ------------------------------------------------------------


@pytest.fixture
def no_private(app):
    app.config["ALLOW_PRIVATE_URLS"] = False
    app.config["SEND_RETRY_DELAYS"] = ()  # one attempt, then failed
    return app


def test_SEC_2_connection_pointing_at_loopback_never_gets_the_post(app, no_private, served):
    """The attack: an admin points the HTTP API connection at 127.0.0.1:<port of a live
    server> and an agent sends a message. The server gets nothing; the agent sees
    "Não foi possível entregar ao destino." with no OS error, address or status code."""
    inside = served()
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=inside.url)
        message = sending.queue(setup.ticket, setup.agent, "Mapeando a rede interna")
        after_commit.commit()
        db.session.expire_all()
        m = db.session.get(Message, message.id)
        assert inside.hits == []
        assert m.status == "failed"
        assert m.error == "Não foi possível entregar ao destino."


@pytest.mark.parametrize("status, permanent", [(400, True), (429, False), (500, False),
                                               (302, True)])
def test_SEC_2_status_codes_are_not_shown_to_the_company(app, served, status, permanent):
    """With private targets allowed (on-premises), a refusal still reads "O destino
    recusou a mensagem." with no status code; 4xx stays final, 429/5xx are retried."""
    def reply(h):
        h.send_response(status)
        h.send_header("Location", "http://127.0.0.1:9/elsewhere")
        h.send_header("Content-Length", "0")
        h.end_headers()

    target = served(reply)
    app.config["SEND_RETRY_DELAYS"] = (5,)
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=target.url)
        message = sending.queue(setup.ticket, setup.agent, "Olá")
        after_commit.commit()
        db.session.expire_all()
        m = db.session.get(Message, message.id)
        assert len(target.hits) == 1
        assert m.status == ("failed" if permanent else "queued")
        assert m.error == "O destino recusou a mensagem."


def test_SEC_2_closed_port_reads_as_generic_words(app, served):
    """A closed port (the old text said "conexão recusada") and a name that does not
    resolve read the same: "Não foi possível entregar ao destino."."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    app.config["SEND_RETRY_DELAYS"] = ()
    with app.app_context():
        for n, url in enumerate((f"http://127.0.0.1:{closed}/x", "http://nao-existe.invalid/x")):
            setup = gen_agent_setup(endpoint_url=url, key=f"k{n}")
            message = sending.queue(setup.ticket, setup.agent, "Olá")
            after_commit.commit()
            db.session.expire_all()
            error = db.session.get(Message, message.id).error
            assert error == "Não foi possível entregar ao destino.", url
            assert not any(word in error for word in LEAKS)


# -- the helper: every refused address class --------------------------------------------


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.10",
    "169.254.169.254", "0.0.0.0", "224.0.0.251", "239.255.255.250", "100.64.0.1",
    "255.255.255.255", "240.0.0.1", "192.0.0.8", "198.18.0.1",
    "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:10.0.0.1]", "[::127.0.0.1]",
    "[fe80::1]", "[fc00::1]", "[fd12:3456::1]", "[ff02::1]", "[fec0::1]",
    "[2002:7f00:1::1]", "[2002:a00:1::1]", "[64:ff9b::7f00:1]", "[64:ff9b::a00:1]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[2001:db8::1]",
])
def test_SEC_2_helper_refuses_every_non_public_address(monkeypatch, switch, host):
    """A literal private/reserved address in the URL: no socket is opened at all."""
    opened = _fail_connecting(monkeypatch)
    with pytest.raises(outbound.BlockedAddress) as caught:
        outbound.post(f"http://{host}:8080/hook", b"{}", {})
    assert opened == []
    assert str(caught.value) == "Não foi possível entregar ao destino."
    assert "blocked" in caught.value.detail


@pytest.mark.parametrize("answer", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "::1",
                                    "::ffff:192.168.1.1", "fe80::1"])
def test_SEC_2_helper_refuses_a_name_that_resolves_to_a_private_address(monkeypatch, switch,
                                                                         answer):
    _fake_dns(monkeypatch, answer)
    opened = _fail_connecting(monkeypatch)
    with pytest.raises(outbound.BlockedAddress):
        outbound.post("http://interno.example.com/hook", b"{}", {})
    assert opened == []


def test_SEC_2_dns_rebinding_connects_to_the_checked_address_only(monkeypatch, switch, served):
    """The name answers a public address when checked and 127.0.0.1 right after (DNS
    rebinding): the socket goes to the public address that was checked, never to the
    local server."""
    inside = served()
    calls = _fake_dns(monkeypatch, "93.184.216.34", "127.0.0.1")
    opened = []
    real_connect = socket.create_connection

    def connect(address, *args, **kwargs):
        opened.append(address[0])
        if address[0] in ("93.184.216.34",):
            raise ConnectionRefusedError(111, "Connection refused")  # no real internet
        return real_connect(("127.0.0.1", inside.port), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)
    with pytest.raises(outbound.OutboundError):
        outbound.post(f"http://rebind.example.com:{inside.port}/hook", b"{}", {})
    assert opened == ["93.184.216.34"]
    assert inside.hits == []
    assert len(calls) == 1  # resolved once; the second (rebound) answer is never asked


def test_SEC_2_switch_lets_private_targets_through(switch, served):
    """ALLOW_PRIVATE_URLS=true (on-premises installs, tests): a local server is reached."""
    inside = served()
    switch["ALLOW_PRIVATE_URLS"] = True
    response = outbound.post(inside.url, b'{"a": 1}', {"Content-Type": "application/json"})
    assert (response.status, response.body) == (200, b'{"id": "ok"}')
    assert inside.hits == [("POST", "/hook")]
    assert outbound.get(inside.url).status == 200


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/",
                                 "http://user:pw@example.com/", "http:///x", "nada"])
def test_SEC_2_helper_refuses_other_schemes_and_malformed_urls(monkeypatch, switch, url):
    opened = _fail_connecting(monkeypatch)
    with pytest.raises(outbound.OutboundError):
        outbound.post(url, b"", {})
    assert opened == []


def test_SEC_2_redirect_is_not_followed(switch, served):
    """A 302 to another (internal) server: the second server gets nothing and the send
    fails, even with private targets allowed."""
    second = served()

    def redirect(h):
        h.send_response(302)
        h.send_header("Location", second.url)
        h.send_header("Content-Length", "0")
        h.end_headers()

    first = served(redirect)
    switch["ALLOW_PRIVATE_URLS"] = True
    with pytest.raises(outbound.Refused) as caught:
        outbound.post(first.url, b"{}", {})
    assert caught.value.status == 302 and caught.value.permanent
    assert str(caught.value) == "O destino recusou a mensagem."
    assert len(first.hits) == 1 and second.hits == []


def test_SEC_2_response_body_is_capped(switch, served):
    """A destination answering megabytes: at most `max_bytes` are read."""
    def huge(h):
        h.send_response(200)
        h.send_header("Content-Length", str(4 * 1024 * 1024))
        h.end_headers()
        try:
            for _ in range(64):
                h.wfile.write(b"x" * 65536)
        except OSError:
            pass  # the client hung up after its cap: expected

    target = served(huge)
    switch["ALLOW_PRIVATE_URLS"] = True
    response = outbound.post(target.url, b"{}", {}, max_bytes=1024)
    assert response.status == 200 and len(response.body) == 1024 and response.truncated


def test_SEC_2_silent_destination_times_out(switch):
    """A destination that accepts the connection and never answers: the helper gives up
    after its timeout with "O destino não respondeu a tempo."."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepted by the kernel, never answered
        switch["ALLOW_PRIVATE_URLS"] = True
        started = time.monotonic()
        with pytest.raises(outbound.Timeout) as caught:
            outbound.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {},
                          timeout=0.3)
        assert time.monotonic() - started < 3
    assert str(caught.value) == "O destino não respondeu a tempo."


def test_SEC_2_default_timeout_and_switch_come_from_the_settings(tmp_path, monkeypatch):
    """Private targets are refused unless the operator sets ALLOW_PRIVATE_URLS=true."""
    from backoffice import config

    monkeypatch.delenv("ALLOW_PRIVATE_URLS", raising=False)
    monkeypatch.delenv("OUTBOUND_TIMEOUT", raising=False)
    cfg = config.load(tmp_path)
    assert cfg["ALLOW_PRIVATE_URLS"] is False
    assert 0 < cfg["OUTBOUND_TIMEOUT"] <= 10
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    assert config.load(tmp_path)["ALLOW_PRIVATE_URLS"] is True


# -- checks at save time ---------------------------------------------------------------

PRIVATE_URLS = ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://LOCALHOST./x",
                "http://api.localhost/x", "http://[::1]/hook", "http://169.254.169.254/latest",
                "http://10.0.0.5:8080/hook", "http://192.168.1.1/", "http://0.0.0.0/",
                "http://[::ffff:127.0.0.1]/", "https://[fe80::1]/", "http://100.64.0.1/"]
LOCAL_MESSAGE = "Use um endereço público da internet"


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_SEC_2_save_time_refuses_literal_private_addresses_and_localhost(switch, url):
    """Saving a webhook or an HTTP API connection with a visibly local URL says so."""
    with pytest.raises(RuleError, match=LOCAL_MESSAGE):
        webhook_rules.check_url(url)
    assert webhook_rules.check_url("https://crm.example.com/hook") == \
        "https://crm.example.com/hook"
    switch["ALLOW_PRIVATE_URLS"] = True
    assert webhook_rules.check_url(url) == url


def test_SEC_2_connection_and_webhook_screens_refuse_a_loopback_url(app, tenants, client):
    app.config["ALLOW_PRIVATE_URLS"] = False
    login(client, tenants["a"].admin_email)
    page = client.submit("/admin/connections/new/", {
        "name": "ERP", "kind": "http_api", "active": "y", "widget_color": "#1f6f8b",
        "endpoint_url": "http://127.0.0.1:6379/"})
    assert page.status_code == 200 and LOCAL_MESSAGE in html.unescape(page.text)
    page = client.submit("/admin/webhooks/new/", {
        "name": "CRM", "url": "http://localhost:5432/", "events": ["ticket.created"],
        "active": "y"})
    assert page.status_code == 200 and LOCAL_MESSAGE in html.unescape(page.text)
    with app.app_context():
        assert db.session.scalar(select(Connection).where(Connection.name == "ERP")) is None


# -- the kind of a connection is fixed -------------------------------------------------


def test_SEC_2_kind_of_a_saved_connection_cannot_be_changed(app, tenants, client):
    """A forged edit POST turning the webchat connection into an HTTP API one (to make
    the server POST somewhere) leaves the kind as it was; the form shows it read-only."""
    cid = tenants["a"].ids["connections"]
    login(client, tenants["a"].admin_email)
    page = client.get(f"/admin/connections/edit/?id={cid}")
    assert 'name="kind"' not in page.text and "Webchat (site)" in page.text
    client.submit(f"/admin/connections/edit/?id={cid}", {
        "name": "Conexão exclusiva A", "kind": "http_api", "active": "y",
        "widget_color": "#1f6f8b", "endpoint_url": "https://erp.example.com/a"})
    with app.app_context():
        assert db.session.get(Connection, cid).kind == "webchat"
    # creating still chooses the kind
    assert 'name="kind"' in client.get("/admin/connections/new/").text


def test_SEC_2_check_connection_refuses_a_kind_change(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        conn = gen_connection(company, "Site novo")
        db.session.commit()
        cid = conn.id
        for loaded in (True, False):  # the old value read before the change, or not
            if not loaded:
                db.session.expire(conn)
            conn.kind = "http_api"
            conn.endpoint_url = "https://erp.example.com/a"
            with pytest.raises(RuleError, match="O tipo da conexão não pode ser mudado"):
                connection_rules.check_connection(conn, exclude_id=cid)
            db.session.rollback()
        assert db.session.get(Connection, cid).kind == "webchat"
