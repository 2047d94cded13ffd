"""Automation (AUT-1..5, AUT-8, RAT-1): chatbot flows and their runs, automation rules,
scheduled messages and satisfaction-survey answers.

Time-driven work is found through indexes, never through one scheduled job per row:
`Ticket.due_at` (the next instant an automation has something to do on a ticket) and
`ScheduledMessage.send_at` (backoffice.automation.timers).
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .channels import Connection
from .contacts import Contact
from .users import User


class Flow(TenantMixin, db.Model):
    """A chatbot flow (AUT-2) as drawn in the editor. `draft` is the graph being edited
    (format: backoffice.automation.flows.spec); publishing copies it into an immutable
    FlowVersion, and conversations run on a version, never on the draft."""

    __tablename__ = "flow"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_flow_company_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    draft: Mapped[dict] = mapped_column(JSON, default=dict)
    # words (comma-separated) that always hand the conversation to a person
    handover_keywords: Mapped[str] = mapped_column(String(255), default="atendente")
    # a customer silent this long ends the run (then the ticket goes to the queue or closes)
    timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    timeout_message: Mapped[str | None] = mapped_column(Text)
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("flow_version.id", ondelete="SET NULL", use_alter=True,
                   name="fk_flow_published_version"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    published_version: Mapped["FlowVersion | None"] = relationship(
        foreign_keys=[published_version_id], post_update=True)

    def __str__(self) -> str:
        return self.name


class FlowVersion(TenantMixin, db.Model):
    """A published flow, never changed afterwards: a running conversation finishes on the
    version it started on."""

    __tablename__ = "flow_version"
    __table_args__ = (UniqueConstraint("flow_id", "number", name="uq_flow_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flow.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    graph: Mapped[dict] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    flow: Mapped[Flow] = relationship(foreign_keys=[flow_id])

    def __str__(self) -> str:
        return f"{self.flow.name} v{self.number}" if self.flow else f"v{self.number}"


RUN_ACTIVE = "active"          # at a node, waiting for the customer or for a wait node
RUN_DONE = "done"              # reached an end node
RUN_HANDED_OVER = "handed_over"  # transferred to people (transfer node, keyword, error)
RUN_EXPIRED = "expired"        # the customer stopped answering (Flow.timeout_minutes)
RUN_STATUSES = {
    RUN_ACTIVE: _l("Em andamento"),
    RUN_DONE: _l("Concluído"),
    RUN_HANDED_OVER: _l("Transferido para atendente"),
    RUN_EXPIRED: _l("Encerrado por inatividade"),
}


class FlowRun(TenantMixin, db.Model):
    """One conversation on one flow version: where it stands and what it has learnt.
    A ticket has at most one active run; `resume_at` is when a wait node continues or
    the run expires (mirrored into Ticket.due_at)."""

    __tablename__ = "flow_run"
    __table_args__ = (Index("ix_flow_run_ticket_status", "ticket_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    flow_version_id: Mapped[int] = mapped_column(
        ForeignKey("flow_version.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str | None] = mapped_column(String(40))
    variables: Mapped[dict] = mapped_column(JSON, default=dict)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default=RUN_ACTIVE)
    # "input": waiting for the customer's answer; "time": a wait node
    waiting_for: Mapped[str | None] = mapped_column(String(10))
    resume_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    version: Mapped[FlowVersion] = relationship()


# AUT-8 triggers ("when")
TRIGGERS: dict[str, str] = {
    "ticket_created": _l("Atendimento criado"),
    "message_received": _l("Mensagem recebida"),
    "ticket_transferred": _l("Atendimento transferido"),
    "ticket_closed": _l("Atendimento finalizado"),
    "tag_added": _l("Etiqueta adicionada"),
    "idle": _l("Atendimento parado por N minutos"),
    "manual": _l("Manual (modo de seleção do Atendimento)"),
}


class AutomationRule(TenantMixin, db.Model):
    """When (trigger) + if (conditions, all or any) + then (actions), AUT-8.

    `conditions` and `actions` are lists of dicts in the formats of
    backoffice.automation.conditions and backoffice.automation.actions. Rules of one
    trigger run in `position` order."""

    __tablename__ = "automation_rule"
    __table_args__ = (
        UniqueConstraint("company_id", "name", name="uq_automation_rule_company_name"),
        Index("ix_automation_rule_trigger", "company_id", "trigger", "active", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str] = mapped_column(String(30))
    idle_minutes: Mapped[int | None] = mapped_column(Integer)
    match: Mapped[str] = mapped_column(String(3), default="all")  # "all" / "any"
    conditions: Mapped[list] = mapped_column(JSON, default=list)
    actions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.name


SCHEDULED, SCHEDULE_SENDING, SCHEDULE_SENT, SCHEDULE_FAILED, SCHEDULE_CANCELLED = (
    "scheduled", "sending", "sent", "failed", "cancelled")
SCHEDULE_STATUSES: dict[str, str] = {
    SCHEDULED: _l("Agendada"),
    SCHEDULE_SENDING: _l("Enviando"),
    SCHEDULE_SENT: _l("Enviada"),
    SCHEDULE_FAILED: _l("Falhou"),
    SCHEDULE_CANCELLED: _l("Cancelada"),
}
REPEATS: dict[str, str] = {
    "none": _l("Não repetir"),
    "daily": _l("Todo dia"),
    "weekly": _l("Toda semana"),
    "monthly": _l("Todo mês"),
}


class ScheduledMessage(TenantMixin, db.Model):
    """A message for a contact at a date and time (AUT-5), sent through the normal queue
    at that minute. `send_at` is UTC; the screens show and take the company's local time.
    A repeating schedule moves `send_at` forward after each sending."""

    __tablename__ = "scheduled_message"
    __table_args__ = (Index("ix_scheduled_message_due", "status", "send_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"),
                                            index=True)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    # a WhatsApp template (ProviderTemplate) or a text/attachment template (MessageTemplate)
    provider_template_id: Mapped[int | None] = mapped_column(
        ForeignKey("provider_template.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("message_template.id", ondelete="SET NULL"))
    send_at: Mapped[datetime] = mapped_column()
    repeat: Mapped[str] = mapped_column(String(10), default="none")
    status: Mapped[str] = mapped_column(String(10), default=SCHEDULED)
    error: Mapped[str | None] = mapped_column(String(500))
    claimed_at: Mapped[datetime | None] = mapped_column()
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()
    connection: Mapped[Connection | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return (self.text or "")[:60] or f"#{self.id}"


SURVEY_CSAT, SURVEY_NPS = "csat", "nps"
SURVEY_SCALES: dict[str, str] = {
    SURVEY_CSAT: _l("Nota de 1 a 5"),
    SURVEY_NPS: _l("NPS, de 0 a 10"),
}
SURVEY_ASKED, SURVEY_COMMENT, SURVEY_ANSWERED, SURVEY_EXPIRED = (
    "asked", "comment", "answered", "expired")
SURVEY_STATUSES: dict[str, str] = {
    SURVEY_ASKED: _l("Aguardando nota"),
    SURVEY_COMMENT: _l("Aguardando comentário"),
    SURVEY_ANSWERED: _l("Respondida"),
    SURVEY_EXPIRED: _l("Sem resposta"),
}


class SurveyAnswer(TenantMixin, db.Model):
    """The satisfaction survey of one closed ticket (AUT-3, RAT-1): asked when the ticket
    closed, answered by the customer (score, then an optional comment) or expired."""

    __tablename__ = "survey_answer"
    __table_args__ = (UniqueConstraint("ticket_id", name="uq_survey_answer_ticket"),
                      Index("ix_survey_answer_agent", "company_id", "agent_id", "answered_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"))
    scale: Mapped[str] = mapped_column(String(4), default=SURVEY_CSAT)
    status: Mapped[str] = mapped_column(String(10), default=SURVEY_ASKED)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column()

    agent: Mapped[User | None] = relationship()
