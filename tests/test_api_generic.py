"""PLT-1, PLT-3, API-1, TOK-1 for every /api/v1 route, generically: the tests walk
app.url_map, so a route added tomorrow is checked the day it exists, and a path parameter
nobody taught them fails until it is mapped to a row (`ids_of` below).

For every route and method:
- the view names its right (api.core.requires) out of permissions.API_ACTIONS;
- no token, a session cookie instead of a token, a revoked, an expired token and a token
  used from an address it does not allow: 401 problem with a Portuguese detail and
  WWW-Authenticate;
- a token whose API group lacks the route's right: 403; a token with only that right
  passes the check;
- the ids of another company, and ids out of range: 404, nothing of the other company
  changed; lists never show its rows;
- a company whose plan lacks the API module: 403.
Then what every route shares: the per-token rate limit (429 + Retry-After), the body size
(413), malformed JSON (400), unknown fields (422) and Idempotency-Key.

Each test builds its two companies once and loops over the routes inside (an app and two
populated companies per route would take minutes).
"""
from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from backoffice import permissions
from backoffice.api.core import right_of
from backoffice.extensions import db
from backoffice.models import Company
from backoffice.models.api import ApiToken
from backoffice.models.webhooks import Webhook
from backoffice.services import api_tokens
from tests.conftest import login
from tests.factories import ApiClient, gen_api_token
from tests.factories import gen_api_rows

PREFIX = "/api/v1/"
PUBLIC = {"/api/v1/openapi.json"}  # the document: public like any API reference
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PROBLEM = "application/problem+json"
MISSING_ID = 2**31 - 1  # in range, no such row
OUT_OF_RANGE = (2**31, 0)
# tables an API request writes whatever it does: the token's last use, Idempotency-Key
BOOKKEEPING = {"api_token", "idempotent_request"}

MISSING_TOKEN = "Envie o token no cabeçalho Authorization: Bearer <token>."
INVALID_TOKEN = "Token de API inválido, revogado ou expirado."
NOT_ALLOWED = "O grupo de permissões deste token não permite esta ação."
NOT_FOUND = "Recurso não encontrado."
NO_API_IN_PLAN = "O plano da empresa não inclui a API."


