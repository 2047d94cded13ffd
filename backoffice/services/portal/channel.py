"""The company's `portal` connection: protocols are tickets of it, so the inbox, the
reports and the automation see the portal as one more channel (POR-1)."""
from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import Connection
from ...models.channels import KIND_PORTAL

NAME = "Fale Conosco"


def find_connection(company_id: int) -> Connection | None:
    return db.session.execute(
        Connection.owned(company_id).where(Connection.kind == KIND_PORTAL)
        .order_by(Connection.id).limit(1)).scalar_one_or_none()


def ensure_connection(company_id: int) -> Connection:
    """The company's portal connection, created (active) on first use. The name is the
    first of "Fale Conosco", "Fale Conosco (portal)", ... that the company has not used."""
    found = find_connection(company_id)
    if found is not None:
        return found
    taken = set(db.session.execute(select(Connection.name)
                                   .where(Connection.company_id == company_id)).scalars())
    name = NAME
    suffix = 1
    while name in taken:
        suffix += 1
        name = f"{NAME} ({suffix})"
    connection = Connection(company_id=company_id, name=name, kind=KIND_PORTAL, active=True)
    db.session.add(connection)
    db.session.flush()
    return connection
