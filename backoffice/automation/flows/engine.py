"""Runs chatbot conversations (AUT-2) on published flow versions (format: spec.py).

One conversation is a FlowRun: the node it stands on, what it has learnt (variables), the
tries of the current question, and what it waits for ("input": the customer's answer;
"time": a wait node, until `resume_at`). A run reads only its own version's graph, never
the draft, so publishing v2 leaves a customer on v1 until their conversation ends.

The walking of the graph is written once (`begin`, `answer`, `resume` over a `Port`): the
real engine's port acts on the ticket (bot messages, tags, the contact, transfers, the
close), the editor's test pane (`simulate`) uses a port that only collects what would
happen, with no row written. A turn runs at most MAX_STEPS nodes: a graph broken in a
way the checker did not catch hands the conversation to a person instead of spinning.

Timer "flow": due at the active run's `resume_at`: a wait node continues, or a customer
who stopped answering (Flow.timeout_minutes since the bot's last question) ends the run
as expired and the ticket closes automatically (AUT-4 for bots).
"""
from __future__ import annotations

import contextvars
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Protocol

from flask_babel import gettext as _
from sqlalchemy import select

from ...extensions import db
from ...lib import after_commit, clock
from ...models import Department, MessageTemplate, Tag, Ticket
from ...models.automation import (
    RUN_ACTIVE, RUN_DONE, RUN_EXPIRED, RUN_HANDED_OVER, Flow, FlowRun, FlowVersion,
)
from ...services import RuleError, company_config, tickets
from ...services.contacts import duplicate_of
from .. import actions, conditions, timers
from ..actions import ActionError
from ..conditions import Context, fold
from . import validators
from .checker import MAX_TRIES, MAX_WAIT_MINUTES, as_int, data_of, links_of

log = logging.getLogger(__name__)

MAX_STEPS = 50
DEFAULT_TRIES = 3
WAIT_INPUT, WAIT_TIME = "input", "time"
_NUMBER_ANSWER = re.compile(r"^\s*(\d{1,2})\s*[.)\-:]?\s*$")
_KEYWORD_PUNCTUATION = " .,!?;:"

# a hand-over puts the ticket back in its queue: that must not start the queue's own bot
_handing_over: contextvars.ContextVar[bool] = contextvars.ContextVar("flow_handing_over",
                                                                    default=False)


def default_invalid_text() -> str:
    return _("Opção inválida. Responda com o número da opção.")


def default_handover_text() -> str:
    return _("Certo! Vou transferir você para um atendente.")


# --- the walking, shared by the engine and the simulation -------------------------------------


@dataclass
class State:
    node: str | None = None
    variables: dict = field(default_factory=dict)
    tries: int = 0
    waiting: str | None = None   # WAIT_INPUT, WAIT_TIME, None: finished (or not started)
    outcome: str | None = None   # how it finished: "end", "transfer: Vendas", "handover"
    steps: int = 0               # nodes run in the current turn

    @property
    def finished(self) -> bool:
        return self.outcome is not None


class Port(Protocol):
    """What a conversation does to the world; the walker decides when."""

    def send(self, text) -> None: ...
    def send_template(self, template_id, text) -> None: ...
    def tag(self, tag_id) -> None: ...
    def set_field(self, name: str, value: str) -> None: ...
    def http(self, data: dict) -> dict: ...
    def evaluate(self, condition) -> bool: ...
    def wait(self, minutes: int) -> None: ...
    def waiting_input(self) -> None: ...
    # the three ends of a conversation, each returning the outcome: "transfer: Vendas",
    # "end", "handover"
    def transfer(self, department_id, agent_id) -> str: ...
    def end(self, close: bool) -> str: ...
    def handover(self, why: str) -> str: ...


def menu_text(data: dict) -> str:
    options = data.get("options") if isinstance(data.get("options"), list) else []
    lines = [f"{i + 1} - {str(o).strip()}" for i, o in enumerate(options)]
    return "\n".join([str(data.get("text") or "").strip(), ""] + lines).strip()


