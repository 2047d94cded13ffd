"""Atualizações (PLT-6, UX-7): what changed for the customer in each version, for every
logged-in user.

The page reads backoffice/updates.md, written for customers in Portuguese; CHANGELOG.md
stays the developer notes (commands, internals) and is not shown here. Every version of
CHANGELOG.md has its customer notes (tests/test_updates.py checks it).
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app
from flask_admin import expose

from .. import version
from ..services import changelog
from .base import SecureView

UPDATES = Path(__file__).resolve().parent.parent / "updates.md"


class UpdatesView(SecureView):
    @expose("/")
    def index(self):
        path = current_app.config.get("UPDATES_PATH") or UPDATES
        return self.render("admin/updates.html", version=version.VERSION,
                           changelog=changelog.render_file(path))
