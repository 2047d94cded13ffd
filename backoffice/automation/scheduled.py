"""Scheduled messages (AUT-5): a message for a contact at a date and time.

`create()` takes the date and time on the company's wall clock (Company.timezone) and
stores `send_at` in UTC; `tick()` (jobs.periodic, every minute) sends what is due through
the normal queue (services.sending.queue), so a scheduled message is delivered, retried
and shown like any other.

Sent once: the tick claims a row with `UPDATE ... SET status='sending' WHERE
status='scheduled'` in the same transaction as the sending; a second tick (another
process, an overlapping run) finds nothing to claim, and a crash rolls the claim back with
the message. Rows left in "sending" past STUCK (a claim committed by a worker that died:
not done by this module, but kept as a belt) go back to "scheduled".

Decisions:
- the ticket: the contact's open ticket on that connection, else a new one in the
  creator's first active department that receives tickets (by Department.order), so the
  customer's answer lands where the creator works; with none, a ticket with no
  department (visible to every agent).
- the author: the creator (an agent's message); a creator deleted or deactivated: the
  system. Either way the 24-hour window is checked here, so free text outside it fails
  with the window's reason instead of reaching the provider.
- a failed occurrence (RuleError: window closed, template gone...) stops the schedule,
  repeating or not: status "failed" with the reason, shown on the screen.
- a WhatsApp approved template fills {{1}} with the contact's first name; templates with
  more variables are refused when scheduling (there is no column for their values).
"""
from __future__ import annotations

import calendar
import logging
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select, update

from ..extensions import db
from ..lib import after_commit, clock
from ..models import (
    Company,
    Connection,
    Contact,
    ContactAddress,
    Department,
    DepartmentMember,
    MessageTemplate,
    User,
)
from ..models.automation import (
    REPEATS,
    SCHEDULE_CANCELLED,
    SCHEDULE_FAILED,
    SCHEDULE_SENDING,
    SCHEDULE_SENT,
    SCHEDULED,
    ScheduledMessage,
)
from ..models.channels import KIND_WHATSAPP, ProviderTemplate
from ..models.tickets import AUTHOR_AGENT, AUTHOR_SYSTEM
from ..services import (
    RuleError,
    as_id,
    hours,
    messages,
    provider_templates,
    replies,
    sending,
    tickets,
    window,
)
from ..tenancy import acting_for

log = logging.getLogger(__name__)

BATCH = 200                       # rows per tick; the rest stay due for the next one
STUCK = timedelta(minutes=10)     # a claim older than this was a worker that died
MAX_TEXT = 4000


# --- time ---------------------------------------------------------------------------------


def zone_of(company_id: int) -> ZoneInfo:
    company = db.session.get(Company, company_id)
    try:
        return ZoneInfo((company.timezone if company else None) or hours.DEFAULT_TIMEZONE)
    except (ValueError, KeyError, OSError):  # an unknown zone name stored by hand
        return ZoneInfo(hours.DEFAULT_TIMEZONE)


def to_utc(local: datetime, tz) -> datetime:
    """A naive wall-clock time of the zone `tz` as naive UTC (how the app stores times)."""
    aware = local.replace(tzinfo=tz, second=0, microsecond=0)
    return aware.astimezone(UTC).replace(tzinfo=None)


def local_of(item: ScheduledMessage, at: datetime | None = None) -> datetime:
    """`send_at` (or `at`) on the company's wall clock, naive."""
    return hours.local_time(at or item.send_at, zone_of(item.company_id)).replace(tzinfo=None)


def local_label(item: ScheduledMessage, at: datetime | None = None) -> str:
    """"05/12/2026 09:00" in the company's zone."""
    when = at or item.send_at
    return local_of(item, when).strftime("%d/%m/%Y %H:%M") if when else ""


def parse_local(day, hour) -> datetime:
    """The form's date ("2026-12-05" or "05/12/2026") and time ("09:00") as a naive
    datetime; RuleError in Portuguese when either is missing or malformed."""
    if isinstance(day, datetime):
        day = day.date()
    if isinstance(day, str):
        day = day.strip()
        parsed = None
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                parsed = datetime.strptime(day, fmt).date()
                break
            except ValueError:
                continue
        day = parsed
    if not isinstance(day, date):
        raise RuleError(_("Informe uma data válida (dd/mm/aaaa)."))
    if isinstance(hour, str):
        try:
            hour = datetime.strptime(hour.strip()[:5], "%H:%M").time()
        except ValueError:
            hour = None
    if not isinstance(hour, time):
        raise RuleError(_("Informe um horário válido (hh:mm)."))
    return datetime.combine(day, hour.replace(second=0, microsecond=0))