def api_routes(app):
    """(rule, method, view) of every /api/v1 route but the public document."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.rule.startswith(PREFIX) and rule.rule not in PUBLIC:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule, method, app.view_functions[rule.endpoint]))
    return found


def resource(rule) -> str:
    return rule.rule.removeprefix(PREFIX).split("/")[0]


def fill(rule, ids: dict, override=None) -> str:
    """The route's URL with the company's row for each path parameter (`override`: one
    value for all of them)."""
    if override is not None:
        return rule.build({arg: override for arg in rule.arguments}, append_unknown=False)[1]
    values = {}
    for arg in sorted(rule.arguments):
        key = f"item_id:{resource(rule)}" if arg == "item_id" else arg
        if key not in ids:
            pytest.fail(f"{rule.rule}: teach tests/factories/api_world.py what <{arg}> is "
                        f"(a row of the company for it)")
        values[arg] = ids[key]
    return rule.build(values, append_unknown=False)[1]


def openapi_path(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)


def example_body(document: dict, rule, method: str):
    """The documented request example of the operation (a valid body), or None."""
    operation = document["paths"][openapi_path(rule)][method.lower()]
    content = (operation.get("requestBody") or {}).get("content") or {}
    return (content.get("application/json") or {}).get("example")


def call(client, method: str, url: str, body=None, headers=None):
    """One request; `client` a Flask test client or an ApiClient (its token is sent).
    Writes carry `body` (default {})."""
    if isinstance(client, ApiClient):
        client, headers = client.client, {**client._headers(None), **(headers or {})}
    if method in WRITES:
        return client.open(url, method=method, json=body if body is not None else {},
                           headers=headers)
    return client.open(url, method=method, headers=headers)


def assert_problem(response, status: int, detail: str | None = None, where=""):
    assert response.status_code == status, (where, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == PROBLEM, where
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"], where
    if detail is not None:
        assert body["detail"] == detail, (where, body["detail"])
    return body


def snapshot(app, skip=BOOKKEEPING) -> dict[str, list[str]]:
    with app.app_context():
        rows = {t.name: sorted(repr(tuple(r)) for r in db.session.execute(select(t)).all())
                for t in db.metadata.sorted_tables if t.name not in skip}
        db.session.remove()
    return rows


@pytest.fixture
def world(app, tenants):
    """Companies A and B of `tenants`, each with a row for every path parameter and a
    token with every API right."""
    with app.app_context():
        out = {}
        for key in ("a", "b"):
            tenant = tenants[key]
            ids = gen_api_rows(tenant, key)
            company = db.session.get(Company, tenant.company_id)
            out[key] = {"tenant": tenant, "ids": ids, "token": gen_api_token(company)}
        db.session.commit()
        db.session.remove()
    return out


def test_API_1_every_route_declares_one_right_and_one_method(app):
    """requires() on every view, with a right of permissions.API_ACTIONS; one HTTP method
    per view (the document and these tests read one operation per endpoint)."""
    routes = api_routes(app)
    assert len(routes) >= 18
    by_endpoint = {}
    for rule, method, view in routes:
        assert right_of(view) in permissions.API_ACTIONS, (method, rule.rule, right_of(view))
        by_endpoint.setdefault(rule.endpoint, set()).add(method)
    assert {e: m for e, m in by_endpoint.items() if len(m) > 1} == {}
    public = [r.rule for r in app.url_map.iter_rules()
              if r.rule.startswith(PREFIX) and right_of(app.view_functions[r.endpoint]) is None]
    assert public == ["/api/v1/openapi.json"]


def test_TOK_1_no_token_a_cookie_a_revoked_expired_or_misplaced_token_get_401(app, world, timeline):
    with app.app_context():
        company = db.session.get(Company, world["a"]["tenant"].company_id)
        revoked = gen_api_token(company, name="Revogado")
        expiring = gen_api_token(company, name="Expira", expires_at=datetime(2026, 12, 1, 13, 0))
        elsewhere = gen_api_token(company, name="Outro IP", allowed_ips=["203.0.113.7"])
        api_tokens.revoke(db.session.scalar(select(ApiToken).where(
            ApiToken.token_hash == api_tokens.digest(revoked))))
        db.session.commit()
    # the token is good until the clock passes its expiry (positive control below)
    assert ApiClient(app, expiring).get("/api/v1/webhooks/").status_code == 200
    timeline.advance(hours=2)
    logged_in = app.test_client()
    assert login(logged_in, world["a"]["tenant"].admin_email).status_code == 302
    refused = [
        (app.test_client(), MISSING_TOKEN),
        (logged_in, MISSING_TOKEN),  # a session cookie is no credential here (CSRF-safe)
        (ApiClient(app, revoked).client, INVALID_TOKEN, revoked),
        (ApiClient(app, expiring).client, INVALID_TOKEN, expiring),
        (ApiClient(app, "atd_" + "x" * 43).client, INVALID_TOKEN, "atd_" + "x" * 43),
        (ApiClient(app, elsewhere).client,
         "Este token não pode ser usado a partir do endereço 127.0.0.1.", elsewhere),
    ]
    before = snapshot(app, skip=set())
    ids = world["a"]["ids"]
    for rule, method, _view in api_routes(app):
        url = fill(rule, ids)
        for client, detail, *token in refused:
            headers = {"Authorization": f"Bearer {token[0]}"} if token else {}
            response = call(client, method, url, headers=headers)
            assert_problem(response, 401, detail, (method, url, detail))
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
    assert snapshot(app, skip=set()) == before  # not even a last-use time


def test_PLT_3_a_token_without_the_routes_right_gets_403_and_one_with_only_it_passes(app, world):
    rights = list(permissions.API_ACTIONS)
    with app.app_context():
        company = db.session.get(Company, world["a"]["tenant"].company_id)
        only = {r: gen_api_token(company, [r], name=f"Só {r}") for r in rights}
        all_but = {r: gen_api_token(company, [x for x in rights if x != r], name=f"Sem {r}")
                   for r in rights}
        db.session.commit()
    before = snapshot(app)
    passed = 0
    for rule, method, view in api_routes(app):
        right = right_of(view)
        url = fill(rule, {}, override=MISSING_ID)
        assert_problem(call(ApiClient(app, all_but[right]), method, url), 403, NOT_ALLOWED,
                       (method, url, right))
        # the same call with only the right gets past the check: a list, a 404 for the
        # missing id, a 422 for the empty body; never a refusal
        response = call(ApiClient(app, only[right]), method, url)
        assert response.status_code not in (401, 403) and response.status_code < 500, (
            method, url, right, response.status_code, response.get_data(as_text=True)[:200])
        passed += 1
    assert passed >= 18
    assert snapshot(app) == before  # nothing written by the refused or the empty calls


def test_PLT_1_another_companys_ids_and_ids_out_of_range_get_404(app, world):
    """Company B's token (every right) with company A's ids, a valid body (the route's
    documented example) and, next, ids out of range: 404 on every route with an id,
    nothing of A changed. B's own ids answer its GETs (the ids are real), and B's lists
    never show A's rows."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    b = ApiClient(app, world["b"]["token"])
    a_ids, b_ids = world["a"]["ids"], world["b"]["ids"]
    a_labels = [label for label in world["a"]["tenant"].labels.values() if "exclusiv" in label]
    before = snapshot(app)
    with_ids = lists = 0
    for rule, method, _view in api_routes(app):
        if not rule.arguments:
            if method == "GET":
                response = b.get(rule.rule)
                assert response.status_code == 200, (rule.rule, response.status_code)
                shown = json.dumps(response.get_json(), ensure_ascii=False)
                assert [x for x in a_labels if x in shown] == [], rule.rule
                lists += 1
            continue
        body = example_body(document, rule, method)
        url = fill(rule, a_ids)
        assert_problem(call(b, method, url, body), 404, NOT_FOUND, (method, url))
        for value in OUT_OF_RANGE:
            crafted = fill(rule, a_ids, override=value)
            assert_problem(call(b, method, crafted, body), 404, None, (method, crafted))
        if method == "GET":
            own = fill(rule, b_ids)
            assert b.get(own).status_code == 200, own
        with_ids += 1
    assert with_ids >= 12 and lists >= 6
    assert snapshot(app) == before


