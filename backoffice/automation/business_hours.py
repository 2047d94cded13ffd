"""Out of hours (AUT-1, PER-2, HOL-1). STUB: helper C implements this module.

Contract:
- on_inbound(ticket, message, now) -> bool: a customer's message on a ticket no bot
  handles; outside the period of the ticket's department (else its connection) or on a
  holiday, send the configured out-of-hours message once per closed spell
  (Ticket.out_of_hours_at) and return True.
- on_queued(ticket, now) -> bool: the ticket entered a department's queue (transfer,
  bot hand-over): the same rule for the new department.
- registers timer "hours": due = the next opening instant for a held ticket; fire =
  clear out_of_hours_at and emit "queue.opened".
"""
from __future__ import annotations


def on_inbound(ticket, message, now) -> bool:
    return False


def on_queued(ticket, now) -> bool:
    return False
