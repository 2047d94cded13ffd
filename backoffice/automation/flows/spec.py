"""The chatbot flow graph (AUT-2): node types, their fields and their outlets.

One format is stored in Flow.draft and FlowVersion.graph, sent to and from the editor,
and read by the checker and the engine:

    {
      "nodes": {
        "n1": {"type": "start", "x": 40, "y": 80, "data": {}, "next": {"next": "n2"}},
        "n2": {"type": "menu", "x": 300, "y": 80,
               "data": {"text": "Escolha:", "options": ["Vendas", "Suporte"],
                        "invalid_text": "Não entendi.", "max_tries": 3},
               "next": {"option:0": "n3", "option:1": "n4", "fail": "n5"}},
        ...
      }
    }

- node ids: 1 to 40 characters of [A-Za-z0-9_-]; "x"/"y": the editor's position.
- "data": the node's fields (NODE_TYPES[type].fields); "next": outlet name -> node id.
- exactly one "start" node; the outlets a node has are `outlets(node)` (a menu has one
  per option, "option:<index>", plus "fail"); REQUIRED outlets must be linked, optional
  ones left out fall back to a person (the ticket goes to the queue).

Fields per type (all strings unless said; texts may hold message variables, DEP-8, and
the flow's own variables: the names questions and HTTP nodes store):

    start      -
    message    text, template_id (int, a text/attachment template; optional)
    menu       text, options (list of 1..10 labels), invalid_text, max_tries (int 1..10)
               the customer types the number ("1") or the option's words ("vendas")
    question   text, field ("name", "email", "phone", "document" or "custom:<key>";
               optional when `variable` is set), variable (name to keep the answer as;
               optional), validate ("text", "number", "email", "cpf_cnpj", "phone",
               "date"), retry_text, max_tries (int 1..10)
    condition  condition (one dict of backoffice.automation.conditions)
    tag        tag_id (int, a company tag)
    transfer   department_id (int, optional), agent_id (int, optional; one of the two),
               text (optional, sent before the transfer)
    http       method, url, body, map ({"variable": "json.path"}): actions.call_http;
               or integration (a company integration's name, INT-1) instead of method/url
    wait       minutes (int 1..10080)
    end        text (optional), close (bool: close the ticket; else it goes to the queue)

Service API (backoffice.automation.flows.service):
    check(company_id, graph) -> list[str]        reasons in Portuguese, empty when valid
    save_draft(flow, graph) -> None              RuleError("; ".join(reasons)) when invalid
    publish(flow, user) -> FlowVersion           checks the draft, copies it, immutable
Engine API (backoffice.automation.flows.engine):
    start(ticket, version, message=None) -> FlowRun
    on_inbound(ticket, message, now) -> bool     a bot handled the message
    on_queued(ticket, now) -> bool               the department's flow started
    on_closed(ticket, now) -> None               an active run ends with the ticket
    simulate(company_id, graph, state, text) -> dict
        the editor's test pane, no channel and no rows written: state None starts the
        conversation; returns {"replies": [{"text": ..., "kind": "bot"|"system"}],
        "state": <opaque JSON to send back with the next text>, "finished": bool,
        "outcome": None | "transfer: Vendas" | "end" | ...}
"""
from __future__ import annotations

import re
from typing import NamedTuple

from flask_babel import lazy_gettext as _l

NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_NODES = 200
MAX_OPTIONS = 10


class NodeType(NamedTuple):
    label: object            # shown in the editor's palette
    fields: tuple[str, ...]
    outlets: tuple[str, ...]  # fixed outlets (a menu adds one per option)
    required: tuple[str, ...]  # outlets that must be linked
    waits: bool               # stops for the customer or for time (breaks a loop)


NODE_TYPES: dict[str, NodeType] = {
    "start": NodeType(_l("Início"), (), ("next",), ("next",), False),
    "message": NodeType(_l("Mensagem"), ("text", "template_id"), ("next",), ("next",), False),
    "menu": NodeType(_l("Menu"), ("text", "options", "invalid_text", "max_tries"),
                     ("fail",), (), True),
    "question": NodeType(_l("Pergunta"), ("text", "field", "variable", "validate",
                                          "retry_text", "max_tries"),
                         ("next", "fail"), ("next",), True),
    "condition": NodeType(_l("Condição"), ("condition",), ("yes", "no"), ("yes", "no"), False),
    "tag": NodeType(_l("Etiqueta"), ("tag_id",), ("next",), ("next",), False),
    "transfer": NodeType(_l("Transferir"), ("department_id", "agent_id", "text"), (), (), False),
    "http": NodeType(_l("Requisição HTTP"), ("integration", "method", "url", "body", "map"),
                     ("next", "error"), ("next",), False),
    "wait": NodeType(_l("Aguardar"), ("minutes",), ("next",), ("next",), True),
    "end": NodeType(_l("Fim"), ("text", "close"), (), (), False),
}

VALIDATIONS: dict[str, object] = {
    "text": _l("Texto"),
    "number": _l("Número"),
    "email": _l("E-mail"),
    "cpf_cnpj": _l("CPF/CNPJ"),
    "phone": _l("Telefone"),
    "date": _l("Data (dd/mm/aaaa)"),
}

OUTLET_LABELS: dict[str, object] = {
    "next": _l("seguir"),
    "fail": _l("tentativas esgotadas"),
    "yes": _l("sim"),
    "no": _l("não"),
    "error": _l("erro"),
}


def outlets(node: dict) -> list[str]:
    """The outlet names of `node`, in the editor's output order."""
    kind = NODE_TYPES.get(node.get("type"))
    if kind is None:
        return []
    if node.get("type") == "menu":
        options = (node.get("data") or {}).get("options") or []
        count = len(options) if isinstance(options, list) else 0
        return [f"option:{i}" for i in range(count)] + list(kind.outlets)
    return list(kind.outlets)


def required_outlets(node: dict) -> list[str]:
    kind = NODE_TYPES.get(node.get("type"))
    if kind is None:
        return []
    if node.get("type") == "menu":
        return [o for o in outlets(node) if o.startswith("option:")]
    return list(kind.required)


def editor_spec() -> dict:
    """What the editor's palette needs, as JSON (labels translated)."""
    return {
        "types": {name: {"label": str(t.label), "fields": list(t.fields),
                         "outlets": list(t.outlets), "required": list(t.required)}
                  for name, t in NODE_TYPES.items()},
        "validations": {k: str(v) for k, v in VALIDATIONS.items()},
        "outlet_labels": {k: str(v) for k, v in OUTLET_LABELS.items()},
    }
