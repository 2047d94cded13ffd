"""API-1 / WHK-1: the company's webhooks through /api/v1/webhooks — the screen's rules
(public http(s) URL, known events), the secret shown once, the delivery log and
"Reenviar". What every route shares (401/403/404, 429, 413, Idempotency-Key) is in
test_api_generic.py."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import AuditLog, Company
from backoffice.models.webhooks import PENDING, SENDING, Webhook, WebhookDelivery
from tests.factories import ApiClient, gen_api_token
from tests.factories import gen_api_rows

LOCAL = ("Use um endereço público da internet: endereços locais ou da rede interna não são "
         "aceitos.")
NOT_HTTP = "Informe uma URL http:// ou https://."


@pytest.fixture
def api(app, tenants):
    with app.app_context():
        tenant = tenants["a"]
        ids = gen_api_rows(tenant, "a")
        token = gen_api_token(db.session.get(Company, tenant.company_id),
                              ["api:webhooks.manage"])
        db.session.commit()
    app.config["ALLOW_PRIVATE_URLS"] = False  # SEC-2 as in production
    client = ApiClient(app, token)
    client.ids = ids
    return client


def stored(app, hook_id):
    with app.app_context():
        hook = db.session.get(Webhook, hook_id)
        found = None if hook is None else (hook.name, hook.url, hook.events, hook.active, hook.secret)
        db.session.remove()
    return found


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Webhook))


def test_WHK_1_create_shows_the_secret_once_and_refuses_private_or_non_http_urls(app, api):
    before = count(app)
    for url, detail in (("http://10.0.0.5/hook", LOCAL), ("http://localhost:8080/x", LOCAL),
                        ("ftp://files.example.com/x", NOT_HTTP), ("javascript:alert(1)", NOT_HTTP)):
        response = api.post("/api/v1/webhooks/", json={"name": "CRM", "url": url,
                                                        "events": ["ticket.created"]})
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert response.get_json()["detail"] == detail, url
    response = api.post("/api/v1/webhooks/", json={"name": "Sem eventos", "url": "https://x.example.com",
                                                    "events": []})
    assert response.status_code == 422
    assert count(app) == before

    response = api.post("/api/v1/webhooks/", json={
        "name": "  CRM ", "url": "https://crm.example.com/hook",
        "events": ["message.created", "ticket.created"]})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    secret = created.pop("secret")
    assert len(secret) >= 40
    # trimmed, events in catalogue order, active by default
    assert created | {"id": 0, "created_at": ""} == {
        "id": 0, "name": "CRM", "url": "https://crm.example.com/hook",
        "events": ["ticket.created", "message.created"], "active": True, "created_at": "",
        "failing_since": None, "disabled_at": None}
    assert stored(app, created["id"])[4] == secret
    # never again: not in the item, not in the list
    one = api.get(f"/api/v1/webhooks/{created['id']}")
    listed = api.get("/api/v1/webhooks/")
    for response in (one, listed):
        assert response.status_code == 200
        assert secret not in response.get_data(as_text=True)
        assert '"secret"' not in response.get_data(as_text=True)
    assert created["id"] in [h["id"] for h in listed.get_json()["data"]]


def test_WHK_1_patch_delete_and_a_new_secret(app, api):
    hook_id = api.ids["webhook_id"]
    name, url, events, active, secret = stored(app, hook_id)
    response = api.patch(f"/api/v1/webhooks/{hook_id}", json={"url": "http://192.168.0.10/"})
    assert response.status_code == 422 and response.get_json()["detail"] == LOCAL
    assert api.patch(f"/api/v1/webhooks/{hook_id}", json={"name": "   "}).status_code == 422
    assert stored(app, hook_id) == (name, url, events, active, secret)

    response = api.patch(f"/api/v1/webhooks/{hook_id}", json={
        "name": "ERP", "events": ["ticket.closed", "contact.deleted"], "active": False})
    assert response.status_code == 200
    assert response.get_json()["events"] == ["ticket.closed", "contact.deleted"]
    assert "secret" not in response.get_json()
    assert stored(app, hook_id) == ("ERP", url, ["ticket.closed", "contact.deleted"], False, secret)

    response = api.post(f"/api/v1/webhooks/{hook_id}/secret")
    assert response.status_code == 200
    new = response.get_json()["secret"]
    assert new != secret and stored(app, hook_id)[4] == new

    assert api.delete(f"/api/v1/webhooks/{hook_id}").status_code == 204
    assert stored(app, hook_id) is None
    assert api.get(f"/api/v1/webhooks/{hook_id}").status_code == 404

    # PLT-7: the audit log names the token, never a user, and masks the secret; the
    # refused changes above left no entry
    with app.app_context():
        entries = db.session.execute(select(AuditLog.action, AuditLog.user_id, AuditLog.user_name,
                                            AuditLog.changes)
                                     .where(AuditLog.table == "webhook",
                                            AuditLog.row_id == str(hook_id))
                                     .order_by(AuditLog.id)).all()
    assert [(e.action, e.user_id, e.user_name) for e in entries] == [
        ("update", None, "API: Integração"), ("update", None, "API: Integração"),
        ("delete", None, "API: Integração")]
    assert entries[0].changes["name"] == [name, "ERP"]
    assert entries[1].changes == {"secret": ["***", "***"]}
    assert new not in str(entries[2].changes) and entries[2].changes["secret"] == ["***", None]


def test_WHK_1_delivery_log_and_resend(app, api):
    hook_id, delivery_id = api.ids["webhook_id"], api.ids["delivery_id"]
    response = api.get(f"/api/v1/webhooks/{hook_id}/deliveries")
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.get_json()["data"]}
    assert len(rows) >= 1 and {r["event"] for r in rows.values()} == {"ticket.created"}
    row = rows[delivery_id]
    assert (row["id"], row["event"], row["status"], row["attempts"], row["response_status"]) == (
        delivery_id, "ticket.created", "failed", 1, 500)
    response = api.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery_id}/resend")
    assert response.status_code == 202, response.get_json()
    assert (response.get_json()["status"], response.get_json()["attempts"]) == (PENDING, 0)
    with app.app_context():  # a job took it after the commit (eager here)
        assert db.session.get(WebhookDelivery, delivery_id).attempts >= 1
        db.session.get(WebhookDelivery, delivery_id).status = SENDING
        db.session.commit()
    response = api.post(f"/api/v1/webhooks/{hook_id}/deliveries/{delivery_id}/resend")
    assert response.status_code == 422
    assert response.get_json()["detail"] == "Esta entrega está sendo enviada agora; aguarde o resultado."
