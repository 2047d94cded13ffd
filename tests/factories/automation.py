"""Automation (issue 13): rules and published chatbot flows."""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.models.automation import AutomationRule, Flow, FlowVersion


def gen_rule(company, trigger, actions, conditions=(), match="all", position=0, name=None,
             **fields) -> AutomationRule:
    """An automation rule (AUT-8); actions and conditions in the formats of
    backoffice.automation.actions / conditions."""
    rule = AutomationRule(company_id=getattr(company, "id", company), trigger=trigger,
                          name=name or f"Regra {trigger} {position}", position=position,
                          match=match, conditions=list(conditions), actions=list(actions),
                          **fields)
    db.session.add(rule)
    db.session.flush()
    return rule


def gen_published_flow(company, name: str, graph: dict, **fields) -> Flow:
    """A flow whose draft `graph` is published as version 1 as it is (no checker: tests of
    the checker call it themselves)."""
    company_id = getattr(company, "id", company)
    flow = Flow(company_id=company_id, name=name, draft=graph, **fields)
    db.session.add(flow)
    db.session.flush()
    version = FlowVersion(company_id=company_id, flow_id=flow.id, number=1, graph=graph)
    db.session.add(version)
    db.session.flush()
    flow.published_version_id = version.id
    db.session.flush()
    return flow


def flow_node(kind, nxt=None, **data) -> dict:
    """One node of a flow graph: `nxt` is the next node's key, or a dict of exits."""
    return {"type": kind, "x": 0, "y": 0, "data": data,
            "next": {"next": nxt} if isinstance(nxt, str) else (nxt or {})}


# A one-question menu: "Escolha" with one option, "Vendas", that ends the flow.
MENU_FLOW = {"nodes": {
    "start": flow_node("start", "ask"),
    "ask": flow_node("menu", {"option:0": "bye"}, text="Escolha", options=["Vendas"]),
    "bye": flow_node("end", text="Tchau, Vendas"),
}}
