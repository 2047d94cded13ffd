"""List filters whose options are rows of the current company.

Flask-Admin computes a filter's option list once, when the view is registered, and shows
that same list to every company (docs/ARCHITECTURE.md, "Tenancy"). A `TenantOptionsFilter`
reads its options from the database on every request instead; the view must mix in
`PerRequestFilterOptions`, which replaces the cached list when the page is rendered.
"""
from __future__ import annotations

from flask_admin.contrib.sqla.filters import BaseSQLAFilter
from flask_babel import lazy_gettext as _l

from ..services import as_id
from ..tenancy import current_company_id


class TenantOptionsFilter(BaseSQLAFilter):
    """Subclasses implement `tenant_options(company_id)` -> [(value, label)]."""

    per_request_options = True

    def tenant_options(self, company_id: int) -> list[tuple[str, str]]:
        raise NotImplementedError

    def get_options(self, view):
        company_id = current_company_id()
        if company_id is None:  # at registration time: no request, no company
            return []
        return self.tenant_options(company_id)

    def validate(self, value) -> bool:
        # an id within the column's range (SEC-7): larger is a DataError on PostgreSQL
        return as_id(value) is not None

    def clean(self, value) -> int:
        return as_id(value)

    def operation(self):
        return _l("é")


class PerRequestFilterOptions:
    """Mix into a model view that uses TenantOptionsFilter (before the base view)."""

    def _get_filter_groups(self):
        groups = super()._get_filter_groups()
        if not groups:
            return groups
        for items in groups.values():
            for item in items:
                flt = self._filters[item["index"]]
                if getattr(flt, "per_request_options", False):
                    item["options"] = [(str(k), str(v)) for k, v in flt.get_options(self) or ()]
        return groups
