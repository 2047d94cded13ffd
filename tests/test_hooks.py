"""CHN-2: the provider webhook route `/hooks/<kind>/<public key>` (channels/hooks.py) and
what follows it (services.channel_events), for every kind in HOOK_KINDS, so a provider
kind added tomorrow is covered the day it is added.

The route answers in the provider's terms and loses nothing: a request that is not the
provider's, or not for an active connection of that kind, stores nothing (404/403/413/
400, never 500); a signed webhook is stored and answered 200 at once, even when the queue
is down; a replay stores nothing new; the tenant is the URL's connection's, never another
company's (PLT-1), even for the same phone; items left pending (queue down) or half-done
(a worker died) are processed by the sweep.

Signed bodies come from each adapter's own `simulated()` (what its provider posts), with
the connection's settings filled from the adapter's `fields`.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backoffice.channels import adapter_for
from backoffice.channels.provider import MAX_WEBHOOK_BYTES, hmac_sha256
from backoffice.extensions import db
from backoffice.jobs import tasks
from backoffice.models import ChannelEvent, Contact, ContactAddress, Message, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import (
    EVENT_DONE, EVENT_PENDING, EVENT_PROCESSING, HOOK_KINDS, KIND_WEBCHAT,
)
from backoffice.lib import after_commit
from backoffice.services import channel_events, tickets
from tests.factories import gen_company, gen_connection

ADDRESS = "5511987654321"  # a WhatsApp wa_id; also a valid numeric id for the other kinds
PHONE = "+5511987654321"
TEXT = "Olá, quero saber do meu pedido 4821"
LOGGER = "backoffice.channels.hooks"


# --- helpers ------------------------------------------------------------------------------


def configure(connection, n: int = 1):
    """Fill every field of the kind's adapter: secrets with a secret per connection,
    public ids with digits (phone_number_id, page_id, ... are numeric at the providers)."""
    for f in adapter_for(connection).fields:
        if f.secret:
            connection.set_secret(f.name, f"segredo-{f.name}-{connection.kind}-{n}")
        else:
            connection.set_setting(f.name, str(10_000_000_000 + 1000 * n + len(f.name)))
    db.session.flush()
    return connection


def hook_connection(company, kind: str, n: int = 1, active: bool = True):
    return configure(gen_connection(company, f"Conexão {kind} {n}", kind=kind, active=active), n)


def url_of(connection, kind: str | None = None) -> str:
    return f"/hooks/{kind or connection.kind}/{connection.public_key}"


def signed(connection, text: str = TEXT, external_id: str | None = None,
           address: str = ADDRESS) -> tuple[bytes, dict]:
    raw, headers = adapter_for(connection).simulated(address, text, "Maria Cliente",
                                                     external_id)
    headers = dict(headers)
    headers.setdefault("Content-Type", "application/json")
    return raw, headers


def resigned(connection, raw: bytes) -> dict:
    """Headers that prove `raw` (any bytes) comes from the provider: the simulated
    headers, with each HMAC-SHA256 header (Meta's X-Hub-Signature-256) recomputed with
    whichever of the connection's secrets made it; body-independent headers (Telegram's
    secret token) are kept as they are."""
    sample, headers = signed(connection, "amostra")
    out = dict(headers)
    for name, value in headers.items():
        for secret in connection.secrets().values():
            for prefix in ("sha256=", ""):
                if value == prefix + hmac_sha256(secret, sample):
                    out[name] = prefix + hmac_sha256(secret, raw)
    assert adapter_for(connection).verify(out, raw), "the test could not sign the body"
    return out


def tampered(headers: dict) -> dict:
    """The same headers with each value but Content-Type altered in its last character."""
    out = {}
    for name, value in headers.items():
        if name.lower() == "content-type" or not value:
            out[name] = value
        else:
            out[name] = value[:-1] + ("0" if value[-1] != "0" else "1")
    return out


def unsigned(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k.lower() == "content-type"}


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def stored_events() -> int:
    return count(ChannelEvent)


def hook_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def company(app):
    with app.app_context():
        company, _ = gen_company("Alfa Comércio", "admin-a@example.com")
        db.session.commit()
        return company.id


@pytest.fixture
def conn(app, company, request):
    """A configured connection of the test's kind (parametrised over HOOK_KINDS): (id,
    kind, public key)."""
    kind = request.param
    with app.app_context():
        connection = hook_connection(company, kind)
        db.session.commit()
        return connection.id, kind, connection.public_key


def load(connection_id):
    from backoffice.models import Connection

    return db.session.get(Connection, connection_id)


kinds = pytest.mark.parametrize("conn", HOOK_KINDS, indirect=True)


# --- who may post ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", HOOK_KINDS)
def test_CHN_2_unknown_key_is_404(app, client, company, kind, caplog):
    with app.app_context():
        hook_connection(company, kind)  # a real one exists: only the key is wrong
        db.session.commit()
    caplog.set_level(logging.WARNING, LOGGER)
    r = client.post(f"/hooks/{kind}/chave-que-nao-existe", data=b"{}",
                    content_type="application/json")
    assert r.status_code == 404
    assert any("unknown key" in m for m in hook_logs(caplog))
    with app.app_context():
        assert stored_events() == 0


@pytest.mark.parametrize("kind", HOOK_KINDS)
def test_CHN_2_key_of_another_kind_is_404(app, client, company, kind):
    """A connection's key posted under any other kind (the webchat's included) is
    unknown there; under its own kind the same signed body is stored."""
    with app.app_context():
        connection = hook_connection(company, kind)
        webchat = gen_connection(company, "Site", kind=KIND_WEBCHAT)
        db.session.commit()
        raw, headers = signed(connection)
        key, webchat_key = connection.public_key, webchat.public_key
    for other in [k for k in HOOK_KINDS if k != kind] + [KIND_WEBCHAT, "http_api"]:
        assert client.post(f"/hooks/{other}/{key}", data=raw, headers=headers).status_code == 404
    for hook_kind in HOOK_KINDS:
        r = client.post(f"/hooks/{hook_kind}/{webchat_key}", data=raw, headers=headers)
        assert r.status_code == 404
    with app.app_context():
        assert stored_events() == 0
    assert client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers).status_code == 200
    with app.app_context():
        assert stored_events() == 1


@kinds
def test_CHN_2_inactive_connection_is_404_and_stores_nothing(app, client, conn):
    connection_id, kind, key = conn
    with app.app_context():
        connection = load(connection_id)
        connection.active = False
        db.session.commit()
        raw, headers = signed(connection)
    r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
    assert r.status_code == 404
    with app.app_context():
        assert stored_events() == 0 and count(Message) == 0
        load(connection_id).active = True  # the same webhook is accepted once active
        db.session.commit()
    assert client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers).status_code == 200
    with app.app_context():
        assert stored_events() == 1


@kinds
def test_CHN_2_body_over_the_limit_is_413_and_stores_nothing(app, client, conn):
    connection_id, kind, key = conn
    with app.app_context():
        # a correctly signed body, only too large
        raw, headers = signed(load(connection_id), "a" * (MAX_WEBHOOK_BYTES + 10))
    assert len(raw) > MAX_WEBHOOK_BYTES
    r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
    assert r.status_code == 413
    with app.app_context():
        assert stored_events() == 0 and count(Message) == 0


@kinds
def test_CHN_2_missing_or_wrong_signature_is_403_logged_and_stores_nothing(app, client, conn,
                                                                            caplog):
    connection_id, kind, key = conn
    with app.app_context():
        raw, headers = signed(load(connection_id))
    caplog.set_level(logging.WARNING, LOGGER)
    for label, bad in (("missing", unsigned(headers)), ("wrong", tampered(headers))):
        caplog.clear()
        r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=bad)
        assert r.status_code == 403, label
        assert r.get_json() == {"error": "Assinatura inválida."}
        assert any("bad or missing signature" in m and str(connection_id) in m
                   for m in hook_logs(caplog)), label
    with app.app_context():
        assert stored_events() == 0 and count(Message) == 0


@kinds
def test_CHN_2_body_changed_after_signing_is_403(app, client, conn):
    """The signature covers the body: the same headers on another text are refused
    (for the kinds that sign the body; Telegram's secret token does not, so there the
    provider's own TLS is what protects the body)."""
    connection_id, kind, key = conn
    with app.app_context():
        connection = load(connection_id)
        raw, headers = signed(connection)
        forged = raw.replace(b"4821", b"9999")
        assert forged != raw
        body_signed = not adapter_for(connection).verify(headers, forged)
    r = client.post(f"/hooks/{kind}/{key}", data=forged, headers=headers)
    assert r.status_code == (403 if body_signed else 200)
    if kind in ("whatsapp", "messenger", "instagram"):
        assert body_signed, "Meta signs the body with X-Hub-Signature-256"


@kinds
def test_CHN_2_signed_but_malformed_json_is_400_not_500(app, client, conn, caplog):
    connection_id, kind, key = conn
    raw = b'{"object": "whatsapp_business_account", "entry": [ {'
    with app.app_context():
        headers = resigned(load(connection_id), raw)
    caplog.set_level(logging.ERROR, LOGGER)
    r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
    assert r.status_code == 400
    assert r.get_json() == {"error": "Requisição inválida: o corpo não é JSON."}
    assert any("signed but unreadable" in m for m in hook_logs(caplog))
    with app.app_context():
        assert stored_events() == 0


# --- what is stored ------------------------------------------------------------------------


@kinds
def test_CHN_2_signed_webhook_is_stored_and_becomes_the_contacts_message(app, client, conn):
    connection_id, kind, key = conn
    with app.app_context():
        raw, headers = signed(load(connection_id))
    r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
    assert r.status_code == 200
    assert r.get_json() == {"received": 1, "stored": 1}
    with app.app_context():
        event = db.session.scalar(select(ChannelEvent))
        assert (event.connection_id, event.kind, event.status) == (connection_id, "message",
                                                                   EVENT_DONE)
        message = db.session.scalar(select(Message))
        assert message.text == TEXT and message.ticket.connection_id == connection_id


@kinds
def test_CHN_2_replayed_webhook_stores_nothing_new(app, client, conn):
    connection_id, kind, key = conn
    with app.app_context():
        raw, headers = signed(load(connection_id))
    assert client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers).status_code == 200
    with app.app_context():
        before = (stored_events(), count(Message), count(Ticket), count(Contact))
    assert before[:2] == (1, 1)
    for _ in range(2):
        r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
        assert r.status_code == 200  # the provider must stop redelivering
        assert r.get_json()["stored"] == 0
    with app.app_context():
        assert (stored_events(), count(Message), count(Ticket), count(Contact)) == before


