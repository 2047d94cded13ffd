"""One module per resource of the API; BLUEPRINTS is the order of the documentation."""
from __future__ import annotations

from . import catalog, messages, scheduled
from . import webhooks
from . import contacts, tickets

BLUEPRINTS = [
    *catalog.BLUEPRINTS,
    *contacts.BLUEPRINTS,
    *tickets.BLUEPRINTS,
    *messages.BLUEPRINTS,
    *scheduled.BLUEPRINTS,
    *webhooks.BLUEPRINTS,
]
