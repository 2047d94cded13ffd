"""Parâmetros (PAR-1): the company-wide switches, one row per company made on first use."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import CompanySettings


def get_settings(company_id: int) -> CompanySettings:
    """The company's settings row, created with the defaults when missing.

    The row is flushed, not committed: the caller's transaction decides. Two first
    requests at once: the unique constraint refuses the second insert, which then reads
    the row the first one made.
    """
    q = CompanySettings.owned(company_id)
    row = db.session.scalar(q)
    if row is not None:
        return row
    row = CompanySettings(company_id=company_id, cpf_required_pf=False, cnpj_required_pj=False,
                          support_access_allowed=False, wallet_enabled=False)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        row = db.session.scalar(q)
    return row


def read_settings(company_id: int) -> CompanySettings:
    """The settings row, or an unsaved one with the defaults: for readers that must not
    write (a rule checked mid-flush, a list query)."""
    row = db.session.scalar(CompanySettings.owned(company_id))
    return row or CompanySettings(company_id=company_id, cpf_required_pf=False,
                                  cnpj_required_pj=False, support_access_allowed=False,
                                  wallet_enabled=False, sla_minutes=15)
