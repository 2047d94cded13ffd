"""The lists the inbox reads: tags (TAG-1), reasons (RSN-1) and farewell messages (AUT-6).

Tags and reasons go through the rules of services.catalog, as the admin screens do: a
duplicate name or a bad colour fails here, not later in the test.
"""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.models import FarewellMessage, Reason, Tag
from backoffice.services import catalog as catalog_rules


def _company_id(company) -> int:
    return getattr(company, "id", company)


def gen_tag(company, name: str, color: str = catalog_rules.DEFAULT_COLOR, owner=None) -> Tag:
    """A tag of `company` (a Company or its id); with `owner` (a User or id), their own."""
    company_id = _company_id(company)
    owner_id = getattr(owner, "id", owner)
    tag = Tag(company_id=company_id, owner_id=owner_id,
              name=catalog_rules.check_tag_name(company_id, owner_id, name),
              color=catalog_rules.normalise_color(color))
    db.session.add(tag)
    return tag


def gen_reason(company, name: str, description: str | None = None, active: bool = True,
               departments=()) -> Reason:
    """A reason for closing a ticket of `company` (a Company or its id); `departments`
    limits it to those (RSN-1)."""
    company_id = _company_id(company)
    reason = Reason(company_id=company_id, name=catalog_rules.check_reason_name(company_id, name),
                    description=description, active=active, departments=list(departments))
    db.session.add(reason)
    return reason


def gen_farewell(company, title: str, body: str = "Obrigado pelo contato!", active: bool = True):
    """A farewell message (AUT-6)."""
    farewell = FarewellMessage(company_id=company.id, title=title, body=body, active=active)
    db.session.add(farewell)
    return farewell
