"""The Fale Conosco portal (POR-1): a company with its portal enabled, a classification
whose sub-classification routes to a department with an agent, a form of contact, a
client organisation and a representative who can log in; and a portal session for a
test client."""
from __future__ import annotations

import itertools
from dataclasses import dataclass


from backoffice.extensions import db
from backoffice.models import Department, DepartmentMember
from backoffice.models.portal import (
    ContactMethod, CustomerOrganization, PortalAccount, PortalSettings, ServiceClassification,
    ServiceSubclassification,
)

from .companies import PASSWORD, gen_company, gen_group, gen_plan, gen_user
from .portal_admin import gen_representative

_seq = itertools.count(1)


@dataclass
class PortalWorld:
    company_id: int
    domain: str
    department_id: int        # where the sub-classification routes ("Financeiro")
    agent_email: str          # an agent of that department
    admin_email: str
    classification_id: int    # "Cobrança"
    subclassification_id: int  # "Segunda via de boleto" -> Financeiro
    other_classification_id: int     # "Suporte técnico"
    other_subclassification_id: int  # "Acesso ao sistema" (of Suporte técnico, no department)
    contact_method_id: int
    organization_id: int
    account_id: int
    account_email: str
    password: str = PASSWORD

    @property
    def base(self) -> str:
        """The portal's address: /portal/<domain>."""
        return f"/portal/{self.domain}"


def gen_portal_account(organization: CustomerOrganization, email: str, name: str = "Rita Souza",
                       phone: str | None = "(11) 98765-4321",
                       password: str | None = PASSWORD) -> PortalAccount:
    """A representative of `organization`, with a password set (None: invited only)."""
    return gen_representative(organization, name, email, password=password, phone=phone)


def gen_portal_world(key: str | None = None, *, allow_reopen: bool = True,
                     ask_contact_method: bool = True) -> PortalWorld:
    """Company `key` with its portal on; committed. Two worlds in one test need two keys."""
    key = key or f"p{next(_seq)}"
    company, admin = gen_company(f"Portal {key}", f"admin-{key}@example.com",
                                 gen_plan(f"Plano {key}"))
    agents = gen_group(company, "Atendentes", ["inbox.view"])
    agent = gen_user(company, f"agente-{key}@example.com", agents, name=f"Agente {key}")
    finance = Department(company_id=company.id, name="Financeiro", order=1)
    db.session.add(finance)
    db.session.flush()
    db.session.add(DepartmentMember(company_id=company.id, department_id=finance.id,
                                    user_id=agent.id))
    billing = ServiceClassification(company_id=company.id, name="Cobrança", position=1)
    support = ServiceClassification(company_id=company.id, name="Suporte técnico", position=2)
    db.session.add_all([billing, support])
    db.session.flush()
    boleto = ServiceSubclassification(company_id=company.id, classification_id=billing.id,
                                      name="Segunda via de boleto", department_id=finance.id)
    access = ServiceSubclassification(company_id=company.id, classification_id=support.id,
                                      name="Acesso ao sistema")
    method = ContactMethod(company_id=company.id, name="E-mail", position=1)
    db.session.add_all([boleto, access, method,
                        PortalSettings(company_id=company.id, enabled=True,
                                       title=f"Fale Conosco {key}",
                                       welcome_text="Bem-vindo ao nosso portal.",
                                       allow_reopen=allow_reopen,
                                       ask_contact_method=ask_contact_method)])
    organization = CustomerOrganization(company_id=company.id, name=f"Cliente {key} Ltda")
    db.session.add(organization)
    db.session.flush()
    email = f"rita-{key}@cliente.example.com"
    account = gen_portal_account(organization, email)
    db.session.commit()
    return PortalWorld(company_id=company.id, domain=company.domain,
                       department_id=finance.id, agent_email=agent.email,
                       admin_email=admin.email, classification_id=billing.id,
                       subclassification_id=boleto.id, other_classification_id=support.id,
                       other_subclassification_id=access.id, contact_method_id=method.id,
                       organization_id=organization.id, account_id=account.id,
                       account_email=email)


def portal_login(client, account: PortalAccount | int) -> None:
    """Give `client` the portal session of `account` (what the login page's sign_in
    leaves in the cookie)."""
    if isinstance(account, int):
        account = db.session.get(PortalAccount, account)
    with client.session_transaction() as session:
        session["portal"] = {"company": account.company_id, "account": account.id,
                             "v": account.auth_version}
