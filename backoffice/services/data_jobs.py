"""Importar/exportar registros: the job records, their files and their runs.

An import goes: upload (file stored, encoding and delimiter detected, job in "draft") ->
preview (format and column overrides) -> start (columns checked again, job queued) -> the
background job (services.importer) -> summary and rejected-rows report. An export goes:
start (collection, filters) -> the background job writes the CSV -> download.

Files live under instance/uploads/<company>/data/<random key>, never in a static folder.

SEC-3: a job is seen only by its user and, for an import, by who may see every carteira
(`find`, `history`); starting or resuming an import makes the runner its user, so the
background job applies the runner's wallet rules (services.importer), never the
uploader's.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..extensions import db
from ..jobs.runner import tasks
from ..models import DataJob, DataJobError, User, utcnow
from ..models import data_jobs as states
from ..tenancy import acting_for
from . import RuleError, exporter, importer
from ..lib import after_commit
from .contacts import fields_of
from ..lib.csvfiles import DELIMITERS, ENCODINGS, ExcelWriter, check_is_text, detect_delimiter, detect_encoding, open_for_excel, open_text, read_sample, records
from .importer import CUSTOM_PREFIX, UPDATABLE, preview
from .job_claims import claim, stale_after, stale_jobs  # noqa: F401  (re-exported)
from .templates import human_size, new_file_key

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
JOB_TIMEOUT = 6 * 3600  # a million rows takes minutes, not hours; RQ's default is 180 s
# The entry points (backoffice.jobs.data), by name: services never import jobs.
JOBS = {"import": "backoffice.jobs.data.run_import", "export": "backoffice.jobs.data.run_export"}


def max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def too_big_message() -> str:
    return str(_l("O arquivo passa do limite de %(limit)s. Divida a planilha em arquivos "
                  "menores e importe um de cada vez.", limit=human_size(max_bytes())))


def file_path(company_id: int, key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", key or ""):
        raise ValueError("bad file key")
    return Path(current_app.instance_path) / "uploads" / str(int(company_id)) / "data" / key


def job_path(job: DataJob) -> Path | None:
    if not job.file_key:
        return None
    path = file_path(job.company_id, job.file_key)
    return path if path.is_file() else None


def sees_every_job(user, kind: str) -> bool:
    """An import holds rows of any carteira: only who may see every carteira
    (WAL-1's contacts.supervise) sees other users' imports. An export holds what its
    requester may see, so it is theirs alone."""
    return kind == states.KIND_IMPORT and user.can("contacts", "supervise")


def _visible(user, kind: str):
    clause = (DataJob.company_id == user.company_id) & (DataJob.kind == kind)
    if not sees_every_job(user, kind):
        clause = clause & (DataJob.user_id == user.id)
    return clause


def find(user, job_id) -> DataJob | None:
    """A job `user` may see; None for another company's, another user's or a missing
    one alike (no oracle)."""
    job = DataJob.get_owned(user.company_id, job_id)
    if job is None:
        return None
    if job.user_id != user.id and not sees_every_job(user, job.kind):
        return None
    return job


def history(user, kind: str, limit: int = 20) -> list[DataJob]:
    """The user's last jobs of `kind` that they may see (drafts are not history)."""
    if user.company_id is None:
        return []
    return list(db.session.scalars(
        select(DataJob).where(_visible(user, kind), DataJob.status != states.DRAFT)
        .order_by(DataJob.id.desc()).limit(limit)))


# -- import --------------------------------------------------------------------------


def save_upload(user, stream, filename: str | None) -> DataJob:
    """Store an uploaded file (streamed to disk, size-limited) and make its draft job."""
    key = new_file_key()
    target = file_path(user.company_id, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    limit = max_bytes()
    size = 0
    head = b""
    tmp = target.with_suffix(".part")
    try:
        with open(tmp, "wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise RuleError(too_big_message())
                if len(head) < 4096:
                    head += chunk[:4096 - len(head)]
                out.write(chunk)
        check_is_text(head)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(target)
    encoding = detect_encoding(target)
    job = DataJob(company_id=user.company_id, user_id=user.id, kind=states.KIND_IMPORT,
                  collection="contacts", status=states.DRAFT, file_key=key,
                  file_name=(filename or "contatos.csv")[:255], file_size=size, encoding=encoding,
                  delimiter=detect_delimiter(read_sample(target, encoding)))
    db.session.add(job)
    db.session.commit()
    return job


def import_from_path(user, path: Path) -> DataJob:
    """The CLI's twin of save_upload: the same checks on a local file."""
    with open(path, "rb") as fh:
        return save_upload(user, fh, path.name)


def set_format(job: DataJob, encoding: str | None, delimiter: str | None) -> None:
    if job.status != states.DRAFT:
        raise RuleError(_l("Esta importação já foi iniciada."))
    if encoding:
        if encoding not in ENCODINGS:
            raise RuleError(_l("Codificação desconhecida."))
        job.encoding = encoding
    if delimiter:
        delimiter = "\t" if delimiter in ("tab", "\\t") else delimiter
        if delimiter not in DELIMITERS:
            raise RuleError(_l("Separador desconhecido."))
        job.delimiter = delimiter
    db.session.commit()


def updatable_fields(company_id: int) -> list[tuple[str, str]]:
    """(value, label) of the IMP-2 checkboxes: the standard columns and custom fields."""
    return ([(f.key, str(f.label)) for f in UPDATABLE]
            + [(CUSTOM_PREFIX + cf.key, cf.label) for cf in fields_of(company_id)])


def _run_as(job: DataJob, runner) -> None:
    """SEC-3: the job is now the runner's; the worker applies their carteira."""
    if runner is None:
        return
    if job.update_fields is not None and not runner.can("contacts", "edit"):
        raise RuleError(_l("Seu grupo não pode alterar contatos: escolha \"Não\" em Atualizar "
                           "registros existentes."))
    job.user_id = runner.id
    job.user = runner


def start_import(job: DataJob, update: bool, fields: list[str] | None,
                 enqueue: bool = True, runner=None,
                 columns: dict[int, str] | None = None) -> None:
    """IMP-1/IMP-2: check the columns before anything is written, then queue the job
    (enqueue=False: the caller runs it, as the CLI does). `runner` (default: the
    uploader) is whose carteira the job applies. `columns` (UX-8): the field chosen in
    the preview for each column index, "" to ignore it; a column left out is ignored;
    None keeps the detector's mapping."""
    if job.status != states.DRAFT:
        raise RuleError(_l("Esta importação já foi iniciada."))
    path = job_path(job)
    if path is None:
        raise RuleError(_l("O arquivo enviado não foi encontrado; envie de novo."))
    checked = preview(path, job.encoding, job.delimiter, job.company_id, limit=1)
    picked = None
    if columns is not None and not checked.fatal:
        width = len(checked.header)
        if any(index < 0 or index >= width for index in columns):
            raise RuleError(_l("A escolha de colunas não confere com o arquivo: leia o arquivo "
                               "de novo e escolha as colunas outra vez."))
        picked = [columns.get(index, importer.IGNORE) for index in range(width)]
        importer.chosen_mapping(checked.header, picked, fields_of(job.company_id))
    elif checked.error:
        raise RuleError(checked.error)
    if update:
        allowed = {value for value, _ in updatable_fields(job.company_id)}
        chosen = [f for f in (fields or []) if f in allowed]
        if not chosen:
            raise RuleError(_l("Marque ao menos um campo a atualizar, ou escolha \"Não\"."))
        job.update_fields = chosen
    else:
        job.update_fields = None
    _run_as(job, runner)
    busy = db.session.scalar(DataJob.owned(job.company_id, DataJob.id).where(
        DataJob.kind == states.KIND_IMPORT, DataJob.status.in_(states.ACTIVE),
        DataJob.id != job.id).limit(1))
    if busy is not None:
        raise RuleError(_l("Já há uma importação em andamento (#%(id)s). Aguarde ela terminar.",
                           id=busy))
    # An import has no filters (EXP-1's column): its chosen columns travel there, so the
    # worker and a resumed run read the file with the mapping the user confirmed.
    job.filters = {"columns": picked} if picked is not None else None
    job.status = states.QUEUED
    if enqueue:
        _enqueue(job, "import")
    else:
        db.session.commit()


def resume(job: DataJob, enqueue: bool = True, runner=None) -> None:
    """Queue a failed or stalled import again; it goes on after its last batch. A running
    one whose worker still beats is left alone (two workers on one file). `runner`
    (default: who ran it last) is whose carteira the rest applies."""
    stalled = (job.status == states.RUNNING
               and (job.heartbeat_at is None or job.heartbeat_at < utcnow() - stale_after()))
    if job.kind != states.KIND_IMPORT or not (job.status == states.FAILED or stalled):
        raise RuleError(_l("Só uma importação interrompida pode ser retomada."))
    _run_as(job, runner)
    job.status = states.QUEUED
    job.error = None
    if enqueue:
        _enqueue(job, "import")
    else:
        db.session.commit()


def _enqueue(job: DataJob, what: str) -> None:
    func = JOBS[what]
    job_id = job.id
    after_commit.later(lambda: _submit(func, job_id))
    after_commit.commit()


def _submit(func: str, job_id: int) -> None:
    try:
        tasks.enqueue(func, job_id, job_timeout=JOB_TIMEOUT)
    except Exception:  # the queue is down: the sweep queues it again later
        log.exception("could not enqueue data job %s", job_id)


def fail(job_id: int, message: str) -> None:
    db.session.rollback()
    job = db.session.get(DataJob, job_id)
    if job is not None:
        job.status = states.FAILED
        job.error = message
        job.finished_at = utcnow()
        db.session.commit()


def run_import(job_id: int) -> None:
    job = db.session.get(DataJob, job_id)
    if job is None:
        return
    path = job_path(job)
    if path is None:
        fail(job_id, str(_l("O arquivo enviado não foi encontrado.")))
        return
    try:
        importer.run(job_id, path)
    except RuleError as exc:
        fail(job_id, str(exc))
    except Exception:
        log.exception("import %s failed", job_id)
        fail(job_id, str(_l("Erro inesperado na importação. Use \"Retomar\" para continuar de "
                            "onde parou.")))


def sweep() -> int:
    """Resume imports whose worker died (no heartbeat for 5 minutes) and queue jobs that
    never reached the queue. Returns how many were queued."""
    ids = stale_jobs()
    limit = utcnow() - stale_after()
    ids += list(db.session.scalars(select(DataJob.id).where(
        DataJob.status == states.QUEUED, DataJob.created_at < limit,
        func.coalesce(DataJob.heartbeat_at, DataJob.created_at) < limit)))
    for job_id in ids:
        job = db.session.get(DataJob, job_id)
        with acting_for(job.company_id):
            job.status = states.QUEUED
            job.heartbeat_at = utcnow()
            _enqueue(job, "import" if job.kind == states.KIND_IMPORT else "export")
    return len(ids)


def skipped(job: DataJob) -> int:
    """Blank lines read so far (UX-8): every other line read is created, updated,
    unchanged or rejected, committed together with `processed`, so the summary adds up
    to the lines of the file."""
    if job.kind != states.KIND_IMPORT:
        return 0
    return max(0, (job.processed or 0) - (job.created or 0) - (job.updated or 0)
               - (job.unchanged or 0) - (job.rejected or 0))


def first_rejections(job: DataJob, limit: int = 20) -> list[dict]:
    """The first rejected rows with their Excel line and reason, shown on the job's
    screen (UX-8); the whole list is the downloadable report."""
    return [{"line": line, "reason": reason} for line, reason in db.session.execute(
        select(DataJobError.line, DataJobError.reason).where(DataJobError.job_id == job.id)
        .order_by(DataJobError.line, DataJobError.id).limit(limit))]


def report_rows(job: DataJob) -> Iterator[list[str]]:
    """The rejected rows: "Linha", "Motivo", then the file's own columns, so the user
    can fix the report in Excel and import it again (the two extra columns are ignored)."""
    header: list[str] = []
    path = job_path(job)
    if path is not None:
        with open_text(path, job.encoding) as fh:
            for cells in records(fh, job.delimiter):
                if any(c.strip() for c in cells):
                    header = cells
                    break
    yield [str(_l("Linha")), str(_l("Motivo")), *header]
    q = (select(DataJobError.line, DataJobError.reason, DataJobError.cells)
         .where(DataJobError.job_id == job.id).order_by(DataJobError.line)
         .execution_options(yield_per=1000))
    for line, reason, cells in db.session.execute(q):
        yield [str(line), reason, *(cells or [])]


def stream_csv(rows) -> Iterator[str]:
    """Rows as Excel CSV text, chunk by chunk (a report can have a million lines)."""
    import io

    buf = io.StringIO()
    buf.write("\ufeff")
    writer = ExcelWriter(buf)
    for n, row in enumerate(rows, 1):
        writer.row(row)
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


# -- export --------------------------------------------------------------------------


def start_export(user, collection: str, filters: dict, enqueue: bool = True) -> DataJob:
    """Record an export and queue it (enqueue=False: the caller runs it, as the CLI does)."""
    filters = exporter.check(user, collection, filters)  # RuleError: unknown, forbidden, bad filter
    job = DataJob(company_id=user.company_id, user_id=user.id, kind=states.KIND_EXPORT,
                  collection=collection, status=states.QUEUED, filters=filters,
                  encoding="utf-8-sig", delimiter=";")
    db.session.add(job)
    db.session.flush()
    if enqueue:
        _enqueue(job, "export")
    else:
        db.session.commit()
    return job


def run_export(job_id: int) -> None:
    if not claim(job_id):
        return
    job = db.session.get(DataJob, job_id)
    user = db.session.get(User, job.user_id) if job.user_id else None
    tmp = None
    try:
        if user is None or not user.is_active:
            raise RuleError(_l("O usuário que pediu a exportação não está mais ativo."))
        key = job.file_key or new_file_key()
        target = file_path(job.company_id, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        job.started_at = utcnow()
        header, total, rows = exporter.rows(user, job.collection, job.filters or {})
        job.total = total
        db.session.commit()
        tmp = target.with_suffix(".part")
        done = 0
        with open_for_excel(tmp) as out:
            writer = ExcelWriter(out)
            writer.row(header)
            for row in rows:
                writer.row(row)
                done += 1
                if done % 2000 == 0:
                    _export_progress(job_id, done)
        tmp.replace(target)
        job = db.session.get(DataJob, job_id)
        job.file_key, job.file_name = key, exporter.file_name(job.collection)
        job.file_size = target.stat().st_size
        job.processed = job.total = job.created = done
        job.status, job.finished_at = states.DONE, utcnow()
        db.session.commit()
    except RuleError as exc:
        fail(job_id, str(exc))
    except Exception:
        log.exception("export %s failed", job_id)
        fail(job_id, str(_l("Erro inesperado na exportação. Tente de novo.")))
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _export_progress(job_id: int, done: int) -> None:
    # exporter.rows reads page by page (keyset), holding no cursor between pages, so
    # the progress can be committed in the same session.
    db.session.execute(DataJob.__table__.update().where(DataJob.__table__.c.id == job_id)
                       .values(processed=done, heartbeat_at=utcnow()))
    db.session.commit()
