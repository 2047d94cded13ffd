"""Protocols of the Fale Conosco portal (POR-1): what a representative opens, answers
and lists.

A protocol is a `Ticket` of the company's `portal` connection (channel.ensure_connection)
opened with the same builders as every channel's first message (`tickets.open_ticket`,
`tickets.receive`), so the inbox's live pushes, the automations, the webhooks and the
reports see it like any other new conversation. The form itself is kept in a
`PortalRequest` row; the classification goes on the ticket.

A representative sees the protocols of their own organisation (any representative of it),
never another's: every lookup goes through `find_protocol`.

Like the other services: RuleError in Portuguese for bad input, nothing committed here
(the caller commits with after_commit.commit()); uploads are all checked before anything
is stored, so a refused file leaves no ticket, message or row behind.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload

from ...extensions import db
from ...lib.ids import as_id
from ...lib.phones import normalise_phone
from ...models import ContactAddress, Department, Message, Ticket
from ...models.portal import (
    ContactMethod, PortalAccount, PortalRequest, PortalSettings, ServiceClassification,
    ServiceSubclassification,
)
from ...models.tickets import AUTHOR_CONTACT, CLOSED, OPEN, OPEN_STATUSES, PENDING, WAITING
from .. import RuleError, attachments, tickets
from ..contacts import normalise_email
from ..messages import clean_text
from .channel import ensure_connection

MAX_FILES = 5
MAX_PERSON = 120
PAGE_SIZE = 20
MAX_PAGE = 10**6  # beyond any real list; a bigger number is the last page, never a 500

# the lists: Todos os contatos / Em aberto / Finalizados
ALL, OPEN_FILTER, FINISHED = "todos", "em-aberto", "finalizados"
FILTERS: dict[str, str] = {
    ALL: _l("Todos os contatos"),
    OPEN_FILTER: _l("Em aberto"),
    FINISHED: _l("Finalizados"),
}

# the status as the representative reads it (the agents' words are about their queue)
PORTAL_STATUSES: dict[str, str] = {
    WAITING: _l("Aguardando atendimento"),
    OPEN: _l("Em atendimento"),
    PENDING: _l("Aguardando sua resposta"),
    CLOSED: _l("Finalizado"),
}

# the history line of a reply that reopened a finished protocol
REOPEN_SOURCE = "Fale Conosco (portal)"


class ProtocolNotFound(LookupError):
    """No protocol of the representative's organisation with that id (views: 404)."""


@dataclass
class NewProtocol:
    """The Novo contato form, as typed (strings) plus the uploaded files (werkzeug
    FileStorage objects; empty ones are ignored)."""

    classification_id: object = None
    subclassification_id: object = None
    contact_person: str = ""
    phone: str = ""
    email: str = ""
    contact_method_id: object = None
    message: str = ""
    files: list = field(default_factory=list)

    @classmethod
    def from_form(cls, form, files=()) -> "NewProtocol":
        def text(name):
            value = form.get(name)
            return value if isinstance(value, str) else ""
        return cls(classification_id=form.get("classification_id"),
                   subclassification_id=form.get("subclassification_id"),
                   contact_person=text("contact_person"), phone=text("phone"),
                   email=text("email"), contact_method_id=form.get("contact_method_id"),
                   message=text("message"), files=list(files))

    @classmethod
    def prefilled(cls, account: PortalAccount) -> "NewProtocol":
        """The blank form of `account`: contact person, phone and e-mail are theirs."""
        return cls(contact_person=account.name or "", phone=account.phone or "",
                   email=account.email or "")


# --- what the form offers ------------------------------------------------------------------


def settings_of(company_id: int) -> PortalSettings | None:
    return db.session.execute(PortalSettings.owned(company_id)).scalar_one_or_none()


def classifications(company_id: int) -> list[ServiceClassification]:
    """The active classifications offered in the portal, in the company's order."""
    return list(db.session.scalars(
        ServiceClassification.owned(company_id)
        .where(ServiceClassification.active.is_(True), ServiceClassification.in_portal.is_(True))
        .order_by(ServiceClassification.position, ServiceClassification.name)))


def subclassifications(company_id: int) -> list[ServiceSubclassification]:
    """The active sub-classifications of the offered classifications."""
    offered = [c.id for c in classifications(company_id)]
    if not offered:
        return []
    return list(db.session.scalars(
        ServiceSubclassification.owned(company_id)
        .where(ServiceSubclassification.active.is_(True),
               ServiceSubclassification.classification_id.in_(offered))
        .order_by(ServiceSubclassification.position, ServiceSubclassification.name)))


def contact_methods(company_id: int) -> list[ContactMethod]:
    return list(db.session.scalars(
        ContactMethod.owned(company_id).where(ContactMethod.active.is_(True))
        .order_by(ContactMethod.position, ContactMethod.name)))


def asks_contact_method(company_id: int) -> bool:
    """The form asks the form of contact when the settings say so and there is one to pick."""
    found = settings_of(company_id)
    return bool(found is not None and found.ask_contact_method and contact_methods(company_id))


# --- checking the form ----------------------------------------------------------------------


