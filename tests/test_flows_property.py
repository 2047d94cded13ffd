"""AUT-2 property: a flow the checker accepts never leaves a customer stuck.

Random graphs of random node types and random links (some missing, some dangling); for
each one the checker accepts, random customer messages (option numbers, option words,
valid answers, garbage) drive the editor's simulation for a few turns, and after every
turn the conversation either waits on a menu, a question or a wait node, or has finished
(end, transfer, hand-over), within MAX_STEPS nodes and never by hitting that limit. A
graph the checker refuses gets at least one reason (and the simulation still never spins
past the limit)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.automation.flows import checker, engine, spec
from backoffice.extensions import db
from backoffice.models import ContactField
from tests.factories import gen_company, gen_department, gen_tag

# every type but start; the ones that wait come twice (loops through them are allowed)
TYPES = [t for t in spec.NODE_TYPES if t != "start"] + ["menu", "question", "wait"]
INPUTS = ["1", "2", " 3 ", "4.", "9", "Vendas", "suporte", "sim", "banana", "", "?!",
          "ana@example.com", "529.982.247-25", "(11) 98765-4321", "05/03/1990", "1.234,5",
          "atendente"]
TURNS = 6


@pytest.fixture
def world(app, httpserver):
    httpserver.expect_request("/h").respond_with_json({"ok": "sim"})
    with app.app_context():
        company, _admin = gen_company("Propriedade Ltda", "admin@prop.example")
        department = gen_department(company, "Vendas")
        tag = gen_tag(company, "VIP")
        db.session.add(ContactField(company_id=company.id, label="Código", key="codigo"))
        db.session.commit()
        yield SimpleNamespace(company_id=company.id, department_id=department.id,
                              tag_id=tag.id, url=httpserver.url_for("/h"))


def node_data(draw, kind: str, w) -> dict:
    pick = lambda values: draw(st.sampled_from(values))  # noqa: E731
    if kind == "message":
        return {"text": pick(["Olá {{nome_cliente}}", "Resultado: {{ok}}"])}
    if kind == "menu":
        options = draw(st.lists(st.sampled_from(["Vendas", "Suporte", "Sim", "Outro"]),
                                min_size=1, max_size=4, unique=True))
        return {"text": "Escolha", "options": options, "max_tries": draw(st.integers(1, 3))}
    if kind == "question":
        return {"text": "Pergunta?", "field": pick(["name", "email", "custom:codigo"]),
                "variable": pick(["", "resposta"]), "validate": pick(list(spec.VALIDATIONS)),
                "max_tries": draw(st.integers(1, 3))}
    if kind == "condition":
        return {"condition": {"type": "variable", "name": "ok", "op": "equals", "value": "sim"}}
    if kind == "tag":
        return {"tag_id": w.tag_id}
    if kind == "transfer":
        return {"department_id": w.department_id, "text": pick(["", "Transferindo."])}
    if kind == "http":
        return {"method": "GET", "url": w.url, "map": {"ok": "ok"}}
    if kind == "wait":
        return {"minutes": draw(st.integers(1, 60))}
    return {"text": pick(["", "Tchau"]), "close": draw(st.booleans())}


def random_graph(draw, w) -> dict:
    """A tree from the start (each node hangs from a free outlet of an earlier one, so
    most are reachable), then every other outlet: required ones to any node (loops
    happen), optional ones ("fail", "error") to a node or left unlinked, and now and then
    one dangling."""
    count = draw(st.integers(2, 8))
    ids = [f"n{i}" for i in range(count)]
    nodes = {"n0": {"type": "start", "data": {}, "next": {}}}
    for node_id in ids[1:]:
        kind = draw(st.sampled_from(TYPES))
        nodes[node_id] = {"type": kind, "data": node_data(draw, kind, w), "next": {}}
        free = [(i, o) for i in nodes if i != node_id for o in spec.outlets(nodes[i])
                if o not in nodes[i]["next"]]
        if free:
            parent, outlet = draw(st.sampled_from(free))
            nodes[parent]["next"][outlet] = node_id
    for node_id in ids:
        node = nodes[node_id]
        for outlet in spec.outlets(node):
            if outlet in node["next"]:
                continue
            if draw(st.integers(0, 49)) == 0:
                node["next"][outlet] = "sumiu"
            elif outlet in spec.required_outlets(node) or draw(st.booleans()):
                # mostly onwards or to a node that waits; anywhere now and then
                later = [i for i in ids[ids.index(node_id) + 1:]] + [
                    i for i in ids if spec.NODE_TYPES[nodes[i]["type"]].waits]
                anywhere = not later or draw(st.integers(0, 4)) == 0
                node["next"][outlet] = draw(st.sampled_from(ids if anywhere else later))
    return {"nodes": nodes}


def assert_not_stuck(g: dict, result: dict) -> None:
    state = result["state"]
    assert state["steps"] <= engine.MAX_STEPS
    if result["finished"]:
        outcome = result["outcome"]
        assert outcome in ("end", "handover") or outcome.startswith("transfer: ")
        return
    waiting_on = g["nodes"][state["node"]]["type"]
    assert (state["waiting"], waiting_on) in {("input", "menu"), ("input", "question"),
                                              ("time", "wait")}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_AUT_2_accepted_flows_never_leave_the_customer_stuck(world, data):
    g = random_graph(data.draw, world)
    reasons = checker.check(world.company_id, g)
    accepted = not reasons
    assert accepted or all(isinstance(r, str) and r for r in reasons)
    result = engine.simulate(world.company_id, g, None, None)
    for _turn in range(TURNS):
        if accepted:
            assert_not_stuck(g, result)
            limit = f"{engine.MAX_STEPS} passos"
            assert not any(limit in r["text"] for r in result["replies"])
        else:
            assert result["state"]["steps"] <= engine.MAX_STEPS
        if result["finished"]:
            break
        text = data.draw(st.sampled_from(INPUTS))
        result = engine.simulate(world.company_id, g, result["state"], text)