def choose_option(options, text) -> int | None:
    """The menu option the customer meant: its number ("2", " 2 ", "2."), its words
    (accents and case ignored), or the only option whose words appear in the message."""
    options = options if isinstance(options, list) else []
    number = _NUMBER_ANSWER.match(text or "")
    if number:
        index = int(number.group(1)) - 1
        return index if 0 <= index < len(options) else None
    said = fold(text)
    labels = [fold(o) for o in options]
    if not said:
        return None
    if said in labels:
        return labels.index(said)
    found = [i for i, label in enumerate(labels) if label and re.search(
        r"(?<!\w)" + re.escape(label) + r"(?!\w)", said)]
    return found[0] if len(found) == 1 else None


def tries_of(data: dict) -> int:
    tries = as_int(data.get("max_tries"))
    return tries if tries is not None and 1 <= tries <= MAX_TRIES else DEFAULT_TRIES


def begin(graph: dict, state: State, port: Port) -> State:
    """From the start node until a node waits or the conversation ends."""
    nodes = _nodes(graph)
    start = next((i for i, n in nodes.items() if n.get("type") == "start"), None)
    return _walk(nodes, state, port, start, _("o fluxo não tem passo Início"))


def answer(graph: dict, state: State, port: Port, text: str | None) -> State:
    """The customer's message to the menu or question the conversation waits on."""
    nodes = _nodes(graph)
    node = nodes.get(state.node) if state.node else None
    if state.waiting != WAIT_INPUT or node is None or node.get("type") not in ("menu", "question"):
        return hand_over(state, port, _("o passo atual não existe mais"))
    data, links = data_of(node), links_of(node)
    if node["type"] == "menu":
        choice = choose_option(data.get("options"), text)
        if choice is not None:
            return _walk(nodes, state, port, links.get(f"option:{choice}"),
                         _("a opção escolhida não leva a nenhum passo"))
        return _retry(nodes, state, port, node,
                      str(data.get("invalid_text") or "").strip() or default_invalid_text(),
                      menu_text(data))
    try:
        value = validators.validate(data.get("validate"), text)
    except RuleError as exc:
        return _retry(nodes, state, port, node,
                      str(data.get("retry_text") or "").strip() or str(exc), None)
    name = str(data.get("field") or "").strip()
    if name:
        port.set_field(name, value)
    variable = str(data.get("variable") or "").strip()
    if variable:
        state.variables = {**state.variables, variable: value}
    return _walk(nodes, state, port, links.get("next"), _("a pergunta não leva a nenhum passo"))


def resume(graph: dict, state: State, port: Port) -> State:
    """A wait node's time is over: on to its next node."""
    nodes = _nodes(graph)
    node = nodes.get(state.node) if state.node else None
    target = links_of(node).get("next") if node is not None else None
    return _walk(nodes, state, port, target, _("a espera não leva a nenhum passo"))


def hand_over(state: State, port: Port, why: str) -> State:
    return _finish(state, port.handover(why))


def _nodes(graph) -> dict:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes, dict):
        return {}
    return {k: v for k, v in nodes.items() if isinstance(v, dict)}


def _finish(state: State, outcome: str) -> State:
    state.waiting = None
    state.outcome = outcome
    return state


def _retry(nodes, state, port, node, text, again) -> State:
    state.tries += 1
    if state.tries >= tries_of(data_of(node)):
        fail = links_of(node).get("fail")
        if fail in (None, ""):
            return hand_over(state, port, _("tentativas esgotadas"))
        return _walk(nodes, state, port, fail, _("tentativas esgotadas"))
    port.send(text)
    if again:
        port.send(again)
    port.waiting_input()
    return state


