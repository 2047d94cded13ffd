"""API-1 "Must show": property-based testing of the whole OpenAPI document with
Schemathesis, against the app in-process (WSGI), on both backends: no answer is a 500,
every answer matches its documented schema and status codes. And the documentation
itself: /api/docs served from this host, the document valid OpenAPI 3, in Portuguese,
with an example and security on every operation.

Kept quick and stable for CI: a few examples per operation, derandomized (the same cases
every run), no deadline, no stateful links. Each operation runs twice: with generated
values everywhere (mostly ids of no row: 404s and 422s), then with the path ids fixed to
real rows of the token's company (the answers with data).
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.definitions import OPENAPI_30_VALIDATOR
from schemathesis.specs.openapi.checks import (
    response_schema_conformance, status_code_conformance,
)

from backoffice import events
from backoffice.extensions import db
from backoffice.models import Company
from tests.factories import gen_api_token
from tests.factories import gen_api_rows

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES = 5
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate],  # no shrinking: report as found
                    suppress_health_check=list(HealthCheck))
EXTERNAL = re.compile(r"(?:https?:)?//(?!localhost)[a-z0-9.-]+\.[a-z]{2,}/", re.I)


@pytest.fixture
def populated(app, tenants):
    """Company A with a row for every path parameter and a token with every API right."""
    with app.app_context():
        tenant = tenants["a"]
        ids = gen_api_rows(tenant, "a")
        token = gen_api_token(db.session.get(Company, tenant.company_id))
        db.session.commit()
    app.config["API_RATE_LIMIT"] = "100000/60"  # the rate limit has its own test
    return token, ids


def _real_ids(operation, ids: dict) -> dict | None:
    names = [p.name for p in operation.path_parameters]
    if not names:
        return None
    resource = operation.path.removeprefix("/api/v1/").split("/")[0]
    return {name: ids[f"item_id:{resource}" if name == "item_id" else name] for name in names}


def test_API_1_schemathesis_whole_document_no_500_and_answers_match_it(app, populated):
    token, ids = populated
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    answered: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for path_parameters in (None, _real_ids(operation, ids)):
            strategy = operation.as_strategy(headers=auth, path_parameters=path_parameters)

            @SETTINGS
            @given(case=strategy)
            def run(case):
                response = case.call(headers=auth)
                answered[response.status_code] += 1
                case.validate_response(response, checks=CHECKS, headers=auth)

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation in one report
                failures.append(f"{operation.label} {path_parameters or ''}: {exc}"[:1500])
            if not operation.path_parameters:
                break
    assert operations >= 30
    # the token and the ids work: a good share of the cases reached the routes' data (a run
    # of 401s or 404s only would conform to the document and prove nothing)
    assert failures == [], "\n\n".join(failures)
    assert sum(n for status, n in answered.items() if status < 300) >= operations // 2, answered
    assert answered[401] == answered[403] == 0, answered  # the token holds every right


def test_API_1_docs_page_is_served_from_this_host(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html
    assert "/api/v1/openapi.json" in html
    assert not EXTERNAL.findall(re.sub(r"https://(?:erp|crm|hooks|api)\.[^\s\"'<]*", "", html)), \
        EXTERNAL.findall(html)
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"/api/docs/assets/{name}")
        assert asset.status_code == 200 and len(asset.get_data()) > 1000
        asset.close()
    assert client.get("/api/docs/assets/..%2Fconfig.py").status_code == 404
    # WHK-1: the webhook guide lists every public event and what its `data` carries
    reference = re.search(r'data-testid="payload-reference">(.*?)</pre>', html, re.S).group(1)
    for name in events.EVENTS:
        assert f"<code>{name}</code>" in html and name in reference


def test_API_1_openapi_document_is_valid_in_portuguese_with_examples_and_security(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    # the OpenAPI 3.0 meta-schema Schemathesis ships with
    assert [e.message for e in OPENAPI_30_VALIDATOR.iter_errors(document)] == []
    assert document["openapi"].startswith("3.")
    assert "Autenticação" in document["info"]["description"]
    assert document["security"] == [{"token": []}]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    missing_example, missing_summary = [], []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            label = f"{method.upper()} {path}"
            if not operation.get("summary"):
                missing_summary.append(label)
            # the request body and the success answers (a 204 has nothing to show)
            contents = list(((operation.get("requestBody") or {}).get("content") or {}).values())
            contents += [c for code, answer in operation.get("responses", {}).items()
                         if code.startswith("2") for c in (answer.get("content") or {}).values()]
            if contents and not any("example" in c or "examples" in c for c in contents):
                missing_example.append(label)
    assert missing_summary == []
    assert missing_example == []
    # Portuguese summaries (not the English of a library default)
    summaries = [op["summary"] for item in document["paths"].values() for op in item.values()
                 if isinstance(op, dict) and "summary" in op]
    assert sum(bool(re.search(r"\b(Lista|Consulta|Cria|Altera|Exclui|Envia|Reenvia|Gera|"
                              r"Aceita|Transfere|Finaliza|Cancela|Agenda|Busca)", s))
               for s in summaries) >= len(summaries) * 0.8, summaries
