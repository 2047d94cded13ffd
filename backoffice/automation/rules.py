"""Automation rules (AUT-8): when (trigger) + if (conditions, all or any) + then (actions).

- `fire(trigger, ticket, now, ...)`: the listeners call it on each domain event; the
  company's active rules of that trigger run in `position` order (then id), read in one
  query through ix_automation_rule_trigger. Another company's rule never fires: the
  query is by the ticket's company.
- "idle" rules run from the timer "idle_rules": `last_activity_at` + the rule's minutes,
  once per idle spell (the rule ids fired in a spell are kept in
  `ticket.automation_marks["idle"]` with the spell's `last_activity_at`).
- "manual" rules run from the inbox's selection mode: `run_manual(rule, ids, user)`.

Each action runs in its own savepoint: one that fails (ActionError, in Portuguese) is
written in the ticket's history and the next one still runs. Variables an http action
maps are seen by the texts of the actions after it.

Loops: a rule never runs again while it is running on that ticket (its own tag added on
a "tag added" rule, its own move on a "transferred" rule), whereas other rules triggered
by its actions do run; listeners.MAX_DEPTH bounds any chain of them.
"""
from __future__ import annotations

import contextvars
import logging
from datetime import datetime, timedelta

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..lib import after_commit
from ..models import Ticket
from ..models.automation import AutomationRule
from ..services import company_config, tickets, visibility
from ..services.company_config import RuleSnapshot
from . import actions, conditions, timers
from .conditions import Context

log = logging.getLogger(__name__)

IDLE_MAX_MINUTES = 43200  # 30 days
MANUAL_MAX = 200          # tickets a manual run takes at once (as the inbox's BLK-1)
_G_IDLE = "_automation_idle_rules"

# (rule id, ticket id) of the rules running now, in this context
_running: contextvars.ContextVar[frozenset] = contextvars.ContextVar(
    "automation_rules_running", default=frozenset())


def source_of(rule: AutomationRule | RuleSnapshot) -> str:
    return f"Automação {rule.name}"


_RULES = "automation_rules"  # after_commit.memo: company id -> its active rules, in order


def active_rules(company_id: int, trigger: str) -> list[AutomationRule | RuleSnapshot]:
    """The company's active rules of `trigger`, in order: rows, or snapshots with the same
    attributes (see _company_rules); run_rule takes either."""
    return [rule for rule in _company_rules(company_id)
            if rule.trigger == trigger and rule.active]


def _company_rules(company_id: int) -> list[AutomationRule] | tuple[RuleSnapshot, ...]:
    """Every active rule of the company (all triggers; a company has tens), in order.

    Usually from what this process keeps of the company's configuration
    (services.company_config, SCL-3): plain snapshots with the rule's attributes, checked
    against the company's config_version this transaction read, so no statement at all.
    A transaction that writes rules itself gets the rows instead: one query per
    transaction, the memo holding the rows themselves, so a change made to one in the
    transaction is seen (the trigger and active flag are checked again above); a rule
    added, changed or deleted is flushed and forgets the memo (_forget_rules), and one not
    flushed yet is read by a query."""
    kept = company_config.current(company_id)
    if kept is not None:
        return kept.rules
    known = after_commit.memo(_RULES)
    if company_id in known and not _rules_unflushed():
        return known[company_id]
    rules = list(db.session.scalars(
        select(AutomationRule).where(AutomationRule.company_id == company_id,
                                     AutomationRule.active.is_(True))
        .order_by(AutomationRule.position, AutomationRule.id)))
    after_commit.memo(_RULES)[company_id] = rules  # the autoflush may have forgotten it
    return rules


def _rules_unflushed() -> bool:
    session = db.session()
    return any(isinstance(o, AutomationRule)
               for group in (session.new, session.dirty, session.deleted) for o in group)