def _walk(nodes: dict, state: State, port: Port, node_id, why: str) -> State:
    """Run nodes from `node_id` until one waits or the conversation ends; `why` says, for
    the hand-over, what was missing when `node_id` leads nowhere."""
    state.steps = 0
    while state.steps < MAX_STEPS:
        node = nodes.get(node_id) if isinstance(node_id, str) else None
        if node is None:
            return hand_over(state, port, why)
        state.steps += 1
        state.node = node_id
        kind, data = node.get("type"), data_of(node)
        outlet, why = "next", _("a saída do passo não está ligada")
        if kind == "menu":
            port.send(menu_text(data))
            return _wait_input(state, port)
        if kind == "question":
            port.send(data.get("text"))
            return _wait_input(state, port)
        if kind == "wait":
            state.waiting, state.tries = WAIT_TIME, 0
            port.wait(min(max(as_int(data.get("minutes")) or 1, 1), MAX_WAIT_MINUTES))
            return state
        if kind == "transfer":
            port.send(data.get("text"))
            return _finish(state, port.transfer(data.get("department_id"), data.get("agent_id")))
        if kind == "end":
            port.send(data.get("text"))
            return _finish(state, port.end(bool(data.get("close"))))
        if kind == "message":
            if data.get("template_id") not in (None, ""):
                port.send_template(data.get("template_id"), data.get("text"))
            else:
                port.send(data.get("text"))
        elif kind == "condition":
            outlet = "yes" if port.evaluate(data.get("condition")) else "no"
        elif kind == "tag":
            port.tag(data.get("tag_id"))
        elif kind == "http":
            try:
                found = port.http(data)
                state.variables = {**state.variables, **found}
            except ActionError as exc:
                outlet, why = "error", _("a integração falhou: %(error)s", error=str(exc))
        elif kind != "start":
            return hand_over(state, port, _("tipo de passo desconhecido"))
        node_id = links_of(node).get(outlet)
    return hand_over(state, port, _("o fluxo passou de %(n)s passos seguidos", n=MAX_STEPS))


def destination(company_id: int, department_id, agent_id):
    """(department, agent, name shown) of a transfer node; None when neither exists in
    the company any more."""
    department = Department.get_owned(company_id, department_id)
    agent = actions.company_user(company_id, agent_id)
    if agent is None and department is None:
        return None
    return department, agent, agent.name if agent is not None else department.name


def _wait_input(state: State, port: Port) -> State:
    state.waiting, state.tries = WAIT_INPUT, 0
    port.waiting_input()
    return state


# --- the real engine: a FlowRun on a ticket ---------------------------------------------------


def source_of(version: FlowVersion) -> str:
    return f"{version.flow.name} v{version.number}"