def next_occurrence(item: ScheduledMessage) -> datetime:
    """The next `send_at` of a repeating schedule: the same wall-clock time in the company
    zone the next day, week or month (monthly on the same day, clamped to the month's
    last day: Jan 31 -> Feb 28 -> Mar 28)."""
    tz = zone_of(item.company_id)
    local = local_of(item)
    if item.repeat == "daily":
        nxt = local + timedelta(days=1)
    elif item.repeat == "weekly":
        nxt = local + timedelta(days=7)
    else:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        day = min(local.day, calendar.monthrange(year, month)[1])
        nxt = local.replace(year=year, month=month, day=day)
    return to_utc(nxt, tz)


# --- creating and cancelling ------------------------------------------------------------


def _find_contact(company_id: int, contact) -> Contact:
    contact_id = as_id(getattr(contact, "id", contact))
    found = db.session.scalar(select(Contact).where(
        Contact.id == contact_id, Contact.company_id == company_id)) if contact_id else None
    if found is None:
        raise RuleError(_("Contato não encontrado."))
    return found


def _find_connection(company_id: int, connection) -> Connection:
    connection_id = as_id(getattr(connection, "id", connection))
    found = db.session.scalar(select(Connection).where(
        Connection.id == connection_id, Connection.company_id == company_id)) \
        if connection_id else None
    if found is None:
        raise RuleError(_("Conexão não encontrada."))
    if not found.active:
        raise RuleError(_("A conexão %(name)s está inativa.", name=found.name))
    return found


def _address(contact: Contact, connection: Connection) -> ContactAddress | None:
    return db.session.scalar(select(ContactAddress).where(
        ContactAddress.contact_id == contact.id, ContactAddress.connection_id == connection.id)
        .limit(1))


def _message_template(company_id: int, template, connection: Connection) -> MessageTemplate:
    template_id = as_id(getattr(template, "id", template))
    found = MessageTemplate.get_owned(company_id, template_id) if template_id else None
    allowed = replies.QUICK_KINDS + tuple(
        k for k in (window.TEMPLATE_KIND_OF.get(connection.kind),) if k)
    if found is None or not found.active or found.kind not in allowed:
        raise RuleError(_("Template de mensagem não encontrado."))
    return found


def _provider_template(company_id: int, template, connection: Connection) -> ProviderTemplate:
    template_id = as_id(getattr(template, "id", template))
    found = db.session.scalar(select(ProviderTemplate).where(
        ProviderTemplate.id == template_id, ProviderTemplate.company_id == company_id,
        ProviderTemplate.connection_id == connection.id)) if template_id else None
    if found is None or not found.approved or connection.kind != KIND_WHATSAPP:
        raise RuleError(_("Modelo aprovado não encontrado para esta conexão."))
    if not provider_templates.fillable(found) or (found.variables or 0) > 1:
        raise RuleError(_("O modelo %(name)s tem variáveis que o agendamento não preenche: "
                          "escolha um modelo sem variáveis ou só com o nome do cliente "
                          "({{1}}).", name=found.name))
    return found


def window_warning(item: ScheduledMessage) -> str | None:
    """The warning for free text that will reach a closed 24-hour window, or None."""
    if item.provider_template_id or item.connection is None:
        return None
    if item.template_id:
        template = db.session.get(MessageTemplate, item.template_id)
        if template is not None and template.kind == window.TEMPLATE_KIND_OF.get(
                item.connection.kind):
            return None
    probe = SimpleNamespace(connection=item.connection, contact_id=item.contact_id,
                            connection_id=item.connection_id)
    if window.state(probe, now=item.send_at).open:
        return None
    return _("Atenção: no horário agendado o cliente estará fora da janela de 24 horas; "
             "fora da janela de 24 horas será preciso um modelo aprovado e a mensagem "
             "pode falhar.")


def create(user: User, contact, connection, send_at_local: datetime, text: str | None = None,
           template=None, provider_template=None, repeat: str = "none") -> ScheduledMessage:
    """A scheduled message of the user's company; RuleError (pt-BR) when refused. The
    caller commits. `window_warning(item)` says when free text will meet a closed window."""
    return create_for(user.company_id, contact, connection, send_at_local, text, template,
                      provider_template, repeat, creator=user)


def create_for(company_id: int, contact, connection, send_at_local: datetime,
               text: str | None = None, template=None, provider_template=None,
               repeat: str = "none", creator: User | None = None) -> ScheduledMessage:
    """`create` for a company with no user behind it (the public API): sent by the
    system, in a ticket with no department when none is open."""
    item = ScheduledMessage(company_id=company_id,
                            created_by_id=creator.id if creator is not None else None)
    fill(item, company_id, contact, connection, send_at_local, text, template,
          provider_template, repeat)
    db.session.add(item)
    db.session.flush()
    return item