@pytest.mark.parametrize("kind", HOOK_KINDS)
def test_CHN_2_PLT_1_webhook_lands_only_in_the_company_of_its_url(app, client, kind):
    """Two companies, each with a connection of the kind, and B already knows the same
    address and phone: a webhook to A's URL creates A's contact, ticket and message and
    touches nothing of B; one to B's URL lands on B's known contact only."""
    with app.app_context():
        a, _ = gen_company("Alfa Comércio", "admin-a@example.com")
        b, _ = gen_company("Beta Serviços", "admin-b@example.com")
        conn_a = hook_connection(a, kind, 1)
        conn_b = hook_connection(b, kind, 2)
        known = tickets.contact_for(conn_b, ADDRESS, "Maria de Beta", phone=PHONE)
        after_commit.commit()
        ids = {"a": a.id, "b": b.id, "conn_a": conn_a.id, "conn_b": conn_b.id,
               "known": known.id}
        to_a = signed(conn_a, "Mensagem para Alfa")
        to_b = signed(conn_b, "Mensagem para Beta")
        url_a, url_b = url_of(conn_a), url_of(conn_b)

    assert client.post(url_a, data=to_a[0], headers=to_a[1]).status_code == 200
    with app.app_context():
        in_a = db.session.scalars(select(Message).where(Message.company_id == ids["a"])).all()
        assert [m.text for m in in_a] == ["Mensagem para Alfa"]
        assert in_a[0].ticket.company_id == ids["a"]
        assert in_a[0].ticket.connection_id == ids["conn_a"]
        assert in_a[0].ticket.contact.company_id == ids["a"]
        assert in_a[0].ticket.contact_id != ids["known"]
        assert count(Message, Message.company_id == ids["b"]) == 0
        assert count(Ticket, Ticket.company_id == ids["b"]) == 0
        assert count(Contact, Contact.company_id == ids["b"]) == 1
        known_address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.contact_id == ids["known"]))
        assert known_address.last_inbound_at is None
        assert {e.company_id for e in db.session.scalars(select(ChannelEvent))} == {ids["a"]}

    assert client.post(url_b, data=to_b[0], headers=to_b[1]).status_code == 200
    with app.app_context():
        in_b = db.session.scalars(select(Message).where(Message.company_id == ids["b"])).all()
        assert [m.text for m in in_b] == ["Mensagem para Beta"]
        assert in_b[0].ticket.contact_id == ids["known"]
        assert [m.text for m in db.session.scalars(
            select(Message).where(Message.company_id == ids["a"]))] == ["Mensagem para Alfa"]
        assert count(Contact, Contact.company_id == ids["a"]) == 1


