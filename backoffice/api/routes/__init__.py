"""One module per resource of the API; BLUEPRINTS is the order of the documentation."""
from __future__ import annotations

from . import catalog

BLUEPRINTS = [
    *catalog.BLUEPRINTS,
]