def fire(trigger, ticket, now, message=None, tag_ids=None) -> None:
    """Run the company's active rules of `trigger` on `ticket`, in order, loop-safe.
    `tag_ids` (the tags just added, "tag_added") are on the ticket already, so a tag
    condition with has=true answers for them."""
    if trigger == "manual" or ticket is None:
        return
    for rule in active_rules(ticket.company_id, trigger):
        run_rule(rule, ticket, now, message=message)


def _nothing_to_fire(trigger, ticket, now, message=None, tag_ids=None) -> bool:
    """fire's `idle` (see listeners.guarded): no active rule of the trigger, so the
    listener opens no savepoint for it."""
    return trigger == "manual" or ticket is None or not active_rules(ticket.company_id, trigger)


fire.idle = _nothing_to_fire


def run_rule(rule: AutomationRule | RuleSnapshot, ticket: Ticket, now: datetime,
             message=None) -> bool:
    """The rule's actions on `ticket` when its conditions match; True when they ran."""
    key = (rule.id, ticket.id)
    running = _running.get()
    if key in running:
        return False  # its own action re-emitted its trigger
    ctx = Context(ticket=ticket, now=now, message=message)
    if not conditions.matches(list(rule.conditions or []), ctx, rule.match or "all"):
        return False
    token = _running.set(running | {key})
    try:
        _run_actions(rule, ctx)
    finally:
        _running.reset(token)
    return True


def _run_actions(rule: AutomationRule | RuleSnapshot, ctx: Context) -> None:
    source = source_of(rule)
    done = []
    for action in list(rule.actions or []):
        label = action_label(action)
        try:
            with db.session.begin_nested():
                produced = actions.run(action, ctx, source=source)
        except actions.ActionError as exc:
            tickets.history(ctx.ticket, "automation", source=source,
                            detail=_("%(action)s: não executada (%(reason)s)",
                                     action=label, reason=str(exc)))
            continue
        ctx.variables.update(produced or {})
        done.append(label)
    tickets.history(ctx.ticket, "automation", source=source,
                    detail=", ".join(done) if done else _("Nenhuma ação executada"))


def action_label(action) -> str:
    kind = action.get("type") if isinstance(action, dict) else None
    return str(actions.ACTION_TYPES.get(kind, kind or "?"))


def summary(rule: AutomationRule) -> str:
    """"Se etiqueta, canal → adicionar etiqueta, enviar texto" for the list screen."""
    conds = [str(conditions.CONDITION_TYPES.get(c.get("type"), "?"))
             for c in rule.conditions or [] if isinstance(c, dict)]
    acts = [action_label(a) for a in rule.actions or []]
    joiner = _(" e ") if (rule.match or "all") == "all" else _(" ou ")
    head = (_("Se %(conditions)s", conditions=joiner.join(conds)) + " → ") if conds else ""
    return head + ", ".join(acts)


# --- idle rules (timer) --------------------------------------------------------------------


def _idle_rules(company_id: int) -> list[tuple[int, int]]:
    """(rule id, minutes) of the company's active idle rules; cached for the request or
    the tick (flask.g), forgotten when a rule is written."""
    cache = g.setdefault(_G_IDLE, {}) if has_app_context() else {}
    if company_id not in cache:
        # from the transaction's memo of the company's rules: an inbound message's
        # "message received" step read them already (SCL-3)
        cache[company_id] = [(rule.id, rule.idle_minutes)
                             for rule in active_rules(company_id, "idle")
                             if rule.idle_minutes and rule.idle_minutes > 0]
    return cache[company_id]


def _forget_idle_rules() -> None:
    if has_app_context():
        g.pop(_G_IDLE, None)


after_commit.forget_when_written(AutomationRule, _RULES, also=_forget_idle_rules)


def _spell(ticket: Ticket) -> str | None:
    return ticket.last_activity_at.isoformat() if ticket.last_activity_at else None


