"""AUT-2 Fluxos de chatbot: the screen (list, form, delete) and the editor's JSON routes
(save the draft, publish a version, the test pane), scoped to the user's company."""
from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Connection, Flow, FlowVersion, Tag
from tests.conftest import flashes, login, post
from tests.factories import gen_group, gen_user

SAVE, PUBLISH, SIMULATE = "/admin/flows/editor/save/", "/admin/flows/editor/publish/", \
    "/admin/flows/editor/simulate/"


def graph(text="Olá! Seja bem-vindo.", end_text="Até logo."):
    """start -> message -> end (the ticket closes)."""
    return {"nodes": {
        "1": {"type": "start", "x": 40, "y": 80, "data": {}, "next": {"next": "2"}},
        "2": {"type": "message", "x": 280, "y": 80, "data": {"text": text},
              "next": {"next": "3"}},
        "3": {"type": "end", "x": 520, "y": 80, "data": {"text": end_text, "close": True},
              "next": {}},
    }}


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _flow(app, flow_id) -> Flow:
    with app.app_context():
        flow = db.session.get(Flow, flow_id)
        if flow is not None:
            flow.published_version  # noqa: B018 (loaded before the session closes)
            db.session.expunge_all()
        return flow


def _form(name="Atendimento inicial", **fields):
    data = {"name": name, "description": "Primeiro contato", "active": "y",
            "handover_keywords": "atendente, humano", "timeout_minutes": "30",
            "timeout_message": "Encerramos por falta de resposta, {{nome_cliente}}."}
    data.update(fields)
    return data


def test_AUT_2_flow_is_listed_created_edited_and_opens_in_the_editor(app, tenants, a_client):
    listing = a_client.get("/admin/flows/")
    assert listing.status_code == 200 and "Fluxo exclusivo A" in listing.text
    assert "Fluxo exclusivo B" not in listing.text
    assert "/admin/flows/editor/?id=" in listing.text  # the row's "Editor" link

    created = a_client.submit("/admin/flows/new/", _form())
    assert created.status_code == 302, flashes(created.text)
    with app.app_context():
        flow = db.session.scalar(select(Flow).where(Flow.name == "Atendimento inicial"))
        flow_id = flow.id
        assert flow.company_id == tenants["a"].company_id
        assert flow.handover_keywords == "atendente, humano"
        # a new flow starts with its start node alone
        assert [n["type"] for n in flow.draft["nodes"].values()] == ["start"]
    assert created.headers["Location"].endswith(f"/admin/flows/editor/?id={flow_id}")

    edited = a_client.submit(f"/admin/flows/edit/?id={flow_id}",
                             _form(name="Atendimento geral", timeout_minutes="45"))
    assert edited.status_code == 302, flashes(edited.text)
    assert _flow(app, flow_id).timeout_minutes == 45

    page = a_client.get(f"/admin/flows/editor/?id={flow_id}")
    assert page.status_code == 200
    data = json.loads(html.unescape(
        page.text.split('id="flow-data">', 1)[1].split("</script>", 1)[0]))
    assert data["spec"]["types"]["menu"]["label"] == "Menu"
    assert [n["type"] for n in data["graph"]["nodes"].values()] == ["start"]
    # the selects offer company A's rows only
    assert "Departamento exclusivo A" in [d["name"] for d in data["departments"]]
    assert "Departamento exclusivo B" not in page.text and "Etiqueta exclusiva B" not in page.text
    assert 'src="/static/vendor/drawflow/drawflow.min.js"' in page.text
    # the page's own data travel as a JSON block, its code in a static file
    assert '<script type="application/json" id="flow-data">' in page.text
    assert 'src="/static/flows/editor.js"' in page.text


def test_AUT_2_timeout_message_with_an_unknown_variable_is_refused(app, tenants, a_client):
    response = a_client.submit("/admin/flows/new/", _form(timeout_message="Tchau {{apelido}}"))
    assert response.status_code == 200
    assert "Variável desconhecida" in html.unescape(response.text)
    with app.app_context():
        assert db.session.scalar(select(Flow).where(Flow.name == "Atendimento inicial")) is None


def test_AUT_2_a_flow_in_use_is_not_deleted_and_the_message_names_who_uses_it(app, tenants,
                                                                           a_client):
    a = tenants["a"]
    flow_id = a.ids["flows"]
    with app.app_context():
        db.session.get(Connection, a.ids["connections"]).flow_id = flow_id
        db.session.commit()
    refused = a_client.submit("/admin/flows/delete/", {"id": str(flow_id)}, follow_redirects=True)
    text = html.unescape(refused.text)
    assert "está em uso" in text and "Conexão exclusiva A" in text
    assert _flow(app, flow_id) is not None
    with app.app_context():
        db.session.get(Connection, a.ids["connections"]).flow_id = None
        db.session.commit()
    # a published flow goes with its versions
    assert post(a_client, f"{PUBLISH}?id={flow_id}", json={"graph": graph()}).status_code == 200
    assert a_client.submit("/admin/flows/delete/", {"id": str(flow_id)}).status_code == 302
    assert _flow(app, flow_id) is None
    with app.app_context():
        assert db.session.scalar(select(func.count(FlowVersion.id))) == 0


