"""Representatives created in bulk by the contacts import (POR-1).

A contacts file may carry two more columns, "Cliente do portal" (the organisation's name)
and "CNPJ do cliente do portal". A row with either makes its contact a representative of
that organisation (found by CNPJ, else by name; created when missing) and sends the
invitation, once: a contact whose e-mail is already a representative's keeps that
account, so a file imported twice invites nobody the second time. The row is checked
with the rest of it (a bad CNPJ, no e-mail, the portal off: the row is rejected with the
reason, in the import's error report); the accounts are written with the row's batch,
in its transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from ...extensions import db
from ...lib.csvfiles import fold
from ...lib.documents import format_document, normalise_cnpj
from ...models.portal import CustomerOrganization, PortalAccount
from .. import RuleError
from . import accounts
from .settings import read_settings

ORGANIZATION, CNPJ = "portal_organization", "portal_cnpj"
KEYS = (ORGANIZATION, CNPJ)


@dataclass(frozen=True)
class Membership:
    """What a row asks: the organisation by name and/or CNPJ (digits), and the row's
    e-mail (the account's when the saved contact has none)."""
    name: str | None
    cnpj: str | None
    email: str


class Representatives:
    """One import job's view of the company's portal: its organisations and the e-mails
    that are representatives already, read once, kept up to date as batches write."""

    def __init__(self, company_id: int, site_url: str):
        self.company_id, self.site_url = company_id, site_url
        self.enabled = read_settings(company_id).enabled
        self.by_cnpj: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        for oid, name, cnpj in db.session.execute(CustomerOrganization.owned(
                company_id, CustomerOrganization.id, CustomerOrganization.name,
                CustomerOrganization.cnpj)):
            self.by_name.setdefault(fold(name), oid)
            if cnpj:
                self.by_cnpj[cnpj] = oid
        self.emails = set(db.session.scalars(PortalAccount.owned(company_id, PortalAccount.email)))
        self.named_cnpjs: set[str] = set()  # given with a name earlier in the file

    def read(self, name: str, cnpj: str, email: str | None) -> Membership | None:
        """The row's membership (None: the row asks nothing), or RuleError."""
        name = " ".join(name.split())
        if not name and not cnpj:
            return None
        if not self.enabled:
            raise RuleError(_l("Cliente do portal: o portal Fale Conosco está desativado; "
                               "ative-o antes de importar representantes."))
        if not email:
            raise RuleError(_l("Cliente do portal: informe o e-mail do contato, por onde ele "
                               "recebe o convite."))
        if len(name) > 120:
            raise RuleError(_l("Cliente do portal com mais de 120 caracteres."))
        try:
            digits = normalise_cnpj(cnpj)
        except RuleError:
            raise RuleError(_l("CNPJ do cliente do portal inválido: \"%(value)s\".",
                               value=cnpj[:30]))
        if digits is None and not name:
            return None
        if digits is not None and not name and digits not in self.by_cnpj \
                and digits not in self.named_cnpjs:
            raise RuleError(_l("Nenhum cliente do portal com o CNPJ %(value)s: informe também "
                               "o nome, para criá-lo.", value=cnpj[:30]))
        if digits is not None and name:
            self.named_cnpjs.add(digits)
        return Membership(name or None, digits, email)

    def _organization(self, wanted: Membership) -> int:
        oid = (self.by_cnpj.get(wanted.cnpj) if wanted.cnpj else None) \
            or (self.by_name.get(fold(wanted.name)) if wanted.name and not wanted.cnpj else None)
        if oid is None:
            # new, named by the row (a CNPJ alone only when the row that named it was in a
            # batch rolled back since: the CNPJ, formatted, stands in for the name)
            org = CustomerOrganization(company_id=self.company_id,
                                       name=wanted.name or format_document(wanted.cnpj),
                                       cnpj=wanted.cnpj, active=True)
            db.session.add(org)
            db.session.flush()
            oid = org.id
            self.by_name.setdefault(fold(org.name), oid)
            if org.cnpj:
                self.by_cnpj[org.cnpj] = oid
        return oid

    def write(self, members: list[tuple[dict, Membership]]) -> int:
        """Accounts (and organisations) for the batch's rows, contact ids known; the
        invitations go out after the batch's commit. How many accounts were created."""
        created = 0
        for rec, wanted in members:
            email = rec["email"] or wanted.email
            if email in self.emails:
                continue
            account = PortalAccount(company_id=self.company_id,
                                    organization_id=self._organization(wanted),
                                    contact_id=rec["id"], name=rec["name"], email=email,
                                    phone=rec["phone"], active=True, auth_version=1)
            db.session.add(account)
            db.session.flush()
            accounts.invite(account, self.site_url)
            self.emails.add(email)
            created += 1
        return created

    def forget(self) -> None:
        """After a rolled back batch: what it created is gone, read the company again."""
        self.__init__(self.company_id, self.site_url)

