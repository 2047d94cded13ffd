from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class TenantMixin:
    """A row that belongs to one company (PLT-1).

    The admin base view scopes every query on `company_id`, and a flush guard
    (backoffice.tenancy) refuses to write a row of another company during a request.
    """

    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True
    )
