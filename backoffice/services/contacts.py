"""Contacts' rules: who sees which (WAL-1), manual registration (PAR-1), duplicates.

Carteira (WAL-1): where the company enables wallets (Parâmetros), a user sees the
contacts nobody owns and those they own; holders of contacts.supervise see every one.
Every contact query of the panel and of exports goes through `contact_filter`.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_

from ..extensions import db
from ..models import Contact, ContactField, Tag, User
from . import RuleError
from .contact_columns import FIELD_KEYS
from ..lib.csvfiles import fold
from ..lib.documents import PF, PJ, normalise_document
from ..lib.phones import normalise_phone
from .settings import read_settings

PERSON_TYPES = {PF: _l("Pessoa física"), PJ: _l("Pessoa jurídica")}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def wallets_apply(user) -> bool:
    """True when `user` is limited to their own carteira."""
    if user.can("contacts", "supervise"):
        return False
    return bool(read_settings(user.company_id).wallet_enabled)


def contact_filter(user):
    """A WHERE clause for Contact limited to what `user` may see."""
    if user.is_superuser or user.company_id is None or not user.can("contacts", "view"):
        return false()
    clause = Contact.company_id == user.company_id
    if wallets_apply(user):
        clause = clause & or_(Contact.owner_id.is_(None), Contact.owner_id == user.id)
    return clause


def normalise_email(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    email = value.strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise RuleError(_l("E-mail inválido."))
    return email


def person_type_of(value: str | None) -> str | None:
    """PF / PJ from what a spreadsheet says ("PF", "Física", "pessoa jurídica", "J")."""
    folded = fold(value or "")
    if not folded:
        return None
    if folded in ("pf", "f", "fisica", "pessoa_fisica", "cpf"):
        return PF
    if folded in ("pj", "j", "juridica", "pessoa_juridica", "cnpj", "empresa"):
        return PJ
    raise RuleError(_l("Tipo de pessoa inválido: use PF (física) ou PJ (jurídica)."))


def duplicate_of(company_id: int, phone: str | None, document: str | None,
                 exclude_id: int | None = None, viewer_id: int | None = None) -> str | None:
    """Why (phone or document taken by another contact of the company), or None.

    `viewer_id`: a user limited to their carteira; a contact of another wallet is named
    only as such (the rule still holds: one contact per phone in the company)."""
    for column, value, message in (
        (Contact.phone, phone, _l("Já existe um contato com este telefone: %(name)s.")),
        (Contact.document, document, _l("Já existe um contato com este CPF/CNPJ: %(name)s.")),
    ):
        if not value:
            continue
        q = Contact.owned(company_id, Contact.name, Contact.owner_id).where(column == value)
        if exclude_id is not None:
            q = q.where(Contact.id != exclude_id)
        found = db.session.execute(q.limit(1)).first()
        if found is None:
            continue
        if viewer_id is not None and found.owner_id not in (None, viewer_id):
            return str(_l("O contato já está cadastrado na carteira de outro usuário."))
        return str(message) % {"name": found.name}
    return None


def check_manual(contact: Contact, exclude_id: int | None = None,
                 viewer_id: int | None = None) -> None:
    """The rules of the Contatos screen: normalises phone, e-mail and document in place
    and raises RuleError for what must be fixed (PAR-1 and the duplicate rules)."""
    contact.name = (contact.name or "").strip()
    if not contact.name:
        raise RuleError(_l("Informe o nome do contato."))
    contact.phone = normalise_phone(contact.phone)
    contact.email = normalise_email(contact.email)
    contact.document, contact.person_type = normalise_document(contact.document,
                                                               contact.person_type or None)
    settings = read_settings(contact.company_id)
    if contact.person_type == PF and settings.cpf_required_pf and not contact.document:
        raise RuleError(_l("Informe o CPF: é obrigatório para pessoa física (Parâmetros)."))
    if contact.person_type == PJ and settings.cnpj_required_pj and not contact.document:
        raise RuleError(_l("Informe o CNPJ: é obrigatório para pessoa jurídica (Parâmetros)."))
    if contact.owner_id is not None:
        owner = db.session.get(User, contact.owner_id)
        if owner is None or owner.company_id != contact.company_id:
            raise RuleError(_l("Carteira: usuário não encontrado."))
    problem = duplicate_of(contact.company_id, contact.phone, contact.document, exclude_id,
                           viewer_id)
    if problem:
        raise RuleError(problem)


def fields_of(company_id: int, active_only: bool = True) -> list[ContactField]:
    q = ContactField.owned(company_id)
    if active_only:
        q = q.where(ContactField.active.is_(True))
    return list(db.session.scalars(q.order_by(ContactField.order, ContactField.label)))


def check_field(field: ContactField, exclude_id: int | None = None) -> None:
    field.label = (field.label or "").strip()
    field.key = fold(field.label)
    if not field.key:
        raise RuleError(_l("Informe o nome do campo."))
    if field.key in FIELD_KEYS:  # the built-in columns cannot be shadowed
        raise RuleError(_l("Já existe uma coluna padrão com este nome."))
    q = ContactField.owned(field.company_id, ContactField.id).where(ContactField.key == field.key)
    if exclude_id is not None:
        q = q.where(ContactField.id != exclude_id)
    if db.session.scalar(q.limit(1)) is not None:
        raise RuleError(_l("Já existe um campo com este nome."))


def company_tags(company_id: int) -> dict[str, Tag]:
    """Company tags by folded name (the import matches "vip", "VIP", "Vip")."""
    q = Tag.owned(company_id).where(Tag.owner_id.is_(None))
    return {fold(t.name): t for t in db.session.scalars(q)}
