"""What every model shares: the UTC clock and TenantMixin, a row of one company."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..lib import clock
from ..lib.ids import as_id


def utcnow() -> datetime:
    """Now, naive UTC, from the app's movable clock (backoffice.lib.clock)."""
    return clock.now()


class TenantMixin:
    """A row that belongs to one company (PLT-1).

    The admin base view scopes every query on `company_id`, and a flush guard
    (backoffice.tenancy) refuses to write a row of another company during a request or
    under `acting_for`. Services read a company's rows with `owned` and `get_owned`
    rather than a hand-written `company_id ==` filter each.
    """

    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True
    )

    @classmethod
    def owned(cls, company_id: int | None, *columns):
        """select() of this model's rows of one company, or of `columns` of them
        (`Tag.owned(cid, Tag.name)`); none for company_id None. Chain .where/.order_by
        as on any select."""
        query = select(*columns) if columns else select(cls)
        if company_id is None:  # `company_id == None` would be IS NULL: the superusers
            return query.where(False)
        return query.where(cls.company_id == company_id)

    @classmethod
    def get_owned(cls, company_id: int | None, row_id):
        """The row `row_id` of one company, or None: another company's row, a missing
        one and a value that is no id at all ("1 or 1=1", 2**31) look the same."""
        row_id = as_id(row_id)
        if row_id is None or company_id is None:
            return None
        row = db.session.get(cls, row_id)
        return row if row is not None and row.company_id == company_id else None
