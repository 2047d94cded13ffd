"""Who the current tenant is, and the guard that keeps writes inside it (PLT-1).

In a request the tenant comes from the logged-in user only (never from a URL or a form),
so a forged id can at most point at a row the scoped queries will not find. Outside a
request (RQ jobs, the sweeper, CLI commands) there is no user: the code says whom it acts
for with `acting_for(company_id)`, and the same flush guard holds there.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from flask import g, has_app_context, has_request_context
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy


# Its own key, not the webchat's g.tenant_id: a test's long app context is shared by the
# requests made inside it, and a request's tenant must not outlive the request.
_ACTING = "acting_company_id"


class TenantViolation(RuntimeError):
    """A write touched a row of another company: a bug or an attack, never user error."""


def current_company_id() -> int | None:
    if has_app_context() and _ACTING in g:
        return g.get(_ACTING)
    if not has_request_context():
        return None
    if "tenant_id" in g:  # the webchat's connection (channels/webchat/views.py, sockets.py)
        return g.tenant_id
    user = current_user
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    return user.company_id


@contextmanager
def acting_for(company_id: int | None) -> Iterator[None]:
    """Act for one company outside a request (jobs, sweeps, CLI): scoped queries see its
    rows and the flush guard refuses rows of any other, as in that company's request.

    Code that spans companies (finding stalled work of all of them) finds the rows first,
    then acts on each under `acting_for(row.company_id)`. Nests: the previous tenant is
    restored on exit.
    """
    missing = object()
    previous = g.get(_ACTING, missing)
    setattr(g, _ACTING, company_id)
    try:
        yield
    finally:
        if previous is missing:
            g.pop(_ACTING, None)
        else:
            setattr(g, _ACTING, previous)


def _load_company():
    from .models import Company
    from .extensions import db

    cid = current_company_id()
    return db.session.get(Company, cid) if cid is not None else None


current_company = LocalProxy(_load_company)


def owned_by_tenant(model) -> bool:
    """True for models whose rows belong to one company (they carry company_id)."""
    from .models import Company

    return model is not Company and hasattr(model, "company_id")


def scope(query, model):
    """Filter a legacy Query or a select() on the current company; no tenant, no rows."""
    cid = current_company_id()
    if cid is None:
        return query.filter(False) if hasattr(query, "filter") else query.where(False)
    return query.filter(model.company_id == cid)


def _guard_flush(session: Session, flush_context, instances) -> None:
    """Fill company_id on new rows and refuse rows of another company.

    Inline forms and relationship fields create or re-point rows the view never sees
    one by one; checking at flush covers every such path at once.
    """
    cid = current_company_id()
    if cid is None:
        return
    for obj in list(session.new) + list(session.dirty):
        _guard(obj, cid)


def _guard(obj, cid: int) -> None:
    if not owned_by_tenant(type(obj)):
        return
    if obj.company_id is None:
        obj.company_id = cid
    elif obj.company_id != cid:
        raise TenantViolation(
            f"{type(obj).__name__} of company {obj.company_id} written by company {cid}"
        )


def _guard_row(obj, keys) -> bool:
    """The same guard on a row written without a flush (lib/rowwrite.py); a row moving
    to another company takes the flush."""
    if keys is not None and "company_id" in keys:
        return False
    cid = current_company_id()
    if cid is not None:
        _guard(obj, cid)
    return True


def install_guard() -> None:
    from .lib import rowwrite

    if not event.contains(Session, "before_flush", _guard_flush):
        event.listen(Session, "before_flush", _guard_flush)
    rowwrite.check_rows_with(_guard_row, _guard_flush)
