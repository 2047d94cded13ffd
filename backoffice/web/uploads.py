"""Per-route upload limits.

MAX_CONTENT_LENGTH (25 MB) guards every form; the contact import takes much larger
files. The limit must be right before anything reads the body, and CSRFProtect reads
the form in a before_request hook, before the view runs: so the request class itself
answers the route's limit (the URL rule is matched before the hooks run). The same
class drops NUL characters from every text input (SEC-7, backoffice.lib.requests).
"""
from __future__ import annotations

from flask import Request, current_app

from ..lib.requests import CleanTextRequest

# endpoint -> config key of its limit in bytes; the form's own fields get some room
ROUTE_LIMITS = {"data.upload": "IMPORT_MAX_BYTES"}
FORM_OVERHEAD = 64 * 1024


class AtendeRequest(CleanTextRequest):
    """The app's request class: per-route upload limits, and text without NUL (SEC-7,
    lib/requests)."""

    @property
    def max_content_length(self) -> int | None:
        key = ROUTE_LIMITS.get(self.endpoint or "")
        if key and current_app and current_app.config.get(key):
            return int(current_app.config[key]) + FORM_OVERHEAD
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        Request.max_content_length.fset(self, value)
