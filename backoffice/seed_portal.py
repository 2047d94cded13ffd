"""The demo's Fale Conosco (POR-1) and help articles (ART-1), from the "portal" and
"articles" sections of seed/demo.json: classifications routed to the demo's departments,
forms of contact, two client organisations (one representative with a password, printed
by `make run`; one only invited), and a dozen articles (one a draft, two portal-only)."""
from __future__ import annotations

from sqlalchemy import select

from .extensions import db
from .lib import passwords
from .models import Company, Department
from .models.articles import (AUDIENCE_PORTAL, AUDIENCE_PUBLIC, STATUS_DRAFT,
                              STATUS_PUBLISHED)
from .models.portal import (ContactMethod, CustomerOrganization, PortalAccount,
                            PortalSettings, ServiceClassification, ServiceSubclassification)
from .services.articles import editing as article_rules
from .services.portal import accounts as account_rules
from .services.portal.channel import ensure_connection


def load_portal(company: Company, spec: dict | None) -> None:
    if not spec:
        return
    departments = {d.name: d.id for d in db.session.scalars(
        select(Department).where(Department.company_id == company.id))}
    db.session.add(PortalSettings(company_id=company.id, **spec["settings"]))
    if spec["settings"].get("enabled"):
        ensure_connection(company.id)
    for position, name in enumerate(spec.get("contact_methods", []), start=1):
        db.session.add(ContactMethod(company_id=company.id, name=name, position=position))
    for position, c in enumerate(spec.get("classifications", []), start=1):
        classification = ServiceClassification(company_id=company.id, name=c["name"],
                                               position=position)
        db.session.add(classification)
        for sub_position, s in enumerate(c.get("subclassifications", []), start=1):
            classification.subclassifications.append(ServiceSubclassification(
                company_id=company.id, name=s["name"], position=sub_position,
                department_id=departments.get(s.get("department"))))
    for o in spec.get("organizations", []):
        organization = CustomerOrganization(company_id=company.id, name=o["name"],
                                            cnpj=o.get("cnpj"))
        db.session.add(organization)
        for r in o.get("representatives", []):
            password = r.get("password")
            db.session.add(PortalAccount(
                company_id=company.id, organization=organization, name=r["name"],
                email=r["email"].lower(), phone=r.get("phone"),
                password_hash=account_rules.hash_password(password) if password else None))
    db.session.flush()


def load_articles(company: Company, spec: dict | None) -> None:
    if not spec:
        return
    categories = {}
    for position, name in enumerate(spec.get("categories", []), start=1):
        categories[name] = article_rules.save_category(company.id, name, position=position)
    db.session.flush()
    for position, a in enumerate(spec.get("articles", []), start=1):
        article_rules.save_article(
            company.id, title=a["title"], body=a["body"], category_id=categories[a["category"]].id,
            status=STATUS_PUBLISHED if a.get("published", True) else STATUS_DRAFT,
            audience=AUDIENCE_PORTAL if a.get("audience") == "portal" else AUDIENCE_PUBLIC,
            position=position)
    db.session.flush()


def demo_representative(spec: dict | None) -> tuple[str, str, str] | None:
    """(organisation, e-mail, password) of the demo's representative who can log in."""
    for o in (spec or {}).get("organizations", []):
        for r in o.get("representatives", []):
            if r.get("password"):
                return o["name"], r["email"], r["password"]
    return None


def representative_works(email: str, password: str) -> bool:
    account = db.session.scalar(select(PortalAccount).where(PortalAccount.email == email.lower()))
    return bool(account is not None and account.active and account.password_hash
                and passwords.matches(account.password_hash, password))