def _fired_in_spell(ticket: Ticket) -> dict:
    spell = _spell(ticket)
    marks = (ticket.automation_marks or {}).get("idle") or {}
    return {k: v for k, v in marks.items() if v == spell} if isinstance(marks, dict) else {}


def idle_due(ticket: Ticket) -> datetime | None:
    if not ticket.is_open or ticket.last_activity_at is None:
        return None
    rules = _idle_rules(ticket.company_id)
    if not rules:
        return None
    fired = _fired_in_spell(ticket)
    pending = [minutes for rid, minutes in rules if str(rid) not in fired]
    return ticket.last_activity_at + timedelta(minutes=min(pending)) if pending else None


def _set_idle_marks(ticket: Ticket, marks: dict) -> None:
    ticket.automation_marks = {**(ticket.automation_marks or {}), "idle": dict(marks)}


def idle_fire(ticket: Ticket, now: datetime) -> None:
    """The idle rules whose minutes have passed in this spell, each once."""
    if not ticket.is_open or ticket.last_activity_at is None:
        return
    for rule in active_rules(ticket.company_id, "idle"):
        if not ticket.is_open:
            break
        fired = _fired_in_spell(ticket)
        if str(rule.id) in fired or not rule.idle_minutes:
            continue
        if ticket.last_activity_at + timedelta(minutes=rule.idle_minutes) > now:
            continue
        spell = _spell(ticket)
        _set_idle_marks(ticket, {**fired, str(rule.id): spell})
        run_rule(rule, ticket, now)
        if _spell(ticket) != spell:
            # the rule's own message moved last_activity_at: the automation's activity is
            # not the customer's or the agent's, so the spell goes on (no rule repeats)
            _set_idle_marks(ticket, {k: _spell(ticket) for k in _fired_in_spell_at(ticket, spell)})


def _fired_in_spell_at(ticket: Ticket, spell: str) -> list[str]:
    marks = (ticket.automation_marks or {}).get("idle") or {}
    return [k for k, v in marks.items() if v == spell]


timers.register("idle_rules", idle_due, idle_fire)


# --- manual rules (the inbox's selection mode) -----------------------------------------------


def manual_rules(company_id: int) -> list[AutomationRule]:
    return active_rules(company_id, "manual")


def run_manual(rule: AutomationRule, ticket_ids, user, now: datetime | None = None):
    """Run a manual rule on each ticket the user may see and act on, one transaction per
    ticket. Returns (how many ran, [{"id", "protocol", "error"}] of the others)."""
    from ..lib import clock

    rule_id, company_id = rule.id, rule.company_id
    done, failed = 0, []
    for ticket_id in ticket_ids:
        ticket_id = getattr(ticket_id, "id", ticket_id)
        ticket = visibility.find_ticket(user, ticket_id)
        if ticket is None or ticket.company_id != company_id:
            failed.append({"id": ticket_id, "protocol": None,
                           "error": _("Atendimento não encontrado.")})
            continue
        protocol = ticket.protocol
        if not tickets.may_act(user, ticket):
            failed.append({"id": ticket_id, "protocol": protocol,
                           "error": _("Este atendimento está com %(name)s.",
                                      name=ticket.agent.name if ticket.agent else "")})
            continue
        rule = db.session.get(AutomationRule, rule_id)  # a commit expired it
        try:
            ran = run_rule(rule, ticket, now or clock.now())
            if ran:
                timers.reschedule(ticket)
            after_commit.commit()
        except Exception:  # one broken ticket must not stop the others
            db.session.rollback()
            log.exception("manual automation %s failed on ticket %s", rule_id, ticket_id)
            failed.append({"id": ticket_id, "protocol": protocol,
                           "error": _("Não foi possível concluir a ação neste atendimento.")})
            continue
        if ran:
            done += 1
        else:
            failed.append({"id": ticket_id, "protocol": protocol,
                           "error": _("As condições da automação não valem para este "
                                      "atendimento.")})
    return done, failed