def _classification(company_id: int, raw) -> ServiceClassification:
    found = ServiceClassification.get_owned(company_id, raw)
    if found is None or not found.active or not found.in_portal:
        raise RuleError(_("Escolha a classificação do contato."))
    return found


def _subclassification(company_id: int, classification: ServiceClassification,
                       raw) -> ServiceSubclassification:
    found = ServiceSubclassification.get_owned(company_id, raw)
    if found is None or not found.active:
        raise RuleError(_("Escolha a sub-classificação do contato."))
    if found.classification_id != classification.id:
        raise RuleError(_("A sub-classificação %(sub)s não pertence à classificação "
                          "%(name)s.", sub=found.name, name=classification.name))
    return found


def _person(raw: str) -> str:
    person = " ".join((raw or "").replace("\x00", "").split())
    if not person:
        raise RuleError(_("Informe a pessoa de contato."))
    if len(person) > MAX_PERSON:
        raise RuleError(_("A pessoa de contato pode ter no máximo %(n)d caracteres.",
                          n=MAX_PERSON))
    return person


def _phone(raw: str) -> str | None:
    try:
        return normalise_phone((raw or "").replace("\x00", ""))
    except RuleError:
        raise RuleError(_("Telefone inválido: informe o DDD e o número, como "
                          "(11) 98765-4321.")) from None


def _email(raw: str) -> str | None:
    return normalise_email((raw or "").replace("\x00", ""))


def _contact_method(company_id: int, raw) -> ContactMethod | None:
    if not asks_contact_method(company_id):
        return None
    found = ContactMethod.get_owned(company_id, raw)
    if found is None or not found.active:
        raise RuleError(_("Escolha a forma de contato."))
    return found


def read_files(files) -> list:
    """The uploads checked with the inbox's type and size rules (services.attachments),
    all before anything is stored; RuleError for the first one refused."""
    chosen = [f for f in files or () if f is not None and getattr(f, "filename", None)]
    if len(chosen) > MAX_FILES:
        raise RuleError(_("Envie no máximo %(n)d arquivos por mensagem.", n=MAX_FILES))
    return [attachments.read(f) for f in chosen]


# --- opening a protocol -----------------------------------------------------------------------


def _address(account: PortalAccount) -> str:
    """The representative's address on the portal connection: the account, not its
    e-mail, which the company may change."""
    return f"conta-{account.id}"


def _contact_of(account: PortalAccount, connection):
    """The account's contact (created and linked when it has none), with its address on
    the portal connection, so the inbox shows where the protocol came from."""
    address = _address(account)
    if account.contact is None:
        contact = tickets.contact_for(connection, address, account.name, email=account.email,
                                      phone=account.phone)
        account.contact_id = contact.id
        account.contact = contact
        return contact
    contact = account.contact
    known = db.session.scalar(select(ContactAddress).where(
        ContactAddress.connection_id == connection.id, ContactAddress.address == address))
    if known is None:
        contact.addresses.append(ContactAddress(company_id=contact.company_id,
                                                connection_id=connection.id, address=address))
        db.session.flush()
    return contact


def _routing(sub: ServiceSubclassification) -> Department | None:
    """The sub-classification's department when it takes tickets; else None, and the
    connection's normal routing (its chatbot, automations, the unrouted queue) decides."""
    department = sub.department
    if department is None or not department.active or not department.receives_tickets:
        return None
    return department


def open_protocol(account: PortalAccount, form: NewProtocol) -> Ticket:
    """Check the Novo contato form and open the protocol: a ticket of the portal
    connection with the company's next protocol number, in the sub-classification's
    department, with its first message (the text and the attachments)."""
    company_id = account.company_id
    classification = _classification(company_id, form.classification_id)
    sub = _subclassification(company_id, classification, form.subclassification_id)
    person = _person(form.contact_person)
    phone = _phone(form.phone)
    email = _email(form.email)
    method = _contact_method(company_id, form.contact_method_id)
    text = clean_text(form.message)
    if not text:
        raise RuleError(_("Escreva a mensagem."))
    uploads = read_files(form.files)

    connection = ensure_connection(company_id)
    contact = _contact_of(account, connection)
    ticket = tickets.open_ticket(contact, connection, _routing(sub),
                                 classification_id=classification.id,
                                 subclassification_id=sub.id)
    db.session.add(PortalRequest(company_id=company_id, ticket_id=ticket.id,
                                 organization_id=account.organization_id,
                                 account_id=account.id,
                                 contact_method_id=method.id if method else None,
                                 contact_person=person, phone=phone, email=email))
    _receive(ticket, text, uploads)
    return ticket


def _receive(ticket: Ticket, text: str | None, uploads: list) -> Message:
    """The representative's text with the first file; each further file a message of its
    own (as services.tickets.receive_inbound stores a channel's attachments)."""
    first = tickets.receive(ticket, text, uploads[0] if uploads else None)
    for upload in uploads[1:]:
        tickets.receive(ticket, None, upload)
    return first


# --- finding and answering -----------------------------------------------------------------------


