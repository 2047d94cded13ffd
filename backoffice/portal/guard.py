"""Who is using the portal, for every portal view.

The session holds `portal = {"company": id, "account": id, "v": auth_version}`. A request
is a representative's only when that account is active, of an active organisation, of
the company of the URL's domain, and its `auth_version` is still the one the session was
opened with: raising the version (new password, deactivation) ends every session of the
account at its next request.

`g.portal_company` is the company of `<domain>` with its portal enabled; anything else
(unknown domain, portal disabled, inactive company, a plan without the "portal" module)
is the same 404.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, session, url_for

from ..extensions import db
from ..models import PortalAccount
from ..models.portal import PortalSettings
from ..services import catalog, modules, saas
from .blueprint import bp

SESSION_KEY = "portal"


@bp.url_value_preprocessor
def _company_of_domain(_endpoint, values):
    company = saas.company_of_domain((values or {}).pop("domain", None))
    settings = (db.session.execute(PortalSettings.owned(company.id)).scalar_one_or_none()
                if company is not None and modules.enabled(company, "portal") else None)
    if settings is None or not settings.enabled:
        abort(404)  # no portal, switched off, or not in the company's plan: all the same
    g.portal_company = company
    g.portal_settings = settings
    # The portal's writes belong to the company of the URL, whoever else is logged in to
    # the panel in the same browser: the tenant guard (tenancy.py) reads g.tenant_id first.
    g.tenant_id = company.id


@bp.url_defaults
def _keep_domain(_endpoint, values):
    company = g.get("portal_company")
    if company is not None:
        values.setdefault("domain", company.domain)


def current_account() -> PortalAccount | None:
    """The representative of this request, or None (see the module docstring)."""
    if "portal_account" in g:
        return g.portal_account
    account = None
    held = session.get(SESSION_KEY)
    company = g.get("portal_company")
    if isinstance(held, dict) and company is not None and held.get("company") == company.id:
        found = PortalAccount.get_owned(company.id, held.get("account"))
        if (found is not None and found.active and found.organization.active
                and found.password_hash and held.get("v") == found.auth_version):
            account = found
    if account is None and held is not None:
        session.pop(SESSION_KEY, None)
    g.portal_account = account
    return account


def account_required(view):
    """A portal page for representatives: anyone else goes to the portal's login."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_account() is None:
            if request.method == "GET":
                return redirect(url_for("portal.login", next=request.full_path))
            abort(401)
        return view(*args, **kwargs)
    return wrapped


def sign_in(account: PortalAccount) -> None:
    """Open a portal session for `account` (the panel's login, if any, stays apart)."""
    session[SESSION_KEY] = {"company": account.company_id, "account": account.id,
                            "v": account.auth_version}
    session.permanent = True
    g.portal_account = account


def sign_out() -> None:
    session.pop(SESSION_KEY, None)
    g.portal_account = None


@bp.context_processor
def _portal_globals():
    def portal_title() -> str:
        return g.portal_settings.title or g.portal_company.name

    def portal_text_color() -> str:
        """The bar's text on the company's colour: readable on a yellow as on a navy."""
        color = g.portal_settings.color
        return catalog.text_color_on(color) if catalog.is_color(color) else "#fff"
    return {"portal_title": portal_title, "portal_account": current_account,
            "portal_text_color": portal_text_color}
