"""TV panel links (PNL-1), issued through the same rules as the "Painel TV" screen."""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.reports import panel


def gen_panel_key(company, name: str = "TV da recepção", department_ids=(), created_by=None):
    """A link of `company` (a row or its id) and its key: (PanelKey, raw key). Flushed,
    not committed."""
    company_id = getattr(company, "id", company)
    key, raw = panel.issue(company_id, name, department_ids, created_by=created_by)
    db.session.flush()
    return key, raw
