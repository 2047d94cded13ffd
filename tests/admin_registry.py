"""What the generic tests iterate over: every view registered in the admin panel."""
from __future__ import annotations

from flask_admin.contrib.sqla import ModelView

from backoffice.admin.base import SaasModelView, SecureModelView


def admin_views(app):
    return list(app.extensions["admin"][0]._views)


def model_views(app):
    return [v for v in admin_views(app) if isinstance(v, ModelView)]


def tenant_views(app):
    """Model views a company user works with (scoped to their company)."""
    return [v for v in model_views(app) if isinstance(v, SecureModelView)
            and not isinstance(v, SaasModelView)]


def saas_views(app):
    return [v for v in model_views(app) if isinstance(v, SaasModelView)]


def extra_rows(company, admin, key: str) -> dict[str, tuple[str, int]]:
    """Rows of screens added by later issues, one per endpoint: (label, id), for
    tests.factories.populate_company. Each area registers its factory here."""
    from tests.factories.portal_admin import gen_portal_admin_rows  # POR-1 (no cycle at import)
    from tests.factories.articles import gen_article_admin_rows  # ART-1

    rows: dict[str, tuple[str, int]] = {}
    for make in (gen_portal_admin_rows, gen_article_admin_rows):
        rows.update(make(company, admin, key))
    return rows