def update_item(user: User, item: ScheduledMessage, contact, connection, send_at_local,
                text=None, template=None, provider_template=None, repeat="none"):
    """Change a schedule still waiting to be sent."""
    if item.company_id != user.company_id:
        raise RuleError(_("Agendamento não encontrado."))
    if item.status != SCHEDULED:
        raise RuleError(_("Só agendamentos ainda não enviados podem ser alterados."))
    fill(item, item.company_id, contact, connection, send_at_local, text, template,
          provider_template, repeat)
    item.error = None
    db.session.flush()
    return item


def fill(item, company_id, contact, connection, send_at_local, text, template,
          provider_template, repeat) -> None:
    contact = _find_contact(company_id, contact)
    connection = _find_connection(company_id, connection)
    if _address(contact, connection) is None:
        raise RuleError(_("O contato %(name)s não tem endereço na conexão %(connection)s.",
                          name=contact.name, connection=connection.name))
    if repeat not in REPEATS:
        raise RuleError(_("Repetição inválida."))
    if not isinstance(send_at_local, datetime):
        raise RuleError(_("Informe a data e o horário do envio."))
    send_at = to_utc(send_at_local.replace(tzinfo=None), zone_of(company_id))
    if send_at < clock.now().replace(second=0, microsecond=0):
        raise RuleError(_("A data e o horário do envio já passaram."))
    text = messages.clean_text(text)
    if len(text) > MAX_TEXT:
        raise RuleError(_("A mensagem pode ter no máximo %(n)s caracteres.", n=MAX_TEXT))
    unknown = messages.validate_template(text)
    if unknown:
        raise RuleError(messages.unknown_variables_message(unknown))
    item.template_id = item.provider_template_id = None
    if provider_template:
        item.provider_template_id = _provider_template(company_id, provider_template,
                                                       connection).id
        text = ""  # the approved template is the whole message
    elif template:
        item.template_id = _message_template(company_id, template, connection).id
    elif not text:
        raise RuleError(_("Escreva a mensagem ou escolha um template."))
    item.contact_id, item.connection_id = contact.id, connection.id
    item.contact, item.connection = contact, connection
    item.text = text or None
    item.send_at = send_at
    item.repeat = repeat


def cancel(user: User, item: ScheduledMessage) -> ScheduledMessage:
    if item.company_id != user.company_id:
        raise RuleError(_("Agendamento não encontrado."))
    return cancel_pending(item)


def cancel_pending(item: ScheduledMessage) -> ScheduledMessage:
    """Cancel a schedule still waiting (the caller found it within its company)."""
    if item.status != SCHEDULED:
        raise RuleError(_("Só agendamentos ainda não enviados podem ser cancelados."))
    claimed = db.session.execute(
        update(ScheduledMessage).where(ScheduledMessage.id == item.id,
                                       ScheduledMessage.status == SCHEDULED)
        .values(status=SCHEDULE_CANCELLED).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # the tick took it meanwhile
        raise RuleError(_("Só agendamentos ainda não enviados podem ser cancelados."))
    db.session.refresh(item)
    return item


def pending_of(contact: Contact) -> list[ScheduledMessage]:
    """The contact's schedules still to be sent, soonest first."""
    return list(db.session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.company_id == contact.company_id,
        ScheduledMessage.contact_id == contact.id, ScheduledMessage.status == SCHEDULED)
        .order_by(ScheduledMessage.send_at, ScheduledMessage.id)))


def as_dict(item: ScheduledMessage) -> dict:
    return {"id": item.id, "text": item.text or "", "summary": summary(item),
            "send_at_local": local_label(item), "repeat": item.repeat,
            "repeat_label": str(REPEATS.get(item.repeat, item.repeat)),
            "status": item.status, "connection": item.connection.name if item.connection else "",
            "error": item.error}


def summary(item: ScheduledMessage) -> str:
    if item.provider_template_id:
        template = db.session.get(ProviderTemplate, item.provider_template_id)
        return _("Modelo %(name)s", name=template.name if template else "?")
    if item.template_id and not item.text:
        template = db.session.get(MessageTemplate, item.template_id)
        return _("Template %(name)s", name=template.shortcut if template else "?")
    return (item.text or "")[:120]


# --- the tick -----------------------------------------------------------------------------


def tick(now: datetime | None = None, limit: int = BATCH) -> int:
    """Send every company's due scheduled messages; returns how many were handled."""
    now = now or clock.now()
    db.session.execute(
        update(ScheduledMessage).where(ScheduledMessage.status == SCHEDULE_SENDING,
                                       ScheduledMessage.claimed_at < now - STUCK)
        .values(status=SCHEDULED, claimed_at=None).execution_options(synchronize_session=False))
    db.session.commit()
    due = db.session.execute(
        select(ScheduledMessage.id, ScheduledMessage.company_id)
        .where(ScheduledMessage.status == SCHEDULED, ScheduledMessage.send_at <= now)
        .order_by(ScheduledMessage.send_at, ScheduledMessage.id).limit(limit)).all()
    db.session.rollback()  # the read must not hold a transaction over the batch
    handled = 0
    for item_id, company_id in due:
        with acting_for(company_id):
            try:
                if _handle(item_id, now):
                    handled += 1
            except Exception:
                log.exception("scheduled message %s failed", item_id)
                db.session.rollback()
    return handled