# --- nothing lost -------------------------------------------------------------------------


def _queue_down(monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("Redis fora do ar")

    monkeypatch.setattr(tasks, "enqueue", down)


@kinds
def test_CHN_2_queue_down_still_answers_200_and_the_sweep_processes_later(app, client, conn,
                                                                          monkeypatch):
    connection_id, kind, key = conn
    with app.app_context():
        raw, headers = signed(load(connection_id))
    with monkeypatch.context() as m:
        _queue_down(m)
        r = client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers)
        assert r.status_code == 200 and r.get_json()["stored"] == 1
        with app.app_context():
            event = db.session.scalar(select(ChannelEvent))
            assert event.status == EVENT_PENDING and count(Message) == 0
            # still down when the sweep first runs: it stays pending, nothing lost
            assert channel_events.sweep(now=utcnow() + timedelta(minutes=1)) == 0
            db.session.expire_all()
            assert db.session.get(ChannelEvent, event.id).status == EVENT_PENDING
            event_id = event.id
    with app.app_context():
        # too early: the job enqueued after the commit may still be on its way
        assert channel_events.sweep() == 0
        assert channel_events.sweep(now=utcnow() + timedelta(minutes=1)) == 1
        db.session.expire_all()
        assert db.session.get(ChannelEvent, event_id).status == EVENT_DONE
        assert [m.text for m in db.session.scalars(select(Message))] == [TEXT]


