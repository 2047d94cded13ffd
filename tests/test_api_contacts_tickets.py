"""/api/v1 contacts and tickets (API-1): contacts found by phone, CPF or e-mail in any
format and created under the Contatos screen's rules; tickets accepted, transferred,
closed, reopened and tagged through the inbox's services, with their history and events;
another company's ids refused (PLT-1); a token's API group obeyed (PLT-3)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice import events
from backoffice.extensions import db
from backoffice.models import AuditLog, Contact, Message, Ticket, TicketEvent
from tests.factories import (
    ApiClient, gen_api_token, gen_company, gen_connection, gen_department, gen_group,
    gen_plan, gen_reason, gen_tag, gen_ticket, gen_user,
)

NAMES = ("contact.created", "contact.updated", "contact.deleted", "ticket.status_changed",
         "ticket.transferred", "ticket.closed", "ticket.updated")


@pytest.fixture
def emitted(monkeypatch):
    """The names of the public events emitted during the test, in order."""
    monkeypatch.setattr(events, "_LISTENERS", {k: list(v) for k, v in events._LISTENERS.items()})
    seen: list[str] = []
    events.listen(*NAMES)(lambda name, **_: seen.append(name))
    return seen


def _company(key: str) -> dict:
    company, _admin = gen_company(f"Empresa {key}", f"admin-{key}@example.com",
                                  gen_plan(f"Plano {key}"))
    agents = gen_group(company, "Atendentes", ["inbox.view"])
    ana = gen_user(company, f"ana-{key}@example.com", agents, name=f"Ana {key}")
    bia = gen_user(company, f"bia-{key}@example.com", agents, name=f"Bia {key}")
    db.session.flush()
    suporte = gen_department(company, "Suporte", members=[(ana, True, False)],
                             on_start_enabled=True, on_start_text="Olá, sou {{nome_atendente}}.")
    vendas = gen_department(company, "Vendas", members=[(bia, True, False)],
                            reason_required_to_close=True)
    db.session.flush()
    reason = gen_reason(company, f"Venda feita {key}")
    tag = gen_tag(company, f"VIP {key}")
    connection = gen_connection(company)
    ticket = gen_ticket(connection, department=suporte, contact_name=f"Cliente {key}")
    db.session.flush()
    return {"company": company, "ana": ana.id, "bia": bia.id, "suporte": suporte.id,
            "vendas": vendas.id, "reason": reason.id, "tag": tag.id, "ticket": ticket.id,
            "contact": ticket.contact_id}


@pytest.fixture
def world(app):
    with app.app_context():
        a, b = _company("a"), _company("b")
        a["token"] = gen_api_token(a["company"], name="ERP")
        a["reader"] = gen_api_token(a["company"], rights=("api:tickets.read",), name="Leitor")
        db.session.commit()
        a.pop("company"), b.pop("company")
    return {"a": a, "b": b}


def _contacts(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Contact))


def test_API_1_contact_created_and_found_by_phone_cpf_and_email_in_any_format(app, world, emitted):
    api = ApiClient(app, world["a"]["token"])
    created = api.post("/api/v1/contacts/", json={
        "name": "Maria Souza", "phone": "(11) 98765-4321", "document": "529.982.247-25",
        "email": "Maria@Example.com", "tag_ids": [world["a"]["tag"]]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["phone"], body["document"], body["person_type"], body["email"]) == (
        "+5511987654321", "52998224725", "PF", "maria@example.com")
    assert [t["id"] for t in body["tags"]] == [world["a"]["tag"]]
    for query in ("phone=11987654321", "phone=%2B55 11 98765-4321", "phone=5511987654321",
                  "phone=(11) 8765-4321", "document=52998224725",
                  "document=529.982.247-25", "email=MARIA@example.com", "q=ria sou"):
        found = api.get(f"/api/v1/contacts/?{query}").get_json()["data"]
        assert [c["id"] for c in found] == [body["id"]], query
    assert api.get("/api/v1/contacts/?phone=11912345678").get_json()["data"] == []

    changed = api.patch(f"/api/v1/contacts/{body['id']}", json={"phone": None,
                                                               "notes": "Prefere e-mail."})
    assert changed.status_code == 200
    assert (changed.get_json()["phone"], changed.get_json()["notes"],
            changed.get_json()["document"]) == (None, "Prefere e-mail.", "52998224725")
    untagged = api.put(f"/api/v1/contacts/{body['id']}/tags", json={"tag_ids": []})
    assert untagged.get_json()["tags"] == []
    assert api.delete(f"/api/v1/contacts/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/contacts/{body['id']}").status_code == 404
    assert emitted == ["contact.created", "contact.updated", "contact.updated",
                       "contact.deleted"]
    with app.app_context():  # PLT-7: as the Contatos screen, each change in the audit log
        logged = db.session.execute(select(AuditLog.action, AuditLog.user_name)
                                    .where(AuditLog.table == "contact",
                                           AuditLog.row_id == str(body["id"]))
                                    .order_by(AuditLog.id)).all()
    assert [action for action, _name in logged] == ["create", "update", "update", "delete"]
    assert {name for _action, name in logged} == {"API: ERP"}


def test_API_1_invalid_phone_or_cpf_is_a_portuguese_422_and_creates_nothing(app, world):
    api = ApiClient(app, world["a"]["token"])
    before = _contacts(app)
    for field, value, text in (("phone", "123", "Telefone inválido"),
                               ("document", "111.111.111-11", "CPF inválido"),
                               ("document", "529.982.247-26", "CPF inválido"),
                               ("email", "maria@", "E-mail inválido")):
        answer = api.post("/api/v1/contacts/", json={"name": "Maria", field: value})
        assert answer.status_code == 422, (field, value)
        assert answer.content_type == "application/problem+json"
        assert text in answer.get_json()["detail"]
        assert text in answer.get_json()["errors"]["corpo"][field][0]
    assert api.get("/api/v1/contacts/?phone=abc").status_code == 422
    # the contacts screen's own rule: a contact with tickets stays (their history would go)
    refused = api.delete(f"/api/v1/contacts/{world['a']['contact']}")
    assert refused.status_code == 422 and "tem atendimentos" in refused.get_json()["detail"]
    assert _contacts(app) == before


def test_API_1_idempotent_retry_creates_one_contact_and_a_duplicate_names_the_existing(app, world):
    api = ApiClient(app, world["a"]["token"])
    before = _contacts(app)
    payload = {"name": "João Lima", "phone": "11 91234-5678"}
    first = api.post("/api/v1/contacts/", json=payload, headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/contacts/", json=payload, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _contacts(app) == before + 1

    existing = first.get_json()["id"]
    duplicate = api.post("/api/v1/contacts/", json={"name": "Outro João",
                                                    "phone": "+55 (11) 91234-5678"})
    assert duplicate.status_code == 409
    problem = duplicate.get_json()
    assert "Já existe um contato com este telefone: João Lima" in problem["detail"]
    assert f"id {existing}" in problem["detail"] and "phone" in problem["errors"]["corpo"]
    assert _contacts(app) == before + 1
    other = world["a"]["contact"]
    taken = api.patch(f"/api/v1/contacts/{other}", json={"phone": "(11) 91234-5678"})
    assert taken.status_code == 409 and f"id {existing}" in taken.get_json()["detail"]
    assert api.get(f"/api/v1/contacts/{other}").get_json()["phone"] is None


def _history(app, ticket_id) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                  .order_by(TicketEvent.id))
        return [(r.kind, r.user_id, (r.data or {}).get("source")) for r in rows]


def test_API_1_DEP_2_accept_transfer_close_reopen_through_the_api_with_history_and_events(
        app, world, emitted):
    a = world["a"]
    api = ApiClient(app, a["token"])
    url = f"/api/v1/tickets/{a['ticket']}"
    listed = api.get(f"/api/v1/tickets/?status=waiting&department_id={a['suporte']}").get_json()
    assert [t["id"] for t in listed["data"]] == [a["ticket"]]

    accepted = api.post(f"{url}/accept", json={"agent_id": a["ana"]})
    assert accepted.status_code == 200, accepted.get_json()
    assert (accepted.get_json()["status"], accepted.get_json()["agent"]["id"]) == ("open", a["ana"])
    with app.app_context():  # DEP-6: the start message, queued, sent once the API committed
        start = db.session.scalars(select(Message).where(Message.ticket_id == a["ticket"],
                                                         Message.author_kind == "system")).one()
        assert (start.text, start.status) == ("Olá, sou Ana a.", "sent")
    # Bia is not in Suporte: the inbox's rule holds for the API
    other = api.post(f"{url}/transfer", json={"agent_id": a["bia"]})
    assert other.status_code == 422 and "não faz parte do departamento" in other.get_json()["detail"]

    moved = api.post(f"{url}/transfer", json={"department_id": a["vendas"],
                                              "observation": "Quer comprar"})
    assert (moved.get_json()["status"], moved.get_json()["department"]["name"],
            moved.get_json()["agent"]) == ("waiting", "Vendas", None)
    # DEP-2: Vendas requires a reason to close
    refused = api.post(f"{url}/close", json={"note": "sem motivo"})
    assert refused.status_code == 422
    assert "exige um motivo para finalizar" in refused.get_json()["detail"]
    closed = api.post(f"{url}/close", json={"reason_id": a["reason"], "note": "Feito"})
    assert closed.status_code == 200
    ticket = closed.get_json()
    assert (ticket["status"], ticket["reason"]["id"], ticket["close_note"]) == (
        "closed", a["reason"], "Feito")
    assert ticket["history"][0]["source"] == "API (token ERP)"
    assert ticket["history"][0]["label"] == "Finalizado"

    reopened = api.post(f"{url}/reopen", json={"agent_id": a["bia"]})
    assert (reopened.get_json()["status"], reopened.get_json()["agent"]["id"]) == ("open", a["bia"])
    tagged = api.put(f"{url}/tags", json={"tag_ids": [a["tag"]]})
    assert [t["id"] for t in tagged.get_json()["tags"]] == [a["tag"]]

    source = "API (token ERP)"
    assert _history(app, a["ticket"])[1:] == [
        ("accepted", None, source), ("transferred", None, source), ("closed", None, source),
        ("reopened", None, source), ("tagged", None, source)]
    assert [e for e in emitted if e != "ticket.updated"] == [
        "ticket.status_changed", "ticket.transferred", "ticket.status_changed", "ticket.closed",
        "ticket.status_changed"]
    assert emitted[-1] == "ticket.updated"  # the tags


def test_PLT_1_another_companys_contact_ticket_tag_department_and_agent(app, world):
    a, b = world["a"], world["b"]
    api = ApiClient(app, a["token"])
    for method, url, body in (
            ("get", f"/api/v1/contacts/{b['contact']}", None),
            ("patch", f"/api/v1/contacts/{b['contact']}", {"name": "X"}),
            ("delete", f"/api/v1/contacts/{b['contact']}", None),
            ("put", f"/api/v1/contacts/{b['contact']}/tags", {"tag_ids": []}),
            ("get", f"/api/v1/tickets/{b['ticket']}", None),
            ("post", f"/api/v1/tickets/{b['ticket']}/accept", {"agent_id": b["ana"]}),
            ("post", f"/api/v1/tickets/{b['ticket']}/close", {}),
            ("get", "/api/v1/tickets/99999999999", None)):
        kwargs = {} if body is None else {"json": body}
        assert getattr(api, method)(url, **kwargs).status_code == 404, (method, url)
    assert b["ticket"] not in [t["id"] for t in api.get("/api/v1/tickets/?limit=100")
                               .get_json()["data"]]
    assert api.get(f"/api/v1/tickets/?contact_id={b['contact']}").get_json()["data"] == []

    tagged = api.put(f"/api/v1/contacts/{a['contact']}/tags", json={"tag_ids": [b["tag"]]})
    assert tagged.status_code == 422
    assert tagged.get_json()["errors"]["corpo"]["tag_ids"] == ["Etiqueta não encontrada."]
    url = f"/api/v1/tickets/{a['ticket']}"
    assert "Etiqueta não encontrada" in api.put(f"{url}/tags", json={"tag_ids": [b["tag"]]}) \
        .get_json()["detail"]
    assert api.post(f"{url}/accept", json={"agent_id": b["ana"]}).get_json()["detail"] == \
        "Atendente não encontrado ou inativo."
    assert api.post(f"{url}/transfer", json={"department_id": b["suporte"]}).get_json()[
        "detail"] == "Departamento não encontrado."
    with app.app_context():
        ticket = db.session.get(Ticket, a["ticket"])
        assert (ticket.status, ticket.agent_id, ticket.department_id, ticket.tags) == (
            "waiting", None, a["suporte"], [])


def test_PLT_3_token_without_tickets_write_gets_403_on_accept(app, world):
    a = world["a"]
    reader = ApiClient(app, a["reader"])
    assert reader.get(f"/api/v1/tickets/{a['ticket']}").status_code == 200
    refused = reader.post(f"/api/v1/tickets/{a['ticket']}/accept", json={"agent_id": a["ana"]})
    assert refused.status_code == 403
    assert reader.get("/api/v1/contacts/").status_code == 403
    with app.app_context():
        assert db.session.get(Ticket, a["ticket"]).agent_id is None
