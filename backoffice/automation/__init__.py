"""The automation engine (issue 13): everything that acts on conversations without an
agent, on every channel, at the right minute in the company's time zone.

One engine, two triggers:
- domain events (backoffice.events) reach `listeners`, which call the modules below in
  a fixed order, inside the transaction of whatever caused them;
- time reaches `timers.tick`, run by the periodic runner (backoffice.jobs.periodic):
  each module registers a timer, the ticket keeps the earliest due instant in
  `Ticket.due_at`, and the tick reads only what is due through its index.

Modules: `conditions` and `actions` (shared by flows and rules), `business_hours`
(AUT-1), `inactivity` (AUT-4, DEP-5), `survey` (AUT-3, RAT-1), `flows` (AUT-2: graph
spec, checker, engine), `rules` (AUT-8), `scheduled` (AUT-5). The clock is
backoffice.lib.clock: tests move it instead of sleeping.

Services never import this package (it imports them); importing it registers the
listeners and timers, which create_app does once.
"""