class TicketPort(Port):
    """The walker's actions on a real ticket, on behalf of "<flow> v<n>"."""

    def __init__(self, run: FlowRun, ticket: Ticket, state: State, now: datetime, message=None):
        self.run, self.ticket, self.state, self.now, self.message = run, ticket, state, now, message
        self.source = source_of(run.version)

    @property
    def ctx(self) -> Context:
        return Context(self.ticket, self.now, self.message, variables=self.state.variables)

    def _act(self, action: dict) -> dict:
        try:
            return actions.run(action, self.ctx, self.source)
        except ActionError as exc:
            log.warning("flow %s: %s failed on ticket %s: %s", self.source, action.get("type"),
                        self.ticket.id, exc)
            return {}

    def send(self, text) -> None:
        try:
            actions.send_text(self.ctx, text)
        except RuleError as exc:  # a closed 24-hour window, a text too long
            log.warning("flow %s could not send on ticket %s: %s", self.source, self.ticket.id, exc)

    def send_template(self, template_id, text) -> None:
        try:
            actions.run({"type": "send_template", "template_id": template_id}, self.ctx,
                        self.source)
        except ActionError:
            self.send(text)

    def tag(self, tag_id) -> None:
        self._act({"type": "add_tag", "tag_id": tag_id})

    def set_field(self, name: str, value: str) -> None:
        contact = self.ticket.contact
        if name.startswith("custom:"):
            # a new dict: the JSON column does not see changes made in place
            contact.custom_fields = {**(contact.custom_fields or {}), name[len("custom:"):]: value}
        elif name == "name":
            contact.name = value[:120]
        elif name == "email":
            contact.email = value[:254]
        elif name in ("phone", "document"):
            phone, document = (value, None) if name == "phone" else (None, value)
            if duplicate_of(contact.company_id, phone, document, exclude_id=contact.id):
                return  # another contact has it: kept in the flow's variable only
            setattr(contact, name, value)
            if name == "document":
                contact.person_type = "PF" if len(value) == 11 else "PJ"

    def http(self, data: dict) -> dict:
        return actions.call_http({"type": "http", **data}, self.ctx)

    def evaluate(self, condition) -> bool:
        return isinstance(condition, dict) and conditions.evaluate(condition, self.ctx)

    def wait(self, minutes: int) -> None:
        self.run.resume_at = self.now + timedelta(minutes=minutes)

    def waiting_input(self) -> None:
        minutes = self.run.version.flow.timeout_minutes
        self.run.resume_at = self.now + timedelta(minutes=minutes) if minutes else None

    def finish(self, status: str, detail: str) -> None:
        run = self.run
        run.status, run.finished_at = status, self.now
        run.waiting_for, run.resume_at = None, None
        self.ticket.automated = False
        tickets.history(self.ticket, "bot", source=self.source, detail=detail)

    def transfer(self, department_id, agent_id) -> str:
        found = destination(self.ticket.company_id, department_id, agent_id)
        if found is None:
            return self.handover(_("o destino da transferência não existe mais"))
        department, agent, label = found
        self.finish(RUN_HANDED_OVER, _("Transferido para %(name)s", name=label))
        if self.ticket.is_open:
            tickets.route(self.ticket, department, agent if agent and agent.active else None,
                          source=self.source)
        return f"transfer: {label}"

    def end(self, close: bool) -> str:
        self.finish(RUN_DONE, _("Fluxo concluído"))
        if close and self.ticket.is_open:
            tickets.close_automatically(self.ticket, source=self.source)
        return "end"

    def handover(self, why: str) -> str:
        self.send(default_handover_text())
        self.finish(RUN_HANDED_OVER, _("Transferido para um atendente: %(why)s", why=why))
        if self.ticket.is_open and self.ticket.department is not None:
            token = _handing_over.set(True)
            try:
                # the same department: no DEP-6 transfer message goes out
                tickets.route(self.ticket, self.ticket.department, None, source=self.source)
            finally:
                _handing_over.reset(token)
        return "handover"

    def expire(self) -> None:
        flow = self.run.version.flow
        self.finish(RUN_EXPIRED, _("Encerrado por inatividade"))
        if self.ticket.is_open:
            text = actions.render(flow.timeout_message, self.ctx) if flow.timeout_message else None
            tickets.close_automatically(self.ticket, source=self.source, message=text or None)


def _state_of(run: FlowRun) -> State:
    return State(node=run.node_id, variables=dict(run.variables or {}), tries=run.tries or 0,
                 waiting=run.waiting_for)


def _keep(run: FlowRun, state: State) -> None:
    run.node_id = state.node
    run.variables = dict(state.variables)  # a new dict: the JSON column sees the change
    run.tries = state.tries
    if run.status == RUN_ACTIVE:
        run.waiting_for = state.waiting


_RUNS = "flow_runs"  # after_commit.memo: ticket id -> its latest FlowRun (None: none yet)


