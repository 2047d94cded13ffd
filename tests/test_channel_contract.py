"""Issue 11: one provider contract (backoffice/channels/base.py). Every adapter in
backoffice.channels.ADAPTERS is run through the same tests: it sends, it checks its own
configuration (refusing each bad field in Portuguese), and it turns what its provider
posts into neutral Inbound objects (InboundError for malformed input). A new channel adds
its adapter to ADAPTERS and its Case to CASES below, and gets every test here.

services.tickets.receive_inbound stores an Inbound (contact, ticket, message), and the
webchat visitor's messages go through it.
"""
from __future__ import annotations

import inspect
import io
from dataclasses import dataclass, field
from typing import Callable

import pytest
from sqlalchemy import func, select

from backoffice.channels import ADAPTERS, Adapter, Inbound, InboundError, adapter_for
from backoffice.channels.webchat.adapter import TOKEN_HEADER
from backoffice.extensions import db, socketio
from backoffice.models import Connection, ContactAddress, Department, Message, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import CONNECTION_KINDS
from backoffice.models.tickets import AUTHOR_SYSTEM, IN, OUT, SENDING
from backoffice.services import RuleError, tickets
from backoffice.lib import after_commit
from backoffice.services import connections as connection_rules
from backoffice.services.catalog import COLOR_MESSAGE
from backoffice.services.webhooks import URL_MESSAGE
from tests.factories import gen_agent_setup
from tests.test_sending import Receiver
from tests.factories import WEBCHAT_PNG as PNG

TOKEN = "T" * 40



def _outgoing(ticket: Ticket, text: str) -> Message:
    message = Message(company_id=ticket.company_id, ticket_id=ticket.id, direction=OUT,
                      author_kind=AUTHOR_SYSTEM, text=text, status=SENDING,
                      created_at=utcnow())
    db.session.add(message)
    db.session.flush()
    return message


# --- what each channel gives the contract tests ---------------------------------------------


@dataclass
class Case:
    good_config: dict
    # one bad value per field: (fields set on the connection, the Portuguese refusal)
    bad_config: list[tuple[dict, str]]
    # test_request_context arguments -> the Inbound fields expected (and the names of
    # the attached files)
    good_inbound: list[tuple[dict, dict]] = field(default_factory=list)
    # label -> test_request_context arguments that must raise InboundError
    bad_inbound: dict[str, dict] = field(default_factory=dict)
    # (app, pytest request) -> None: sends one message and checks the provider got it
    deliver: Callable = None


def _webchat_request(body=None, token=TOKEN, **kwargs) -> dict:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    if body is not None:
        kwargs["json"] = body
    return {"method": "POST", "headers": headers, **kwargs}


def _deliver_webchat(app, request) -> None:
    """The visitor's socket gets the message pushed to its room."""
    world = request.getfixturevalue("webchat_world")
    client = app.test_client()
    r = client.post(f"/widget/{world.key}/api/start",
                    json={"text": "Oi", "department_id": world.departments["support"]})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    visitor = socketio.test_client(app, namespace="/webchat",
                                   auth={"key": world.key, "token": token})
    try:
        assert visitor.is_connected("/webchat")
        visitor.get_received("/webchat")
        with app.app_context():
            ticket = db.session.scalar(select(Ticket).where(
                Ticket.connection_id == world.connection_id))
            message = _outgoing(ticket, "Resposta do atendente")
            assert adapter_for(ticket.connection).send(message) is None
            after_commit.commit()
            message_id = message.id
        pushed = [e["args"] for e in visitor.get_received("/webchat") if e["name"] == "message"]
        assert [(p["id"], p["text"]) for p in pushed] == [(message_id, "Resposta do atendente")]
    finally:
        if visitor.is_connected("/webchat"):
            visitor.disconnect("/webchat")


def _deliver_http_api(app, request) -> None:
    """A local server gets the message as JSON; its id comes back."""
    receiver = Receiver()
    try:
        with app.app_context():
            setup = gen_agent_setup(endpoint_url=receiver.url, key="contract")
            message = _outgoing(setup.ticket, "Resposta do atendente")
            assert adapter_for(setup.connection).send(message) == "ext-1"
        assert [b["text"] for b in receiver.bodies] == ["Resposta do atendente"]
    finally:
        receiver.close()


