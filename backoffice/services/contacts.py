"""Contacts' rules: who sees which (WAL-1), manual registration (PAR-1), duplicates.

Carteira (WAL-1): where the company enables wallets (Parâmetros), a user sees the
contacts nobody owns and those they own; holders of contacts.supervise see every one.
Every contact query of the panel and of exports goes through `contact_filter`.
"""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, or_, select
from sqlalchemy.exc import IntegrityError

from .. import events
from ..extensions import db
from ..models import Contact, ContactField, Tag, Ticket, User, contact_tag
from . import RuleError, as_id
from .contact_columns import FIELD_KEYS
from .inbox import like_pattern
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


class DuplicateContact(RuleError):
    """The phone or CPF/CNPJ (`field`: "phone" or "document") of another contact of the
    company, `contact_id`."""

    def __init__(self, message, contact_id: int, field: str):
        super().__init__(message)
        self.contact_id = contact_id
        self.field = field


def _duplicate(company_id: int, phone: str | None, document: str | None,
               exclude_id: int | None = None,
               viewer_id: int | None = None) -> DuplicateContact | None:
    for field, column, value, message in (
        ("phone", Contact.phone, phone, _l("Já existe um contato com este telefone: %(name)s.")),
        ("document", Contact.document, document,
         _l("Já existe um contato com este CPF/CNPJ: %(name)s.")),
    ):
        if not value:
            continue
        q = Contact.owned(company_id, Contact.id, Contact.name, Contact.owner_id).where(
            column == value)
        if exclude_id is not None:
            q = q.where(Contact.id != exclude_id)
        found = db.session.execute(q.limit(1)).first()
        if found is None:
            continue
        if viewer_id is not None and found.owner_id not in (None, viewer_id):
            return DuplicateContact(
                str(_l("O contato já está cadastrado na carteira de outro usuário.")),
                found.id, field)
        return DuplicateContact(str(message) % {"name": found.name}, found.id, field)
    return None


def duplicate_of(company_id: int, phone: str | None, document: str | None,
                 exclude_id: int | None = None, viewer_id: int | None = None) -> str | None:
    """Why (phone or document taken by another contact of the company), or None.

    `viewer_id`: a user limited to their carteira; a contact of another wallet is named
    only as such (the rule still holds: one contact per phone in the company)."""
    found = _duplicate(company_id, phone, document, exclude_id, viewer_id)
    return str(found) if found is not None else None


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
    problem = _duplicate(contact.company_id, contact.phone, contact.document, exclude_id,
                         viewer_id)
    if problem is not None:
        raise problem


def search(company_id: int, *, phone: str | None = None, document: str | None = None,
           email: str | None = None, name: str | None = None, tag_id: int | None = None):
    """A select() of the company's contacts matching every criterion given: the phone
    (E.164), document and e-mail already normalised, part of the name, a tag."""
    q = select(Contact).where(Contact.company_id == company_id)
    if phone:
        q = q.where(Contact.phone == phone)
    if document:
        q = q.where(Contact.document == document)
    if email:
        q = q.where(Contact.email == email)
    if name:
        q = q.where(Contact.name.ilike(like_pattern(name), escape="\\"))
    if tag_id:
        q = q.where(Contact.id.in_(select(contact_tag.c.contact_id).where(
            contact_tag.c.tag_id == tag_id)))
    return q


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


# --- changes outside the Contatos screen (the API): saved, tagged, deleted, announced ---


def save(contact: Contact, *, created: bool) -> Contact:
    """Check the screen's rules (check_manual), store and announce (contact.created or
    contact.updated). Two requests racing for one phone: the unique index refuses the
    second, answered as the duplicate it is."""
    with db.session.no_autoflush:  # a duplicate is named by the rule, not by the index
        check_manual(contact, exclude_id=None if created else contact.id)
    try:
        with db.session.begin_nested():
            db.session.add(contact)
            db.session.flush()
    except IntegrityError:
        problem = _duplicate(contact.company_id, contact.phone, contact.document,
                             None if created else contact.id)
        if problem is None:
            raise
        raise problem
    events.emit("contact.created" if created else "contact.updated", contact=contact)
    return contact


def set_custom_fields(contact: Contact, values: dict) -> None:
    """Merge `values` (field key -> text; empty or None clears) into the contact's custom
    fields: only the company's active fields."""
    known = {f.key for f in fields_of(contact.company_id)}
    merged = dict(contact.custom_fields or {})
    for key, value in values.items():
        if key not in known:
            raise RuleError(_l("Campo personalizado não encontrado: %(key)s.", key=key))
        value = (value or "").strip()
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    contact.custom_fields = merged or None


def set_tags(contact: Contact, tag_ids) -> None:
    """The contact's tags become the company tags `tag_ids` (never a user's personal tag)."""
    wanted = {as_id(raw) for raw in tag_ids}
    if None in wanted:
        raise RuleError(_l("Etiqueta não encontrada."))
    found = list(db.session.scalars(Tag.owned(contact.company_id).where(
        Tag.id.in_(wanted), Tag.owner_id.is_(None)))) if wanted else []
    if len(found) != len(wanted):
        raise RuleError(_l("Etiqueta não encontrada."))
    contact.tags = found


def check_delete(contact: Contact) -> None:
    has_tickets = db.session.scalar(select(Ticket.id).where(Ticket.contact_id == contact.id)
                                    .limit(1))
    if has_tickets is not None:
        raise RuleError(_l("O contato tem atendimentos e não pode ser excluído: o histórico "
                           "das conversas se perderia."))


def delete(contact: Contact) -> None:
    check_delete(contact)
    events.emit("contact.deleted", contact=contact)  # built now, while the row exists
    db.session.delete(contact)
    db.session.flush()
