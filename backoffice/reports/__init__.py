"""Reports (REP-1), the managers' dashboard (PAU-4) and the TV panel (PNL-1).

  facts.py     the per-ticket facts (models.TicketReport), kept by listeners on the
               ticket events as they happen, and `rebuild` for tickets without them
  live.py      the state of the queues now (waiting, in progress, agents, today's
               totals, alerts), read by the dashboard and the TV panel
The reports' queries, their screen, the dashboard's and the panel's pages build on these.
"""
