"""CHN-3: outgoing messages are saved before they are queued, sent by a job, retried
with backoff, and never lost or sent twice when the queue goes away and comes back.

Runs with the real Redis under the services backend and the embedded queue otherwise.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from rq import Queue
from sqlalchemy import select, update

from backoffice.extensions import db
from backoffice.jobs import tasks
from backoffice.jobs.runner import EmbeddedWorker
from backoffice.models import Message, Ticket
from backoffice.models.base import utcnow
from backoffice.services import sending
from backoffice.lib import after_commit
from tests.conftest import BACKEND, REDIS_URL
from tests.factories import gen_agent_setup


@pytest.fixture
def app_config(app_config):
    """A real queue: Redis under the services backend, the embedded one otherwise."""
    cfg = dict(app_config)
    cfg["TASK_MODE"] = "redis" if BACKEND == "services" else "embedded"
    if BACKEND == "services":
        cfg["REDIS_URL"] = REDIS_URL
    cfg["SEND_RETRY_DELAYS"] = (5, 30)
    return cfg


@pytest.fixture
def queue_clean(app):
    """An empty queue, and no background thread: the test runs the worker itself."""
    tasks.connection.flushdb()
    tasks.start_embedded_worker = lambda: None  # instance attribute: this runner only
    yield
    del tasks.start_embedded_worker
    tasks.connection.flushdb()


class Receiver:
    """A channel provider's HTTP endpoint that records every POST it gets."""

    def __init__(self, status: int = 200):
        self.status = status
        self.bodies: list[dict] = []
        self.raw: list[tuple[bytes, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                receiver.raw.append((raw, dict(self.headers)))
                receiver.bodies.append(json.loads(raw))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": f"ext-{len(receiver.bodies)}"}).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def run_worker(app) -> None:
    """Drain the queue once, as an `rq worker --burst` would (scheduled jobs included)."""
    EmbeddedWorker([tasks.queue], connection=tasks.connection, flask_app=app).work(
        burst=True, with_scheduler=True, logging_level="WARNING")


def dead_queue() -> Queue:
    """A queue whose Redis refuses connections: what the app sees while Redis is down."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Queue("default", connection=redis.Redis(host="127.0.0.1", port=1,
                                                   socket_connect_timeout=0.5,
                                                   retry=Retry(NoBackoff(), 0)))


def test_CHN_3_message_is_committed_before_its_job_is_queued(app, queue_clean, receiver):
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        seen_at_enqueue = []
        real_enqueue = sending.enqueue

        def spy(message_id):
            # what another connection (the worker's) can read at this moment
            with db.engine.connect() as other:
                seen_at_enqueue.append(other.execute(
                    select(Message.status).where(Message.id == message_id)).scalar())
            return real_enqueue(message_id)

        sending.enqueue = spy
        try:
            message = sending.queue(setup.ticket, setup.agent, "Olá, tudo bem?")
            assert seen_at_enqueue == []  # nothing queued before the commit
            after_commit.commit()
        finally:
            sending.enqueue = real_enqueue
        assert seen_at_enqueue == ["queued"]
        run_worker(app)
        db.session.expire_all()
        assert db.session.get(Message, message.id).status == "sent"
        assert [b["text"] for b in receiver.bodies] == ["Olá, tudo bem?"]


def test_CHN_3_queue_down_mid_flight_message_sent_once_when_it_is_back(app, queue_clean, receiver):
    """Redis unavailable when the agent sends: the message stays queued (nothing lost);
    when the queue is back the sweep re-enqueues it and it is sent exactly once, even
    with duplicate jobs and repeated sweeps."""
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        working_queue = tasks._queue
        tasks._queue = dead_queue()
        try:
            message = sending.queue(setup.ticket, setup.agent, "Seu pedido foi enviado")
            after_commit.commit()  # the enqueue fails inside; the request would still answer
            message_id = message.id
            db.session.expire_all()
            assert db.session.get(Message, message_id).status == "queued"
            assert sending.sweep(now=utcnow() + timedelta(minutes=1)) == 0  # still down
        finally:
            tasks._queue = working_queue
        assert receiver.bodies == []

        # the queue is back: the periodic sweep finds the message
        assert sending.sweep(now=utcnow() + timedelta(minutes=1)) == 1
        sending.enqueue(message_id)  # a duplicate job, e.g. a second web instance's sweep
        run_worker(app)
        assert sending.sweep(now=utcnow() + timedelta(minutes=1)) == 0
        run_worker(app)
        db.session.expire_all()
        sent = db.session.get(Message, message_id)
        assert sent.status == "sent" and sent.attempts == 1
        assert sent.external_id == "ext-1"
        assert [b["message_id"] for b in receiver.bodies] == [message_id]


def test_CHN_3_sweep_leaves_fresh_and_backing_off_messages_alone(app, queue_clean, receiver):
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        tasks._queue, working = dead_queue(), tasks._queue
        try:
            fresh = sending.queue(setup.ticket, setup.agent, "agora")
            after_commit.commit()
        finally:
            tasks._queue = working
        # its own job may still be on its way: not swept within the grace period
        assert sending.sweep() == 0
        fresh.next_attempt_at = utcnow() + timedelta(minutes=5)  # backing off
        db.session.commit()
        assert sending.sweep(now=utcnow() + timedelta(minutes=1)) == 0
        assert sending.sweep(now=utcnow() + timedelta(minutes=6)) == 1


def test_CHN_3_provider_down_retries_with_backoff_then_fails_with_the_error(app, queue_clean):
    """Transient failures go back to the queue with a delay; after the last attempt the
    message is failed with the error and the ticket shows "Falha no envio"."""
    with app.app_context():
        setup = gen_agent_setup(endpoint_url="http://127.0.0.1:9/nada")
        message = sending.queue(setup.ticket, setup.agent, "Vai falhar")
        after_commit.commit()
        message_id = message.id
        run_worker(app)
        db.session.expire_all()
        m = db.session.get(Message, message_id)
        assert m.status == "queued" and m.attempts == 1
        assert m.error == "Não foi possível entregar ao destino."  # SEC-2: generic words
        assert m.next_attempt_at > utcnow() + timedelta(seconds=3)
        # the delays are (5, 30): attempts 2 and 3, then failed
        for expected in ("queued", "failed"):
            db.session.execute(Message.__table__.update().where(Message.id == message_id)
                               .values(next_attempt_at=None))
            db.session.commit()
            assert sending.deliver(message_id) in ("retry", "failed")
            db.session.expire_all()
            assert db.session.get(Message, message_id).status == expected
        m = db.session.get(Message, message_id)
        assert m.attempts == 3 and m.error == "Não foi possível entregar ao destino."
        assert db.session.get(Ticket, setup.ticket.id).has_failed is True


def test_MSG_1_retry_of_a_failed_message_sends_it_and_clears_the_ticket_flag(app, queue_clean, receiver):
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        receiver.status = 400  # refused for good: no automatic retry
        message = sending.queue(setup.ticket, setup.agent, "Primeira tentativa")
        after_commit.commit()
        run_worker(app)
        db.session.expire_all()
        m = db.session.get(Message, message.id)
        assert m.status == "failed" and m.error == "O destino recusou a mensagem."
        assert m.ticket.has_failed

        receiver.status = 200
        sending.retry(m, setup.agent)
        after_commit.commit()
        run_worker(app)
        db.session.expire_all()
        m = db.session.get(Message, message.id)
        assert m.status == "sent" and m.error is None
        assert m.ticket.has_failed is False
        assert len(receiver.bodies) == 2


def test_CHN_3_retry_refuses_messages_that_did_not_fail(app, queue_clean, receiver):
    from backoffice.services import RuleError

    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        message = sending.queue(setup.ticket, setup.agent, "ok")
        after_commit.commit()
        run_worker(app)
        db.session.expire_all()
        with pytest.raises(RuleError, match="falha"):
            sending.retry(db.session.get(Message, message.id), setup.agent)


def test_CHN_3_rollback_drops_the_job(app, queue_clean, receiver):
    """A message whose transaction rolls back never gets a job (nothing to send)."""
    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        sending.queue(setup.ticket, setup.agent, "desfeita")
        db.session.rollback()
        after_commit.commit()
        run_worker(app)
        assert receiver.bodies == []
        assert db.session.scalar(select(Message.id).where(Message.text == "desfeita")) is None


def test_CHN_3_http_api_payload_is_signed_with_the_connection_secret(app, queue_clean, receiver):
    import hashlib
    import hmac

    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url, endpoint_secret="s3gredo")
        message = sending.queue(setup.ticket, setup.agent, "assinado")
        after_commit.commit()
        run_worker(app)
        message_id = message.id
    raw, headers = receiver.raw[0]
    assert headers["X-Atende-Signature"] == (
        "sha256=" + hmac.new(b"s3gredo", raw, hashlib.sha256).hexdigest())
    assert headers["Idempotency-Key"] == f"atende-message-{message_id}"
    body = json.loads(raw)
    assert body["text"] == "assinado" and body["message_id"] == message_id
    assert body["ticket"]["protocol"]


def test_CHN_3_sweeper_command_and_thread_requeue_stranded_messages(app, queue_clean, receiver):
    """`flask inbox sweep` (and the thread `python app.py` starts) enqueue what the
    queue missed; the worker then sends it."""
    from backoffice.jobs.periodic import sweep_once

    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        tasks._queue, working = dead_queue(), tasks._queue
        try:
            first = sending.queue(setup.ticket, setup.agent, "primeira")
            second = sending.queue(setup.ticket, setup.agent, "segunda")
            after_commit.commit()
        finally:
            tasks._queue = working
        for m in (first, second):  # saved a minute ago: past the sweep's grace period
            m.created_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["inbox", "sweep"])
    assert result.exit_code == 0, result.output
    assert "2 mensagem(ns) recolocada(s) na fila." in result.output
    run_worker(app)
    assert sorted(b["text"] for b in receiver.bodies) == ["primeira", "segunda"]
    assert sweep_once(app) == 0  # nothing left queued


def _first_attempt_retried() -> int:
    """An agent's "Olá" on an http_api connection, its first attempt made (and, the adapter
    failing, put back to wait for the next): the message's id. Inside an app context."""
    setup = gen_agent_setup(endpoint_url="https://api.example.com/atende")
    message = sending.queue(setup.ticket, setup.agent, "Olá")
    after_commit.commit()
    message_id = message.id
    assert sending.deliver(message_id) == "retry"
    db.session.expire_all()
    return message_id


def test_CHN_3_a_provider_rate_limit_wait_is_honoured(app, queue_clean, monkeypatch):
    """Issue 12: a provider that answers "too many requests, retry after 120 s"
    (Telegram's retry_after, an HTTP Retry-After) gets its wait, not our 5 s backoff."""
    from backoffice.channels import SendError
    from backoffice.channels.http_api import HttpApiAdapter

    def rate_limited(self, message):
        raise SendError("Limite de envio do provedor atingido.", retry_after=120)

    monkeypatch.setattr(HttpApiAdapter, "send", rate_limited)
    with app.app_context():
        m = db.session.get(Message, _first_attempt_retried())
        assert m.status == "queued" and m.error == "Limite de envio do provedor atingido."
        assert m.next_attempt_at > utcnow() + timedelta(seconds=110)


def test_MSG_1_an_unexpected_send_failure_shows_the_agent_a_sentence_not_the_exception(
        app, queue_clean, monkeypatch, caplog):
    """A failure that is not a channel's own (a bug, the live channel's Redis away) is
    retried like any transient one, and the agent reads "Falha no envio.", never the
    exception's text (English, an address); the exception goes to the log."""
    from backoffice.channels.http_api import HttpApiAdapter

    def broken(self, message):
        raise ConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")

    monkeypatch.setattr(HttpApiAdapter, "send", broken)
    with app.app_context():
        message_id = _first_attempt_retried()
        assert db.session.get(Message, message_id).error == "Falha no envio."
        for _ in range(2):  # the two retries of SEND_RETRY_DELAYS, then failed
            db.session.execute(update(Message).where(Message.id == message_id)
                               .values(status="queued"))
            db.session.commit()
            sending.deliver(message_id)
        db.session.expire_all()
        m = db.session.get(Message, message_id)
        assert m.status == "failed" and m.error == "Falha no envio."
    assert any("Error 111" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_MSG_1_a_receipt_that_lands_while_the_send_is_finishing_is_kept(
        app, queue_clean, receiver, monkeypatch):
    """The visitor's "read" can arrive between the adapter's answer and the job's commit
    (the webchat acknowledges at once). The job's "sent" must not overwrite it: before, it
    did, and the agent's message stayed "Enviada" after the visitor had read it."""
    from backoffice.models.tickets import READ

    with app.app_context():
        setup = gen_agent_setup(endpoint_url=receiver.url)
        message_id = sending.queue(setup.ticket, setup.agent, "Lida na hora").id
        after_commit.commit()
        db.session.remove()

    announce = sending._announce_status
    receipts: list[threading.Thread] = []

    def read_meanwhile() -> None:  # the widget's receipt, handled by another request
        with app.app_context():
            sending.acknowledge(db.session.get(Message, message_id), READ)
            db.session.commit()
            db.session.remove()

    def announcing(message) -> None:  # the job, after the send and before its commit
        if not receipts:
            receipts.append(threading.Thread(target=read_meanwhile))
            receipts[0].start()
            receipts[0].join(0.5)  # done at once, or waiting for the job's row lock
        announce(message)

    monkeypatch.setattr(sending, "_announce_status", announcing)
    with app.app_context():
        assert sending.deliver(message_id) == "sent"
        db.session.remove()
    receipts[0].join(10)
    assert not receipts[0].is_alive()
    with app.app_context():
        assert db.session.get(Message, message_id).status == READ