def _claim(item_id: int, now: datetime):
    return db.session.execute(
        update(ScheduledMessage).where(ScheduledMessage.id == item_id,
                                       ScheduledMessage.status == SCHEDULED,
                                       ScheduledMessage.send_at <= now)
        .values(status=SCHEDULE_SENDING, claimed_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1


def _handle(item_id: int, now: datetime) -> bool:
    if not _claim(item_id, now):
        db.session.rollback()
        return False  # another tick has it, or it was cancelled since the read
    item = db.session.get(ScheduledMessage, item_id, populate_existing=True)
    try:
        message, ticket = _send(item)
    except RuleError as exc:
        error = str(exc)
        db.session.rollback()  # nothing half-done: no ticket opened for a refused message
        if not _claim(item_id, now):
            db.session.rollback()
            return False
        item = db.session.get(ScheduledMessage, item_id, populate_existing=True)
        item.status, item.error, item.claimed_at = SCHEDULE_FAILED, error[:500], None
        after_commit.commit()
        return True
    item.message_id, item.ticket_id = message.id, ticket.id
    item.sent_count = (item.sent_count or 0) + 1
    item.last_sent_at = now
    item.error = None
    item.claimed_at = None
    detail = summary(item)
    if item.repeat in REPEATS and item.repeat != "none":
        item.send_at = next_occurrence(item)
        item.status = SCHEDULED
        detail = _("%(text)s (próximo envio: %(when)s)", text=detail, when=local_label(item))
    else:
        item.status = SCHEDULE_SENT
    tickets.history(ticket, "scheduled", detail=detail, scheduled_id=item.id)
    after_commit.commit()
    return True


def _creator(item: ScheduledMessage) -> User | None:
    user = db.session.get(User, item.created_by_id) if item.created_by_id else None
    return user if user is not None and user.active and user.company_id == item.company_id \
        else None


def _department_of(user: User | None, company_id: int) -> Department | None:
    if user is None:
        return None
    return db.session.scalar(
        select(Department).join(DepartmentMember, DepartmentMember.department_id == Department.id)
        .where(DepartmentMember.user_id == user.id, Department.company_id == company_id,
               Department.active.is_(True), Department.receives_tickets.is_(True))
        .order_by(Department.order, Department.id).limit(1))


def _send(item: ScheduledMessage):
    """Queue the message (the caller commits); RuleError in Portuguese when it cannot go."""
    contact = db.session.get(Contact, item.contact_id)
    connection = item.connection
    if contact is None or contact.company_id != item.company_id:
        raise RuleError(_("O contato foi excluído."))
    if connection is None or connection.company_id != item.company_id:
        raise RuleError(_("A conexão do agendamento foi excluída."))
    if not connection.active:
        raise RuleError(_("A conexão %(name)s está inativa.", name=connection.name))
    if _address(contact, connection) is None:
        raise RuleError(_("O contato %(name)s não tem endereço na conexão %(connection)s.",
                          name=contact.name, connection=connection.name))
    creator = _creator(item)
    ticket = tickets.open_ticket_of(contact, connection)
    if ticket is None:
        ticket = tickets.open_ticket(contact, connection,
                                     _department_of(creator, item.company_id))
    kind = AUTHOR_AGENT if creator is not None else AUTHOR_SYSTEM
    text, upload, extra, is_template = item.text or "", None, None, False
    if item.provider_template_id:
        template = replies.find_provider_template(ticket, item.provider_template_id)
        if template is None:
            raise RuleError(_("O modelo aprovado do agendamento não está mais disponível."))
        values = [replies.first_name(ticket) or contact.name] if template.variables else []
        text, extra = provider_templates.render(template, values)
        is_template = True
    elif item.template_id:
        template = db.session.get(MessageTemplate, item.template_id)
        if template is None or template.company_id != item.company_id or not template.active:
            raise RuleError(_("O template do agendamento foi excluído ou desativado."))
        text = messages.render(text, replies.context(creator, ticket))
        text, upload, is_template = replies.template_reply(creator, ticket, template, text, None)
    elif item.text:
        text = messages.render(text, replies.context(creator, ticket))
    else:
        raise RuleError(_("O template do agendamento foi excluído."))
    found = window.state(ticket)
    if not found.open and not is_template:
        raise RuleError(found.reason())
    message = sending.queue(ticket, creator, text, upload=upload, author_kind=kind,
                            extra=extra, template=is_template)
    return message, ticket