def test_AUT_2_save_refuses_a_dangling_link_with_reasons_and_keeps_the_draft(app, tenants,
                                                                           a_client):
    flow_id = tenants["a"].ids["flows"]
    before = _flow(app, flow_id).draft
    broken = graph()
    broken["nodes"]["2"]["next"]["next"] = "99"  # a node that is not there
    response = post(a_client, f"{SAVE}?id={flow_id}", json={"graph": broken})
    assert response.status_code == 422
    assert response.json["error"] == "O rascunho não foi salvo."
    assert response.json["reasons"] and all(isinstance(r, str) for r in response.json["reasons"])
    assert _flow(app, flow_id).draft == before

    saved = post(a_client, f"{SAVE}?id={flow_id}", json={"graph": graph()})
    assert saved.status_code == 200, saved.json
    assert saved.json["message"] == "Rascunho salvo."
    assert _flow(app, flow_id).draft == graph()


def test_AUT_2_save_refuses_another_companys_tag_in_the_graph(app, tenants, a_client):
    """The server checks every id of the drawing, never the browser's word."""
    flow_id = tenants["a"].ids["flows"]
    with app.app_context():
        b_tag = db.session.scalar(select(Tag.id).where(Tag.name == "Etiqueta exclusiva B"))
    forged = graph()
    forged["nodes"]["2"] = {"type": "tag", "x": 0, "y": 0, "data": {"tag_id": b_tag},
                            "next": {"next": "3"}}
    response = post(a_client, f"{SAVE}?id={flow_id}", json={"graph": forged})
    assert response.status_code == 422 and response.json["reasons"]
    assert _flow(app, flow_id).draft != forged


def test_AUT_2_publish_creates_version_1_then_version_2(app, tenants, a_client):
    flow_id = tenants["a"].ids["flows"]
    first = post(a_client, f"{PUBLISH}?id={flow_id}", json={"graph": graph()})
    assert first.status_code == 200, first.json
    assert first.json["version"] == 1
    second = post(a_client, f"{PUBLISH}?id={flow_id}", json={"graph": graph(text="Oi de novo")})
    assert second.status_code == 200 and second.json["version"] == 2
    with app.app_context():
        versions = db.session.scalars(select(FlowVersion).where(FlowVersion.flow_id == flow_id)
                                      .order_by(FlowVersion.number)).all()
        assert [v.number for v in versions] == [1, 2]
        assert versions[0].graph == graph()  # the first version stays as published
        assert db.session.get(Flow, flow_id).published_version_id == versions[1].id
    assert "v2" in a_client.get("/admin/flows/").text
    refused = post(a_client, f"{PUBLISH}?id={flow_id}", json={"graph": {"nodes": {}}})
    assert refused.status_code == 422 and refused.json["reasons"]


def test_AUT_2_another_companys_flow_is_404_on_every_editor_route(app, tenants, a_client):
    b_flow = tenants["b"].ids["flows"]
    before = _flow(app, b_flow).draft
    assert a_client.get(f"/admin/flows/editor/?id={b_flow}").status_code == 404
    for url in (SAVE, PUBLISH, SIMULATE):
        response = post(a_client, f"{url}?id={b_flow}", json={"graph": graph(), "text": "oi"})
        assert response.status_code == 404, url
    assert _flow(app, b_flow).draft == before
    with app.app_context():
        assert db.session.scalar(select(func.count(FlowVersion.id))) == 0


def test_AUT_2_without_flows_edit_save_and_publish_are_403(app, tenants):
    a = tenants["a"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        gen_user(company, "leitor@example.com", gen_group(company, "Leitores", ["flows.view"]))
        db.session.commit()
    client = app.test_client()
    assert login(client, "leitor@example.com").status_code == 302
    page = client.get(f"/admin/flows/editor/?id={a.ids['flows']}")
    assert page.status_code == 200 and 'data-testid="flow-publish"' not in page.text
    for url in (SAVE, PUBLISH):
        refused = post(client, f"{url}?id={a.ids['flows']}", json={"graph": graph()})
        assert refused.status_code == 403 and "permissão" in refused.json["error"]
    assert _flow(app, a.ids["flows"]).draft != graph()
    # reading includes the test pane
    assert post(client, f"{SIMULATE}?id={a.ids['flows']}",
                json={"graph": graph(), "state": None, "text": "oi"}).status_code == 200


def test_AUT_2_simulate_answers_with_the_bots_replies_and_writes_nothing(app, tenants, a_client):
    flow_id = tenants["a"].ids["flows"]
    response = post(a_client, f"{SIMULATE}?id={flow_id}",
                    json={"graph": graph(), "state": None, "text": "oi"})
    assert response.status_code == 200, response.json
    body = response.json
    texts = [r["text"] for r in body["replies"]]
    assert "Olá! Seja bem-vindo." in texts and "Até logo." in texts
    assert body["finished"] is True and body["outcome"] == "end"
    with app.app_context():
        assert db.session.scalar(select(func.count(FlowVersion.id))) == 0
    assert _flow(app, flow_id).draft != graph()  # the test pane never saves


def test_AUT_2_malformed_or_huge_bodies_are_400_with_a_message(app, tenants, a_client):
    flow_id = tenants["a"].ids["flows"]
    headers = {"X-CSRFToken": a_client.csrf_token(), "Content-Type": "application/json"}
    for url in (SAVE, PUBLISH, SIMULATE):
        for body in ("{not json", "[1, 2]", '{"graph": "x"}', "[" * 100000,
                     json.dumps({"graph": graph(text="x" * 2_000_000)})):
            response = a_client.post(f"{url}?id={flow_id}", data=body, headers=headers)
            assert response.status_code == 400, (url, body[:20], response.status_code)
            assert response.json["error"].startswith(("Dados inválidos", "O fluxo é grande"))
    assert _flow(app, flow_id).published_version_id is None
