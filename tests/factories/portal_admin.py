"""The Fale Conosco configuration and accounts (POR-1), built through the rules of
services/portal (catalog, settings, accounts) as the admin screens do: a duplicate name
or a bad CNPJ fails here, not later in the test."""
from __future__ import annotations

from werkzeug.security import generate_password_hash

from backoffice.extensions import db
from backoffice.models.portal import (ContactMethod, CustomerOrganization, PortalAccount,
                                      PortalSettings, ServiceClassification,
                                      ServiceSubclassification)
from backoffice.services.portal import accounts, catalog, settings

CNPJS = ("11.444.777/0001-61", "11.222.333/0001-81", "45.723.174/0001-10")


def _company_id(company) -> int:
    return getattr(company, "id", company)


def gen_classification(company, name: str, subs=(), in_portal: bool = True,
                       position: int = 0) -> ServiceClassification:
    """A classification of `company`; `subs`: names, or (name, department) pairs."""
    row = ServiceClassification(company_id=_company_id(company), name=name, active=True,
                                position=position, in_portal=in_portal)
    for i, sub in enumerate(subs):
        sub_name, department = sub if isinstance(sub, tuple) else (sub, None)
        row.subclassifications.append(ServiceSubclassification(
            company_id=row.company_id, name=sub_name, active=True, position=i,
            department=department))
    catalog.check_classification(row)
    db.session.add(row)
    return row


def gen_contact_method(company, name: str, position: int = 0) -> ContactMethod:
    row = ContactMethod(company_id=_company_id(company), name=name, active=True,
                        position=position)
    catalog.check_contact_method(row)
    db.session.add(row)
    return row


def gen_portal_settings(company, enabled: bool = True, title: str | None = None,
                        **values) -> PortalSettings:
    row = settings.read_settings(_company_id(company))
    row.enabled, row.title = enabled, title
    for key, value in values.items():
        setattr(row, key, value)
    settings.check_settings(row)
    db.session.add(row)
    db.session.flush()
    settings.after_save(row)
    return row


def gen_organization(company, name: str, cnpj: str | None = None,
                     active: bool = True) -> CustomerOrganization:
    row = CustomerOrganization(company_id=_company_id(company), name=name, cnpj=cnpj,
                               active=active)
    accounts.check_organization(row)
    db.session.add(row)
    return row


def gen_representative(organization: CustomerOrganization, name: str, email: str,
                       password: str | None = None, phone: str | None = None,
                       contact=None) -> PortalAccount:
    """A representative; with `password`, one who has already used the invitation."""
    row = PortalAccount(company_id=organization.company_id, organization=organization,
                        name=name, email=email, phone=phone, active=True, auth_version=1,
                        contact_id=getattr(contact, "id", contact))
    accounts.check_account(row)
    if password:
        row.password_hash = generate_password_hash(password, method="pbkdf2:sha256:1000")
    db.session.add(row)
    db.session.flush()
    return row


def gen_portal_admin_rows(company, admin, key: str) -> dict[str, tuple[str, int]]:
    """A distinctive row in each Fale Conosco screen, for tests/test_isolation.py and
    tests/test_permissions.py: endpoint -> (label, id)."""
    upper = key.upper()
    classification = gen_classification(company, f"Classificação exclusiva {upper}",
                                        [f"Sub exclusiva {upper}"])
    method = gen_contact_method(company, f"Forma exclusiva {upper}")
    portal = gen_portal_settings(company, enabled=False, title=f"Portal exclusivo {upper}")
    org = gen_organization(company, f"Cliente exclusivo {upper}")
    db.session.flush()
    rep = gen_representative(org, f"Representante exclusivo {upper}",
                             f"representante-{key}@example.com")
    return {
        "classifications": (classification.name, classification.id),
        "contact_methods": (method.name, method.id),
        "portal_settings": (portal.title, portal.id),
        "organizations": (org.name, org.id),
        "representatives": (rep.name, rep.id),
    }