def latest_run(ticket: Ticket) -> FlowRun | None:
    """The ticket's last run (the active one, if any: a run starts only when no other is
    active), through ix_flow_run_ticket_status. Read once per transaction (SCL-3): an
    inbound message asks it in the flow step and again in every timer's due instant; the
    memo holds the row itself, so the transaction's own changes to it are seen, and a run
    added or deleted forgets it (_forget_runs)."""
    if ticket.id is None:
        return None
    known = after_commit.memo(_RUNS)
    if ticket.id in known and not _runs_unflushed():
        return known[ticket.id]
    if not _runs_unflushed():
        # A run exists only on a published version of the company's (its rows go with the
        # version's): a company that never published a flow has none, known without a
        # statement from what the process keeps of its configuration (company_config).
        kept = company_config.current(ticket.company_id)
        if kept is not None and not kept.has_flows:
            known[ticket.id] = None
            return None
    run = db.session.scalar(select(FlowRun).where(FlowRun.ticket_id == ticket.id)
                            .order_by(FlowRun.id.desc()).limit(1))
    after_commit.memo(_RUNS)[ticket.id] = run  # the query's autoflush may have forgotten it
    return run


def active_run(ticket: Ticket) -> FlowRun | None:
    """The ticket's active run: the latest one when active (no other can be, see above)."""
    run = latest_run(ticket)
    return run if run is not None and run.status == RUN_ACTIVE else None


def _runs_unflushed() -> bool:
    """A run added or deleted but not flushed yet: the memo cannot know it, a query (its
    autoflush) does."""
    session = db.session()
    return any(isinstance(o, FlowRun) for o in session.new) or \
        any(isinstance(o, FlowRun) for o in session.deleted)


# A run's own updates are seen through the remembered object itself; a new or deleted
# run changes which one is the latest.
after_commit.forget_when_written(FlowRun, _RUNS, events=("after_insert", "after_delete"))


def inbound_idle(ticket: Ticket, message=None, now=None) -> bool:
    """True when on_inbound provably has nothing to do, so the listener opens no savepoint
    for it (SCL-3): a closed ticket, a finished run (the entry flow ran already), an agent
    on it, or no flow on the ticket's connection or department. Reads the latest run
    (kept in the memo for on_inbound and the timers); no flow row is loaded."""
    if not ticket.is_open:
        return True
    run = latest_run(ticket)
    if run is not None:
        return run.status != RUN_ACTIVE
    if ticket.agent_id is not None:
        return True
    connection, department = ticket.connection, ticket.department
    return (connection is None or connection.flow_id is None) and \
        (department is None or department.flow_id is None)


def _published(flow: Flow | None) -> FlowVersion | None:
    if flow is None or not flow.active:
        return None
    return flow.published_version


def start(ticket: Ticket, version: FlowVersion, message=None) -> FlowRun:
    """A new conversation on `version` (another active run of the ticket ends first)."""
    now = clock.now()
    current = active_run(ticket)
    if current is not None:
        TicketPort(current, ticket, _state_of(current), now).finish(
            RUN_DONE, _("Substituído pelo fluxo %(name)s", name=source_of(version)))
    run = FlowRun(company_id=ticket.company_id, ticket_id=ticket.id, flow_version_id=version.id,
                  variables={}, tries=0, status=RUN_ACTIVE, started_at=now)
    run.version = version
    db.session.add(run)
    db.session.flush()
    after_commit.memo(_RUNS)[ticket.id] = run  # the newest run now: no query to find it
    ticket.automated = True
    tickets.history(ticket, "bot", source=source_of(version), detail=_("Fluxo iniciado"))
    state = State()
    begin(version.graph, state, TicketPort(run, ticket, state, now, message))
    _keep(run, state)
    timers.reschedule(ticket)
    return run


def _is_handover(flow: Flow, text: str | None) -> bool:
    said = fold(text).strip(_KEYWORD_PUNCTUATION)
    words = {fold(w).strip(_KEYWORD_PUNCTUATION) for w in (flow.handover_keywords or "").split(",")}
    return bool(said) and said in words - {""}


