"""The checks a chatbot flow passes before it is saved or published (AUT-2).

`check(company_id, graph)` returns the reasons in Portuguese (empty: valid), each naming
the node by its type and a short excerpt ("Menu «Escolha uma opção»: ..."). Besides each
node's fields (the company's own ids only, known variables, a public URL), the graph as a
whole must let every conversation end: one start, every required outlet linked, every
node reachable, no cycle the bot could spin in without waiting for the customer or the
clock, and from every node a way out (an end, a transfer, or an outlet left unlinked on
purpose that hands the conversation to a person).
"""
from __future__ import annotations

import re

from flask_babel import gettext as _

from .. import actions, conditions
from . import spec

MAX_TRIES = 10
MAX_WAIT_MINUTES = 10080  # a week
EXCERPT = 30
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
# outlets that, left unlinked, hand the conversation to a person (an implicit exit)
HANDOVER_OUTLETS = {"menu": "fail", "question": "fail", "http": "error"}
EXIT_TYPES = ("end", "transfer")


def as_int(value) -> int | None:
    """An int from JSON (3 or "3"); None for anything else (True, 2.5, "x")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def data_of(node: dict) -> dict:
    data = node.get("data")
    return data if isinstance(data, dict) else {}


def links_of(node: dict) -> dict:
    links = node.get("next")
    return links if isinstance(links, dict) else {}


def targets(nodes: dict, node: dict) -> list[str]:
    """The existing nodes `node` leads to, through its real outlets."""
    links = links_of(node)
    return [links[o] for o in spec.outlets(node) if isinstance(links.get(o), str)
            and links[o] in nodes]


def node_name(node_id: str, node) -> str:
    """"Menu «Escolha uma opção»" or "Etiqueta (n4)": how a reason names a node."""
    kind = spec.NODE_TYPES.get(node.get("type")) if isinstance(node, dict) else None
    label = str(kind.label) if kind else _("Passo")
    data = data_of(node) if isinstance(node, dict) else {}
    excerpt = next((str(data[k]) for k in ("text", "url", "integration") if str(data.get(k) or "").strip()), "")
    excerpt = " ".join(excerpt.split())
    if not excerpt:
        return f"{label} ({node_id})"
    if len(excerpt) > EXCERPT:
        excerpt = excerpt[:EXCERPT - 1].rstrip() + "…"
    return f"{label} «{excerpt}»"


def variables_of(nodes: dict) -> list[str]:
    """The flow's own variables: what questions and HTTP nodes store."""
    found = []
    for node in nodes.values():
        if not isinstance(node, dict):
            continue
        data = data_of(node)
        if node.get("type") == "question" and str(data.get("variable") or "").strip():
            found.append(str(data["variable"]).strip())
        if node.get("type") == "http" and isinstance(data.get("map"), dict):
            found += [str(k).strip() for k in data["map"] if str(k).strip()]
    return list(dict.fromkeys(found))


