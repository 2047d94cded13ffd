"""Atualizações (PLT-6): the changelog of versions, for every logged-in user."""
from __future__ import annotations

from flask import current_app
from flask_admin import expose

from .. import ROOT, version
from ..services import changelog
from .base import SecureView


class UpdatesView(SecureView):
    @expose("/")
    def index(self):
        path = current_app.config.get("CHANGELOG_PATH") or ROOT / "CHANGELOG.md"
        return self.render("admin/updates.html", version=version.VERSION,
                           changelog=changelog.render_file(path))
