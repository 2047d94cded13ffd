"""Importar/exportar registros (IMP-1..4, EXP-1): one record per import or export run.

The record is the job's state and its history: who ran it, on which file, how far it
got and what came out. An import commits each batch together with its progress counters
and its rejected rows (DataJobError), so a killed job has no half-written batch and a
re-run resumes after the last committed one.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .users import User

KIND_IMPORT = "import"
KIND_EXPORT = "export"

DRAFT = "draft"        # import uploaded, waiting for the user to confirm the preview
QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"

STATUSES = {
    DRAFT: _l("Aguardando confirmação"),
    QUEUED: _l("Na fila"),
    RUNNING: _l("Em andamento"),
    DONE: _l("Concluída"),
    FAILED: _l("Falhou"),
}
ACTIVE = (QUEUED, RUNNING)


class DataJob(TenantMixin, db.Model):
    __tablename__ = "data_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"),
                                                index=True)
    kind: Mapped[str] = mapped_column(String(10))
    collection: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    # the upload (import) or the result (export), under instance/uploads/<company>/data/
    file_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None] = mapped_column(Integer)
    encoding: Mapped[str | None] = mapped_column(String(20))
    delimiter: Mapped[str | None] = mapped_column(String(2))
    update_fields: Mapped[list | None] = mapped_column(JSON)  # IMP-2: None = "Não"
    filters: Mapped[dict | None] = mapped_column(JSON)        # EXP-1
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)  # records committed
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # POR-1: portal representatives the import created (and invited), beside the contacts
    invited: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return str(STATUSES.get(self.status, self.status))

    @property
    def percent(self) -> int:
        if self.status == DONE:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.processed * 100 / self.total))

    def __str__(self) -> str:
        return f"{self.kind} #{self.id}"


class DataJobError(db.Model):
    """A rejected import row: its line as Excel numbers it, why, and its cells."""

    __tablename__ = "data_job_error"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("data_job.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    cells: Mapped[list | None] = mapped_column(JSON)