def on_inbound(ticket: Ticket, message, now: datetime) -> bool:
    """The customer wrote: the active run takes the message, or the entry flow starts."""
    if not ticket.is_open:
        return False
    run = latest_run(ticket)
    if run is not None and run.status == RUN_ACTIVE:
        state = _state_of(run)
        port = TicketPort(run, ticket, state, now, message)
        if ticket.agent_id is not None:  # an agent took the conversation over
            port.finish(RUN_HANDED_OVER, _("Assumido por um atendente"))
            return False
        text = message.text if message is not None else None
        if _is_handover(run.version.flow, text):
            hand_over(state, port, _("o cliente pediu um atendente"))
        elif run.waiting_for == WAIT_INPUT:
            answer(run.version.graph, state, port, text)
        _keep(run, state)  # during a wait node the message waits with the conversation
        return True
    if run is not None or ticket.agent_id is not None:
        return False
    version = _published(ticket.connection.flow if ticket.connection is not None else None) \
        or _published(ticket.department.flow if ticket.department is not None else None)
    if version is None:
        return False
    start(ticket, version, message)
    return True


def on_queued(ticket: Ticket, now: datetime) -> bool:
    """The ticket entered a department's queue: the department's flow starts (once)."""
    if _handing_over.get() or ticket.agent_id is not None or not ticket.is_open:
        return False
    department = ticket.department
    version = _published(department.flow if department is not None else None)
    if version is None:
        return False
    run = latest_run(ticket)
    if run is not None and (run.status == RUN_ACTIVE or run.version.flow_id == version.flow_id):
        return False  # a bot already talks, or this flow already ran on the ticket
    start(ticket, version)
    return True


def on_closed(ticket: Ticket, now: datetime) -> None:
    run = active_run(ticket)
    if run is not None:
        TicketPort(run, ticket, _state_of(run), now).finish(RUN_DONE, _("Atendimento finalizado"))


# --- timer "flow": a wait node's end, a silent customer's timeout --------------------------


def _due(ticket: Ticket) -> datetime | None:
    run = active_run(ticket)  # the memo's answer: the flow step read it already
    return run.resume_at if run is not None else None


def _fire(ticket: Ticket, now: datetime) -> None:
    run = active_run(ticket)
    if run is None or run.resume_at is None or run.resume_at > now:
        return
    state = _state_of(run)
    port = TicketPort(run, ticket, state, now)
    if ticket.agent_id is not None:  # an agent took the conversation over meanwhile
        port.finish(RUN_HANDED_OVER, _("Assumido por um atendente"))
    elif run.waiting_for == WAIT_TIME:
        resume(run.version.graph, state, port)
        _keep(run, state)
    else:
        port.expire()


timers.register("flow", _due, _fire)
# the listener skips the flow step's savepoint when it has nothing to do
on_inbound.idle = inbound_idle


# --- the editor's test pane ------------------------------------------------------------------


