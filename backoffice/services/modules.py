"""Which modules a company may use (UX-7, PLT-5, PLT-6): one rule for the menu, the
screens and the "Sobre" page.

A plan lists module keys out of models.company.MODULES, the catalogue the SaaS operator
sells, which names modules this version does not have yet. SHIPPED says which of them
exist in this version and which screen areas (permissions.AREAS) belong to each: a screen
of a module the company's plan does not include is hidden from the menu and refused,
whatever the user's group holds. A company without a plan is not limited (like
saas.check_user_limit).
"""
from __future__ import annotations

from ..extensions import db
from ..models import Company
from ..models.company import MODULES

# module -> the screen areas it brings, for the modules this version has
SHIPPED: dict[str, tuple[str, ...]] = {
    "inbox": ("inbox",),
    "chatbot": ("flows",),
    "telephony": ("telephony",),
    "api": ("api_tokens",),  # and the REST API itself (api/auth.py)
    "reports": ("reports", "panel"),  # and the TV panel's own page (reports/panel)
    # and the portal's own pages (portal/guard.py); the help articles are not part of it
    # (the website widget and the public help center use them too)
    "portal": ("classifications", "contact_methods", "portal", "organizations"),
}

_MODULE_OF_AREA = {area: module for module, areas in SHIPPED.items() for area in areas}


def enabled(company, module: str) -> bool:
    """Whether the company's plan includes `module` (no plan: everything)."""
    plan = getattr(company, "plan", None) if company is not None else None
    if plan is None:
        return True
    return module in (plan.modules or ())


def area_enabled(company_id: int | None, area: str | None) -> bool:
    """Whether the screens of `area` are part of the plan of company `company_id`; areas
    outside every module are always part of it. The SaaS operator (no company) is not
    limited. Read through the session's identity map: asked for every screen of the menu,
    it queries once per request."""
    module = _MODULE_OF_AREA.get(area or "")
    if module is None or company_id is None:
        return True
    return enabled(db.session.get(Company, company_id), module)


def catalogue(company) -> list[dict]:
    """The modules of this version for the "Sobre" page: key, label, included."""
    return [{"key": key, "label": MODULES[key], "included": enabled(company, key)}
            for key in MODULES if key in SHIPPED]