def test_PLT_5_a_company_whose_plan_lacks_the_api_gets_403(app, world):
    with app.app_context():
        company = db.session.get(Company, world["a"]["tenant"].company_id)
        company.plan.modules = [m for m in company.plan.modules if m != "api"]
        db.session.commit()
    a = ApiClient(app, world["a"]["token"])
    for rule, method, _view in api_routes(app):
        url = fill(rule, world["a"]["ids"])
        assert_problem(call(a, method, url), 403, NO_API_IN_PLAN, (method, url))
    # company B's plan still has it
    assert ApiClient(app, world["b"]["token"]).get("/api/v1/webhooks/").status_code == 200


# --- what every route shares, shown on one ------------------------------------------------


NEW_HOOK = {"name": "CRM", "url": "https://crm.example.com/hook", "events": ["ticket.created"]}


def _hooks(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Webhook))
        db.session.remove()
    return count


def test_API_1_rate_limit_per_token_answers_429_with_retry_after(app, world, clock):
    app.config["API_RATE_LIMIT"] = "3/60"
    a, b = ApiClient(app, world["a"]["token"]), ApiClient(app, world["b"]["token"])
    assert [a.get("/api/v1/tags/").status_code for _ in range(3)] == [200, 200, 200]
    response = a.get("/api/v1/tags/")
    assert_problem(response, 429,
                   "Limite de requisições deste token atingido. Aguarde e tente de novo.")
    assert 0 < int(response.headers["Retry-After"]) <= 61
    assert b.get("/api/v1/tags/").status_code == 200  # another token: its own count
    clock[0] += 60
    assert a.get("/api/v1/tags/").status_code == 200


def test_API_1_bad_bodies_get_problems_in_portuguese_and_create_nothing(app, world):
    app.config["API_MAX_JSON_BYTES"] = 300
    a = ApiClient(app, world["a"]["token"])
    before = _hooks(app)
    assert_problem(a.post("/api/v1/webhooks/", json={**NEW_HOOK, "name": "x" * 400}), 413,
                   "O corpo da requisição é grande demais.")
    body = assert_problem(a.client.post("/api/v1/webhooks/", data='{"name": "CRM",',
                                        content_type="application/json",
                                        headers=a._headers(None)), 400)
    assert "JSON válido" in body["detail"]
    body = assert_problem(a.post("/api/v1/webhooks/", json={**NEW_HOOK, "apelido": "x"}), 422)
    assert body["errors"] == {"corpo": {"apelido": ["Campo desconhecido."]}}
    assert "apelido" in body["detail"] and "Campo desconhecido." in body["detail"]
    body = assert_problem(a.post("/api/v1/webhooks/", json={**NEW_HOOK, "events": "todos"}), 422)
    assert body["errors"]["corpo"]["events"] == ["Informe uma lista."]
    assert _hooks(app) == before


def test_API_1_idempotency_key_replays_the_first_answer_and_refuses_another_body(app, world,
                                                                                 timeline):
    a = ApiClient(app, world["a"]["token"])
    before = _hooks(app)
    key = {"Idempotency-Key": "pedido-123"}
    first = a.post("/api/v1/webhooks/", json=NEW_HOOK, headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = a.post("/api/v1/webhooks/", json=NEW_HOOK, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert _hooks(app) == before + 1
    assert_problem(a.post("/api/v1/webhooks/", json={**NEW_HOOK, "name": "Outro"}, headers=key),
                   422, "Esta Idempotency-Key já foi usada com outra requisição.")
    # the key is the token's: another company's token with the same key creates its own
    other = ApiClient(app, world["b"]["token"]).post("/api/v1/webhooks/", json=NEW_HOOK, headers=key)
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert _hooks(app) == before + 2
    # a day later the periodic cleanup forgets the key: it may be used for a new request
    timeline.advance(hours=25)
    with app.app_context():
        assert api_tokens.forget_old_requests() == 2
    renewed = a.post("/api/v1/webhooks/", json={**NEW_HOOK, "name": "Outro"}, headers=key)
    assert renewed.status_code == 201 and "Idempotent-Replayed" not in renewed.headers