@kinds
def test_CHN_2_item_left_processing_by_a_dead_worker_is_processed_by_the_sweep(
        app, client, conn, monkeypatch):
    connection_id, kind, key = conn
    with app.app_context():
        raw, headers = signed(load(connection_id))
    with monkeypatch.context() as m:
        _queue_down(m)
        assert client.post(f"/hooks/{kind}/{key}", data=raw, headers=headers).status_code == 200
    with app.app_context():
        event = db.session.scalar(select(ChannelEvent))
        # the job had claimed it, then its worker died
        event.status, event.attempts = EVENT_PROCESSING, 1
        event.claimed_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
        event_id = event.id
        # a claim this recent may still be running: left alone (no double message)
        assert channel_events.sweep(now=utcnow() + timedelta(minutes=1)) == 0
        db.session.expire_all()
        assert db.session.get(ChannelEvent, event_id).status == EVENT_PROCESSING
        assert count(Message) == 0
        later = utcnow() + channel_events.STUCK_PROCESSING + timedelta(minutes=1)
        assert channel_events.sweep(now=later) == 1
        db.session.expire_all()
        event = db.session.get(ChannelEvent, event_id)
        assert (event.status, event.attempts) == (EVENT_DONE, 2)
        assert [m.text for m in db.session.scalars(select(Message))] == [TEXT]