CASES: dict[str, Case] = {
    "webchat": Case(
        good_config={"widget_title": " Fale conosco ", "widget_greeting": "Olá!",
                     "widget_color": "#1F6F8B"},
        bad_config=[
            ({"widget_title": "t" * 81}, "O título do widget pode ter no máximo 80 caracteres."),
            ({"widget_greeting": "g" * 256},
             "A saudação do widget pode ter no máximo 255 caracteres."),
            ({"widget_color": "azul"}, str(COLOR_MESSAGE)),
        ],
        good_inbound=[
            (_webchat_request({"text": " Olá ", "name": " Ana   Paula "}),
             {"address": TOKEN, "name": "Ana Paula", "text": "Olá", "attachments": ()}),
            # NUL never reaches a message (PostgreSQL refuses it): removed from the text
            (_webchat_request({"text": "o\x00i"}), {"address": TOKEN, "text": "oi"}),
            (_webchat_request(data={"text": "foto", "file": (io.BytesIO(PNG), "foto.png")},
                              content_type="multipart/form-data"),
             {"address": TOKEN, "text": "foto", "attachment_names": ["foto.png"]}),
        ],
        bad_inbound={
            "wrong_json": _webchat_request(data="[1, 2]", content_type="application/json"),
            "broken_json": _webchat_request(data="{oops", content_type="application/json"),
            "missing_text": _webchat_request({}),
            "blank_text": _webchat_request({"text": " \x00 "}),
            "nul_in_address": _webchat_request({"text": "oi"}, token="T" * 20 + "\x00" + "T" * 20),
            "missing_address": _webchat_request({"text": "oi"}, token=None),
            "oversize": _webchat_request({"text": "a" * 4097}),
        },
        deliver=_deliver_webchat,
    ),
    "http_api": Case(
        good_config={"endpoint_url": " https://erp.example.com/atende ",
                     "endpoint_secret": "s" * 128},
        bad_config=[
            ({"endpoint_url": ""}, "Informe a URL de envio: a conexão API HTTP envia as "
                                   "mensagens para ela."),
            ({"endpoint_url": "ftp://erp.example.com/"}, str(URL_MESSAGE)),
            ({"endpoint_url": "https://erp.example.com/" + "a" * 480},
             "A URL pode ter no máximo 500 caracteres."),
            ({"endpoint_url": "https://erp.example.com/", "endpoint_secret": "s" * 129},
             "O segredo pode ter no máximo 128 caracteres."),
        ],
        deliver=_deliver_http_api,
    ),
}
# The provider channels (issue 12) keep their fixtures next to their own tests; each
# module exposes its entry as plain dicts (no import of this module: no cycle).
from tests.test_channel_meta import CONTRACT_CASES as META_CASES  # noqa: E402
from tests.test_channel_telegram import CONTRACT_CASE as TELEGRAM_CASE  # noqa: E402
from tests.test_channel_whatsapp import CONTRACT_CASE as WHATSAPP_CASE  # noqa: E402
from tests.test_portal_protocols import CONTRACT_CASE as PORTAL_CASE  # noqa: E402

CASES.update({kind: Case(**case) for kind, case in META_CASES.items()})
CASES["telegram"] = Case(**TELEGRAM_CASE)
CASES["whatsapp"] = Case(**WHATSAPP_CASE)
CASES["portal"] = Case(**PORTAL_CASE)

KINDS = sorted(ADAPTERS)
BAD_CONFIG = [(kind, i) for kind in KINDS for i in range(len(CASES[kind].bad_config))]
GOOD_INBOUND = [(kind, i) for kind in KINDS for i in range(len(CASES[kind].good_inbound))]
BAD_INBOUND = [(kind, label) for kind in KINDS for label in CASES[kind].bad_inbound]


def _connection(kind: str, **fields) -> Connection:
    """A connection not saved yet, as the admin's form builds it."""
    return Connection(name="Canal", kind=kind, **fields)


def _config(kind: str, **changes) -> dict:
    return {**CASES[kind].good_config, **changes}


# --- the contract itself ---------------------------------------------------------------------


def test_CHN_contract_every_kind_has_an_adapter_with_the_three_methods_and_a_case():
    assert set(ADAPTERS) == set(CONNECTION_KINDS) == set(CASES)
    for kind, cls in ADAPTERS.items():
        assert issubclass(cls, Adapter) and cls.kind == kind
        for name in ("send", "validate_config"):
            assert getattr(cls, name) is not getattr(Adapter, name), (kind, name)
        # parse_inbound: implemented, or declared unsupported
        assert (getattr(cls, "parse_inbound") is not Adapter.parse_inbound) or \
            not cls.receives_inbound, kind
        assert list(inspect.signature(cls.parse_inbound).parameters) == ["self", "request"]
        assert list(inspect.signature(cls.validate_config).parameters) == ["self", "connection"]


@pytest.mark.parametrize("kind", KINDS)
def test_CHN_contract_validate_config_accepts_a_good_config(app, kind):
    with app.app_context():
        conn = _connection(kind, **_config(kind))
        adapter_for(conn).validate_config(conn)  # no RuleError


