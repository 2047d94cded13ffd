"""The agents' inbox (deliverable 4): the page at /inbox/ and its JSON API at /inbox/api/.

Views stay thin: every ticket is looked up through services.visibility (404 when the user
may not see it), rules live in services.tickets / services.sending, and each unit of work
ends with after_commit.commit() so socket events and send jobs follow the commit.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

from . import views  # noqa: E402,F401  (routes register on bp)