class SimulatedPort(Port):
    """What would happen, as replies; a stand-in ticket for variables and conditions."""

    def __init__(self, company_id: int, state: State, contact: dict, tag_ids: list, now):
        self.company_id, self.state, self.now = company_id, state, now
        self.replies: list[dict] = []
        self.contact = dict(contact)
        self.tag_ids = list(tag_ids)

    @property
    def ticket(self):
        contact = SimpleNamespace(name=self.contact.get("name") or _("Cliente de teste"),
                                  phone=self.contact.get("phone"),
                                  email=self.contact.get("email"),
                                  document=self.contact.get("document"),
                                  custom_fields=self.contact.get("custom") or {})
        return SimpleNamespace(id=None, company_id=self.company_id, contact=contact,
                               protocol="", agent=None, agent_id=None, department=None,
                               department_id=None, connection=None, connection_id=None,
                               tags=[SimpleNamespace(id=t) for t in self.tag_ids])

    @property
    def ctx(self) -> Context:
        return Context(self.ticket, self.now, None, variables=self.state.variables)

    def _say(self, text, kind: str = "bot") -> None:
        if text and str(text).strip():
            self.replies.append({"text": str(text), "kind": kind})

    def send(self, text) -> None:
        self._say(actions.render(text, self.ctx))

    def send_template(self, template_id, text) -> None:
        template = MessageTemplate.get_owned(self.company_id, template_id)
        if template is None:
            self.send(text)
            return
        self.send(template.body)
        if template.file_key:
            self._say(_("(anexo do template: %(name)s)", name=template.file_name or ""), "system")

    def tag(self, tag_id) -> None:
        tag = Tag.get_owned(self.company_id, tag_id)
        if tag is not None:
            self.tag_ids.append(tag.id)
            self._say(_("Etiqueta %(name)s adicionada", name=tag.name), "system")

    def set_field(self, name: str, value: str) -> None:
        if name.startswith("custom:"):
            self.contact["custom"] = {**(self.contact.get("custom") or {}),
                                      name[len("custom:"):]: value}
        else:
            self.contact[name] = value

    def http(self, data: dict) -> dict:
        return actions.call_http({"type": "http", **data}, self.ctx)

    def evaluate(self, condition) -> bool:
        return isinstance(condition, dict) and conditions.evaluate(condition, self.ctx)

    def wait(self, minutes: int) -> None:
        self._say(_("Aguardando %(n)s minuto(s); envie qualquer mensagem para continuar.",
                    n=minutes), "system")

    def waiting_input(self) -> None:
        return None

    def transfer(self, department_id, agent_id) -> str:
        found = destination(self.company_id, department_id, agent_id)
        if found is None:
            return self.handover(_("o destino da transferência não existe mais"))
        label = found[2]
        self._say(_("Transferido para %(name)s", name=label), "system")
        return f"transfer: {label}"

    def end(self, close: bool) -> str:
        self._say(_("Atendimento finalizado") if close else _("Fluxo concluído; o atendimento "
                                                             "segue na fila"), "system")
        return "end"

    def handover(self, why: str) -> str:
        self.send(default_handover_text())
        self._say(_("Transferido para um atendente: %(why)s", why=why), "system")
        return "handover"


def _sim_state(raw) -> tuple[State, dict, list]:
    """The pane's opaque state back from the browser, read defensively."""
    raw = raw if isinstance(raw, dict) else {}
    variables = raw.get("variables") if isinstance(raw.get("variables"), dict) else {}
    contact = raw.get("contact") if isinstance(raw.get("contact"), dict) else {}
    tags = [t for t in raw.get("tags") or [] if isinstance(t, int)] \
        if isinstance(raw.get("tags"), list) else []
    state = State(node=raw.get("node") if isinstance(raw.get("node"), str) else None,
                  variables={str(k): str(v) for k, v in variables.items()},
                  tries=as_int(raw.get("tries")) or 0,
                  waiting=raw.get("waiting") if raw.get("waiting") in (WAIT_INPUT, WAIT_TIME)
                  else None,
                  outcome=raw.get("outcome") if isinstance(raw.get("outcome"), str) else None)
    return state, contact, tags


def simulate(company_id: int, graph, state, text, keywords: str = "atendente") -> dict:
    """One turn of the editor's test pane: `state` None starts the conversation, else
    `text` is the customer's message (any text ends a wait node). No row is written and
    nothing is sent; HTTP nodes do call their URL."""
    current, contact, tags = _sim_state(state)
    port = SimulatedPort(company_id, current, contact, tags, clock.now())
    if state is None:
        begin(graph, current, port)
    elif not current.finished:
        flow = SimpleNamespace(handover_keywords=keywords)
        if _is_handover(flow, text):
            hand_over(current, port, _("o cliente pediu um atendente"))
        elif current.waiting == WAIT_TIME:
            resume(graph, current, port)
        else:
            answer(graph, current, port, text)
    return {
        "replies": port.replies,
        "state": {"node": current.node, "variables": current.variables, "tries": current.tries,
                  "waiting": current.waiting, "outcome": current.outcome,
                  "contact": port.contact, "tags": port.tag_ids, "steps": current.steps},
        "finished": current.finished,
        "outcome": current.outcome,
    }


# actions.run's "start_flow" (automation rules) starts a flow through this, without
# importing the engine that runs actions (backoffice.automation.actions.flow_starter)
actions.flow_starter = start