@pytest.mark.parametrize("kind,index", BAD_CONFIG)
def test_CHN_contract_validate_config_refuses_each_bad_field_in_portuguese(app, kind, index):
    fields, expected = CASES[kind].bad_config[index]
    with app.app_context():
        conn = _connection(kind, **_config(kind, **fields))
        with pytest.raises(RuleError) as refused:
            adapter_for(conn).validate_config(conn)
        assert str(refused.value) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_CHN_contract_check_connection_runs_the_kinds_checks_on_a_new_row(app, webchat_world,
                                                                         kind):
    """services.connections keeps the common rules and asks the adapter for the rest."""
    with app.app_context():
        # a kind with no field of its own to refuse (the portal) checks the good case only
        for fields, expected in CASES[kind].bad_config[:1]:
            conn = Connection(company_id=webchat_world.company_id, name="Canal novo",
                              kind=kind, **_config(kind, **fields))
            with pytest.raises(RuleError) as refused:
                connection_rules.check_connection(conn)
            assert str(refused.value) == expected
        conn = Connection(company_id=webchat_world.company_id, name="Canal novo", kind=kind,
                          **_config(kind))
        assert connection_rules.check_connection(conn) is conn


@pytest.mark.parametrize("kind,index", GOOD_INBOUND)
def test_CHN_contract_parse_inbound_returns_inbound_objects(app, kind, index):
    kwargs, expected = CASES[kind].good_inbound[index]
    with app.test_request_context("/", **kwargs):
        from flask import request

        found = adapter_for(_connection(kind, **_config(kind))).parse_inbound(request)
    assert found and all(isinstance(item, Inbound) for item in found)
    expected = dict(expected)
    names = expected.pop("attachment_names", [])
    for name, value in expected.items():
        assert getattr(found[0], name) == value, name
    assert [upload.name for upload in found[0].attachments] == names
    assert "\x00" not in found[0].text and "\x00" not in found[0].address


@pytest.mark.parametrize("kind,label", BAD_INBOUND)
def test_CHN_contract_parse_inbound_refuses_malformed_input(app, kind, label):
    with app.test_request_context("/", **CASES[kind].bad_inbound[label]):
        from flask import request

        with pytest.raises(InboundError) as refused:
            adapter_for(_connection(kind, **_config(kind))).parse_inbound(request)
    assert str(refused.value)  # a message for the sender, in Portuguese


@pytest.mark.parametrize("kind", [k for k in KINDS if not ADAPTERS[k].receives_inbound])
def test_CHN_contract_a_kind_without_inbound_says_so(app, kind):
    with app.test_request_context("/", method="POST", json={"text": "oi"}):
        from flask import request

        with pytest.raises(NotImplementedError):
            adapter_for(_connection(kind)).parse_inbound(request)


@pytest.mark.parametrize("kind", KINDS)
def test_CHN_contract_send_reaches_the_provider(app, request, kind):
    CASES[kind].deliver(app, request)


# --- receive_inbound --------------------------------------------------------------------------


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_CHN_contract_receive_inbound_finds_or_creates_contact_and_ticket(app, webchat_world):
    with app.app_context():
        conn = db.session.get(Connection, webchat_world.connection_id)
        department = db.session.get(Department, webchat_world.departments["support"])
        first = tickets.receive_inbound(conn, Inbound(address=TOKEN, name="Ana", text="Oi"),
                                        department)
        after_commit.commit()
        ticket = db.session.get(Ticket, first.ticket_id)
        assert (first.direction, first.text, ticket.department_id) == (IN, "Oi", department.id)
        assert ticket.contact.name == "Ana"
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == conn.id, ContactAddress.address == TOKEN))
        assert address.contact_id == ticket.contact_id
        contacts, tickets_before = _count(ContactAddress), _count(Ticket)
        second = tickets.receive_inbound(conn, Inbound(address=TOKEN, text="De novo"))
        after_commit.commit()
        assert second.ticket_id == first.ticket_id and second.id != first.id
        assert (_count(ContactAddress), _count(Ticket)) == (contacts, tickets_before)


def test_CHN_contract_receive_inbound_drops_a_redelivered_external_id(app, webchat_world):
    with app.app_context():
        conn = db.session.get(Connection, webchat_world.connection_id)
        inbound = Inbound(address=TOKEN, text="Oi", external_id="prov-1")
        first = tickets.receive_inbound(conn, inbound)
        after_commit.commit()
        before = _count(Message)
        again = tickets.receive_inbound(conn, inbound)
        after_commit.commit()
        assert again.id == first.id and _count(Message) == before
        assert first.external_id == "prov-1"


def test_CHN_contract_webchat_visitor_messages_go_through_receive_inbound(app, webchat_world,
                                                                           monkeypatch):
    seen = []
    real = tickets.receive_inbound

    def spy(connection, inbound, department=None):
        seen.append((connection.id, inbound.text))
        return real(connection, inbound, department)

    monkeypatch.setattr(tickets, "receive_inbound", spy)
    client = app.test_client()
    r = client.post(f"/widget/{webchat_world.key}/api/start",
                    json={"text": "Oi", "department_id": webchat_world.departments["support"]})
    assert r.status_code == 201, r.get_json()
    token = r.get_json()["token"]
    r = client.post(f"/widget/{webchat_world.key}/api/messages", json={"text": "Tudo bem?"},
                    headers={TOKEN_HEADER: token})
    assert r.status_code == 201, r.get_json()
    assert seen == [(webchat_world.connection_id, "Oi"),
                    (webchat_world.connection_id, "Tudo bem?")]