def check(company_id: int, graph) -> list[str]:
    """Why `graph` cannot be saved for this company; an empty list when it can."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), dict):
        return [_("O fluxo não está no formato esperado.")]
    nodes = graph["nodes"]
    if len(nodes) > spec.MAX_NODES:
        return [_("O fluxo pode ter no máximo %(n)s passos.", n=spec.MAX_NODES)]
    reasons = []
    for node_id, node in nodes.items():
        if not isinstance(node_id, str) or not spec.NODE_ID.match(node_id):
            reasons.append(_("Identificador de passo inválido: %(id)s.", id=str(node_id)[:40]))
        elif not isinstance(node, dict) or node.get("type") not in spec.NODE_TYPES:
            reasons.append(_("%(node)s: tipo de passo desconhecido.",
                             node=node_name(node_id, node)))
        elif node.get("next") is not None and not isinstance(node.get("next"), dict):
            reasons.append(_("%(node)s: ligações em formato inválido.",
                             node=node_name(node_id, node)))
    if reasons:
        return reasons
    starts = [i for i, n in nodes.items() if n["type"] == "start"]
    if len(starts) != 1:
        reasons.append(_("O fluxo precisa de exatamente um passo Início."))
    variables = variables_of(nodes)
    for node_id, node in nodes.items():
        name = node_name(node_id, node)
        reasons += [f"{name}: {problem}"
                    for problem in _links(nodes, node) + _fields(company_id, node, variables)]
    if len(starts) == 1 and not reasons:
        reasons += _structure(nodes, starts[0])
    return reasons


# --- links ---------------------------------------------------------------------------------


def _links(nodes: dict, node: dict) -> list[str]:
    problems = []
    links = links_of(node)
    required = spec.required_outlets(node)
    options = data_of(node).get("options")
    for outlet in spec.outlets(node):
        target = links.get(outlet)
        linked = target not in (None, "")
        if linked and (not isinstance(target, str) or target not in nodes):
            problems.append(_("a saída \"%(outlet)s\" aponta para um passo que não existe "
                              "(ligação solta).", outlet=_outlet_label(outlet, options)))
        elif not linked and outlet in required:
            if outlet.startswith("option:"):
                problems.append(_("a opção \"%(option)s\" não leva a nenhum passo.",
                                  option=_outlet_label(outlet, options)))
            else:
                problems.append(_("a saída \"%(outlet)s\" não está ligada a nenhum passo "
                                  "(ligação solta).", outlet=_outlet_label(outlet, options)))
    return problems


def _outlet_label(outlet: str, options) -> str:
    if outlet.startswith("option:"):
        index = int(outlet.split(":", 1)[1])
        label = options[index] if isinstance(options, list) and index < len(options) else ""
        return f"{index + 1}. {str(label)[:EXCERPT]}".strip()
    return str(spec.OUTLET_LABELS.get(outlet, outlet))


# --- fields ----------------------------------------------------------------------------------


def _fields(company_id: int, node: dict, variables: list[str]) -> list[str]:
    data = data_of(node)
    kind = node["type"]
    check = _CHECKS.get(kind)
    return check(company_id, data, variables) if check else []


def _text_required(data: dict, variables) -> list[str]:
    if not str(data.get("text") or "").strip():
        return [_("escreva o texto.")]
    return actions.check_text(data.get("text"), variables)


def _tries(data: dict) -> list[str]:
    if data.get("max_tries") in (None, ""):
        return []
    tries = as_int(data.get("max_tries"))
    if tries is None or not 1 <= tries <= MAX_TRIES:
        return [_("o número de tentativas deve ser de 1 a %(n)s.", n=MAX_TRIES)]
    return []


def _message(company_id, data, variables) -> list[str]:
    if data.get("template_id") not in (None, ""):
        problems = actions.check(company_id, {"type": "send_template",
                                              "template_id": data.get("template_id")})
        return problems + actions.check_text(data.get("text"), variables)
    return _text_required(data, variables)


def _menu(company_id, data, variables) -> list[str]:
    problems = _text_required(data, variables)
    options = data.get("options")
    if not isinstance(options, list) or not 1 <= len(options) <= spec.MAX_OPTIONS:
        problems.append(_("o menu precisa de 1 a %(n)s opções.", n=spec.MAX_OPTIONS))
    else:
        for index, option in enumerate(options):
            if not isinstance(option, str) or not option.strip():
                problems.append(_("a opção %(n)s está vazia.", n=index + 1))
    return problems + actions.check_text(data.get("invalid_text"), variables) + _tries(data)


def _question(company_id, data, variables) -> list[str]:
    problems = _text_required(data, variables)
    field = str(data.get("field") or "").strip()
    variable = str(data.get("variable") or "").strip()
    if not field and not variable:
        problems.append(_("escolha o campo do contato ou o nome da variável onde guardar a "
                          "resposta."))
    if field and not conditions.field_exists(company_id, field):
        problems.append(_("campo do contato desconhecido: %(field)s.", field=field[:60]))
    if variable and not VARIABLE_NAME.match(variable):
        problems.append(_("o nome da variável deve ter só letras, números e _ (até 40)."))
    if (data.get("validate") or "text") not in spec.VALIDATIONS:
        problems.append(_("validação desconhecida."))
    return problems + actions.check_text(data.get("retry_text"), variables) + _tries(data)


def _condition(company_id, data, variables) -> list[str]:
    return conditions.check(company_id, data.get("condition"))


def _tag(company_id, data, variables) -> list[str]:
    return actions.check(company_id, {"type": "add_tag", "tag_id": data.get("tag_id")})


def _transfer(company_id, data, variables) -> list[str]:
    move = {"type": "move", "department_id": data.get("department_id"),
            "agent_id": data.get("agent_id")}
    return actions.check(company_id, move) + actions.check_text(data.get("text"), variables)


def _http(company_id, data, variables) -> list[str]:
    action = {"type": "http", "method": data.get("method"), "url": data.get("url"),
              "integration": data.get("integration"), "body": data.get("body"),
              "map": data.get("map")}
    return actions.check(company_id, action, variables)


def _wait(company_id, data, variables) -> list[str]:
    minutes = as_int(data.get("minutes"))
    if minutes is None or not 1 <= minutes <= MAX_WAIT_MINUTES:
        return [_("o tempo de espera deve ser de 1 a %(n)s minutos.", n=MAX_WAIT_MINUTES)]
    return []


def _end(company_id, data, variables) -> list[str]:
    return actions.check_text(data.get("text"), variables)


_CHECKS = {
    "message": _message, "menu": _menu, "question": _question, "condition": _condition,
    "tag": _tag, "transfer": _transfer, "http": _http, "wait": _wait, "end": _end,
}


# --- the graph as a whole ------------------------------------------------------------------


def is_exit(node: dict) -> bool:
    """A node where a conversation may leave the bot: an end, a transfer, or an outlet
    left unlinked on purpose (the conversation then goes to a person)."""
    kind = node.get("type")
    if kind in EXIT_TYPES:
        return True
    outlet = HANDOVER_OUTLETS.get(kind)
    return outlet is not None and links_of(node).get(outlet) in (None, "")


def reachable(nodes: dict, start: str) -> list[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in targets(nodes, nodes[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return [i for i in nodes if i in seen]


def _structure(nodes: dict, start: str) -> list[str]:
    reasons = []
    found = set(reachable(nodes, start))
    for node_id, node in nodes.items():
        if node_id not in found:
            reasons.append(_("%(node)s: não há caminho do Início até este passo.",
                             node=node_name(node_id, node)))
    for cycle in _busy_cycles(nodes):
        first = cycle[0]
        reasons.append(_("%(node)s: laço sem passo de espera: o robô repetiria estes passos "
                         "sem parar (inclua um menu, uma pergunta ou uma espera no laço).",
                         node=node_name(first, nodes[first])))
    stuck = [i for i in nodes if i in found and i not in _can_exit(nodes)
             and nodes[i]["type"] != "start"]
    if stuck:
        reasons.append(_("%(node)s: laço sem saída: a conversa nunca chega a um Fim, a uma "
                         "transferência ou a um atendente.",
                         node=node_name(stuck[0], nodes[stuck[0]])))
    return reasons


def _can_exit(nodes: dict) -> set[str]:
    """The nodes from which some exit is reachable (a walk backwards from the exits)."""
    back: dict[str, list[str]] = {i: [] for i in nodes}
    for node_id, node in nodes.items():
        for target in targets(nodes, node):
            back[target].append(node_id)
    seen = {i for i, n in nodes.items() if is_exit(n)}
    todo = list(seen)
    while todo:
        for source in back[todo.pop()]:
            if source not in seen:
                seen.add(source)
                todo.append(source)
    return seen


def _busy_cycles(nodes: dict) -> list[list[str]]:
    """The cycles made only of nodes that do not wait (strongly connected components of
    that subgraph with a loop in them), each as its node ids in the graph's order."""
    busy = {i for i, n in nodes.items() if not spec.NODE_TYPES[n["type"]].waits}
    edges = {i: [t for t in targets(nodes, nodes[i]) if t in busy] for i in busy}
    order = {i: n for n, i in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = 0
    for root in [i for i in nodes if i in busy]:
        if root in index:
            continue
        # Tarjan's algorithm, iterative (a flow may have 200 nodes in a chain)
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node_id, it = work[-1]
            advanced = False
            for target in it:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(edges[target])))
                    advanced = True
                    break
                if target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node_id:
                        break
                if len(component) > 1 or node_id in edges[node_id]:
                    cycles.append(sorted(component, key=order.get))
    return cycles