def _of_organisation(account: PortalAccount):
    """Tickets of the account's organisation (the protocols its people opened)."""
    return (select(Ticket)
            .join(PortalRequest, PortalRequest.ticket_id == Ticket.id)
            .where(Ticket.company_id == account.company_id,
                   PortalRequest.company_id == account.company_id,
                   PortalRequest.organization_id == account.organization_id))


def find_protocol(account: PortalAccount, ticket_id) -> Ticket:
    """The protocol `ticket_id` of the account's organisation; ProtocolNotFound for a
    missing id, another organisation's or company's, or a value that is no id."""
    wanted = as_id(ticket_id)
    found = None
    if wanted is not None:
        found = db.session.scalar(_of_organisation(account).where(Ticket.id == wanted))
    if found is None:
        raise ProtocolNotFound(ticket_id)
    return found


def request_of(ticket: Ticket) -> PortalRequest | None:
    return db.session.scalar(select(PortalRequest).where(PortalRequest.ticket_id == ticket.id))


def reply(account: PortalAccount, ticket_id, text: str | None, uploads=()) -> Message:
    """The representative's message on a protocol of their organisation. On a finished
    one: reopened (back to its department's queue) when the company allows it, else
    RuleError and nothing stored."""
    ticket = find_protocol(account, ticket_id)
    text = clean_text(text)
    files = read_files(uploads)
    if not text and not files:
        raise RuleError(_("Escreva uma mensagem."))
    if ticket.status == CLOSED:
        found = settings_of(account.company_id)
        if found is None or not found.allow_reopen:
            raise RuleError(_("Este protocolo foi finalizado. Abra um novo contato."))
        tickets.reopen_by_contact(ticket, source=REOPEN_SOURCE)
    return _receive(ticket, text, files)


# --- what the representative reads ------------------------------------------------------------


@dataclass
class ProtocolRow:
    id: int
    protocol: str
    created_at: datetime
    classification: str
    subclassification: str
    status: str
    status_label: str
    last_at: datetime | None
    preview: str


@dataclass
class Page:
    rows: list[ProtocolRow]
    page: int
    pages: int
    total: int


def read_page(raw) -> int:
    """A page number from the query string: 1 for anything that is not one, at most
    MAX_PAGE (SEC-7: no crafted number reaches the database)."""
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit() \
            and len(raw.strip()) <= 7:
        return min(max(int(raw.strip()), 1), MAX_PAGE)
    return 1


def _filtered(query, which: str):
    if which == OPEN_FILTER:
        return query.where(Ticket.status.in_(OPEN_STATUSES))
    if which == FINISHED:
        return query.where(Ticket.status == CLOSED)
    return query


def counts(account: PortalAccount) -> dict[str, int]:
    """How many protocols each list holds (the home page's menu)."""
    by_status = dict(db.session.execute(
        _of_organisation(account).with_only_columns(Ticket.status, func.count())
        .group_by(Ticket.status)).all())
    finished = by_status.get(CLOSED, 0)
    total = sum(by_status.values())
    return {ALL: total, OPEN_FILTER: total - finished, FINISHED: finished}


def protocols(account: PortalAccount, which: str = ALL, page: int = 1) -> Page:
    """One page of the organisation's protocols, newest first, for one of FILTERS."""
    which = which if which in FILTERS else ALL
    query = _filtered(_of_organisation(account), which)
    total = db.session.scalar(query.with_only_columns(func.count(Ticket.id)).order_by(None))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    found = db.session.scalars(
        query.options(joinedload(Ticket.classification), joinedload(Ticket.subclassification))
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    rows = [ProtocolRow(id=t.id, protocol=t.protocol, created_at=t.created_at,
                        classification=t.classification.name if t.classification else "",
                        subclassification=(t.subclassification.name
                                           if t.subclassification else ""),
                        status=t.status, status_label=str(PORTAL_STATUSES.get(t.status, t.status)),
                        last_at=t.last_activity_at, preview=t.preview or "")
            for t in found]
    return Page(rows=rows, page=page, pages=pages, total=total)


def status_label(ticket: Ticket) -> str:
    return str(PORTAL_STATUSES.get(ticket.status, ticket.status))


def conversation(ticket: Ticket, after_id: int | None = None) -> list[Message]:
    """The protocol's messages in order (those after `after_id` when given): what the
    representative wrote and every answer sent to them. Messages of the agents that
    failed for good are still answers the portal shows: the e-mail is only a notice."""
    query = select(Message).where(Message.ticket_id == ticket.id,
                                  Message.company_id == ticket.company_id)
    if after_id is not None:
        query = query.where(Message.id > after_id)
    return list(db.session.scalars(query.order_by(Message.id)))


def message_of(account: PortalAccount, ticket_id, message_id) -> Message:
    """A message of one of the organisation's protocols (the attachment download)."""
    ticket = find_protocol(account, ticket_id)
    wanted = as_id(message_id)
    found = db.session.scalar(select(Message).where(
        and_(Message.id == wanted, Message.ticket_id == ticket.id))) if wanted else None
    if found is None:
        raise ProtocolNotFound(message_id)
    return found


def is_mine(message: Message) -> bool:
    """Written by the representative's side (shown on the right, as "Você")."""
    return message.author_kind == AUTHOR_CONTACT
