"""Contact import (IMP-1..IMP-4): header mapping, row rules and the batched upsert.

The file is streamed record by record and written in batches: per batch one lookup of
the existing contacts (by phone or CPF/CNPJ), one multi-row INSERT, one UPDATE per set of
changed columns, and the tag links, never a query per row. On PostgreSQL (SCL-4) the
lookup binds the batch's phones and documents as two arrays, the new contacts take their
ids from the sequence first so that contacts and tag links both go in by COPY, and each
set of changed columns is one UPDATE ... FROM unnest(arrays) (lib/bulk.py). While the
server indexes a batch's new contacts, the job reads and checks the next batch (`run`):
the one thread works instead of waiting on the COPY.

A batch after one that matched no existing contact skips its lookup (`_flush`): an import
of new contacts then pays for no lookup it does not need. The unique (company, phone) and
(company, document) indexes still guard every row: should one match a saved contact after
all, its batch is refused whole and done again with the lookup, under every rule. Such a
batch needs no database to be resolved, so it is resolved while the server writes the
tag links of the batch before (`_resolve_ahead`).

Each batch commits together with the job's counters and its rejected rows, so a job
killed midway leaves whole batches only, and `run` again resumes after the last
committed one. A file
imported twice changes nothing the second time: every row then matches a contact whose
values are already the file's.

Matching: a row is the contact with its phone (E.164) or its CPF/CNPJ. With "Atualizar
registros existentes" = Não a matched contact stays as saved (counted "sem alteração");
with Sim only the ticked fields change, and a blank cell never erases a saved value.
Rows repeated in the file follow the same rule (the first creates, the next ones match it).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import (Integer, String, and_, bindparam, delete, func, insert, select, text,
                        union_all, update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from .. import events
from ..extensions import db
from ..lib import after_commit
from ..models import Contact, ContactField, DataJob, DataJobError, Tag, User, contact_tag, utcnow
from ..models import data_jobs as states
from . import RuleError
from ..lib.bulk import among, insert_rows, insert_tuples, next_ids, update_rows
from .contacts import fields_of, normalise_email, person_type_of, wallets_apply
from ..lib.csvfiles import fold, open_text, records
from ..lib.documents import normalise_document
from .contact_columns import BY_ALIAS, FIELDS, PORTAL_FIELDS, Field  # noqa: F401  (FIELDS re-exported)
from .job_claims import claim
from .portal import importing as portal_rows
from .portal.settings import base_url
from ..lib.phones import normalise_phone

log = logging.getLogger(__name__)

# Rows per batch (one transaction each) unless IMPORT_BATCH_SIZE says otherwise. On
# PostgreSQL 5000: each batch's COPYs, lookups and commit cost the server about 15% less
# CPU than at 1000 (bench/import.py, 100k rows) and the 1M-row import stays near 175 MB.
# On SQLite 1000: at 5000 the 1M-row import peaks near 290 MB, over the 200 MB bound.
DEFAULT_BATCH = 1000
DEFAULT_BATCH_POSTGRESQL = 5000


REQUIRED = tuple(f for f in FIELDS if f.required)
# IMP-2: what "Atualizar registros existentes" can tick (the phone and the document are
# also how a row finds its contact; ticking them lets a row found by the other one fix it).
UPDATABLE = tuple(f for f in FIELDS if f.key != "person_type")
CUSTOM_PREFIX = "cf:"
MAX_NAME = 120
MAX_TAG = 50


# -- header --------------------------------------------------------------------------


@dataclass
class Mapping:
    columns: dict[str, int] = field(default_factory=dict)   # field key -> column index
    custom: dict[str, int] = field(default_factory=dict)    # ContactField.key -> index
    ignored: list[str] = field(default_factory=list)        # header cells not used

    @property
    def missing(self) -> list[Field]:
        return [f for f in REQUIRED if f.key not in self.columns]


def map_header(header: list[str], custom_fields: list[ContactField]) -> Mapping:
    by_key = {cf.key: cf for cf in custom_fields}
    mapping = Mapping()
    for index, cell in enumerate(header):
        folded = fold(cell)
        if not folded:
            continue  # trailing separators make nameless columns
        known = BY_ALIAS.get(folded)
        if known and known.key not in mapping.columns:
            mapping.columns[known.key] = index
        elif folded in by_key and folded not in mapping.custom:
            mapping.custom[folded] = index
        else:
            mapping.ignored.append(cell.strip())
    return mapping


IGNORE = ""  # the value of "Ignorar esta coluna" in the preview's column selects


def choices(custom_fields: list[ContactField]) -> list[tuple[str, str]]:
    """(value, label) a file column can be assigned to in the preview (UX-8): the
    built-in fields, then the company's custom ones."""
    return ([(f.key, str(f.label)) for f in FIELDS]
            + [(CUSTOM_PREFIX + cf.key, cf.label) for cf in custom_fields]
            + [(f.key, str(f.label)) for f in PORTAL_FIELDS])


def assignments(mapping: Mapping, width: int) -> list[str]:
    """What each of the `width` header columns is assigned to (IGNORE for none): the
    detector's guess the preview's selects start from."""
    out = [IGNORE] * width
    for key, index in mapping.columns.items():
        out[index] = key
    for key, index in mapping.custom.items():
        out[index] = CUSTOM_PREFIX + key
    return out


def _column_name(header: list[str], index: int) -> str:
    name = header[index].strip() if index < len(header) else ""
    return name or str(_l("coluna %(n)s", n=index + 1))


def chosen_mapping(header: list[str], chosen: list[str],
                   custom_fields: list[ContactField]) -> Mapping:
    """The user's choice of field per column (UX-8) as a Mapping. RuleError, before
    anything is written, for a field that does not exist, a field chosen for two columns
    or a required field left without a column."""
    if len(chosen) > len(header):
        raise RuleError(_l("A escolha de colunas não confere com o arquivo: leia o arquivo "
                           "de novo e escolha as colunas outra vez."))
    labels = dict(choices(custom_fields))
    by_key = {cf.key for cf in custom_fields}
    mapping = Mapping()
    taken: dict[str, int] = {}
    for index, value in enumerate(chosen):
        value = (value or "").strip()
        if value == IGNORE:
            if header[index].strip():
                mapping.ignored.append(header[index].strip())
            continue
        if value not in labels:
            raise RuleError(_l("Campo desconhecido escolhido para a coluna \"%(column)s\".",
                               column=_column_name(header, index)))
        if value in taken:
            raise RuleError(_l("O campo %(field)s foi escolhido para duas colunas (\"%(a)s\" e "
                               "\"%(b)s\"). Escolha uma só coluna para cada campo.",
                               field=labels[value], a=_column_name(header, taken[value]),
                               b=_column_name(header, index)))
        taken[value] = index
        if value.startswith(CUSTOM_PREFIX) and value[len(CUSTOM_PREFIX):] in by_key:
            mapping.custom[value[len(CUSTOM_PREFIX):]] = index
        else:
            mapping.columns[value] = index
    if mapping.missing:
        names = ", ".join(str(f.label) for f in mapping.missing)
        raise RuleError(_l("Escolha a coluna dos campos obrigatórios: %(names)s.", names=names))
    return mapping


def missing_message(mapping: Mapping) -> str | None:
    if not mapping.missing:
        return None
    names = ", ".join(str(f.label) for f in mapping.missing)
    return str(_l("Faltam colunas obrigatórias: %(names)s. Baixe o modelo para ver as colunas "
                  "esperadas.", names=names))


def template_rows(custom_fields: list[ContactField]) -> list[list[str]]:
    header = [str(f.label) for f in FIELDS] + [cf.label for cf in custom_fields]
    example = [f.example for f in FIELDS] + ["" for _ in custom_fields]
    return [header, example]


# -- preview -------------------------------------------------------------------------


@dataclass
class Preview:
    header: list[str]
    rows: list[list[str]]
    mapping: Mapping
    error: str | None
    # the error is the file's (empty, header only), not the detected mapping's: choosing
    # the columns in the preview cannot fix it
    fatal: bool = False


def preview(path: Path, encoding: str, delimiter: str, company_id: int, limit: int = 10) -> Preview:
    """The header, the first `limit` non-blank rows and how the columns map."""
    with open_text(path, encoding) as fh:
        reader = records(fh, delimiter)
        header = _first_record(reader)
        rows = []
        for cells in reader:
            if any(map(str.strip, cells)):
                rows.append(cells)
                if len(rows) >= limit:
                    break
    mapping = map_header(header or [], fields_of(company_id))
    error, fatal = None, True
    if not header:
        error = str(_l("O arquivo está vazio."))
    elif not rows:
        error = str(_l("O arquivo só tem o cabeçalho: nenhuma linha para importar."))
    else:
        error, fatal = missing_message(mapping), False
    return Preview(header or [], rows, mapping, error, fatal and error is not None)


def _first_record(reader) -> list[str] | None:
    return _header(reader)[0]


def _header(reader) -> tuple[list[str] | None, int]:
    """The first non-blank record and its Excel row number (blank rows may precede it)."""
    for row, cells in enumerate(reader, 1):
        if any(map(str.strip, cells)):
            return cells, row
    return None, 0


def count_records(path: Path, encoding: str, delimiter: str) -> tuple[int, int]:
    """(records after the header, blank ones among them) — the progress bar's total."""
    total = blank = 0
    with open_text(path, encoding) as fh:
        reader = records(fh, delimiter)
        if _first_record(reader) is None:
            return 0, 0
        for cells in reader:
            total += 1
            if not any(map(str.strip, cells)):
                blank += 1
    return total, blank


# -- rows ----------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    person_type: str | None = None
    document: str | None = None
    tags: list[str] | None = None     # folded names; None = blank cell
    tag_names: dict[str, str] = field(default_factory=dict)  # folded -> as written
    owner_id: int | None = None
    notes: str | None = None
    custom: dict[str, str] = field(default_factory=dict)
    portal: portal_rows.Membership | None = None  # POR-1: becomes this client's representative


class Context:
    """What one job knows across batches: the company's users and tags, the mapping."""

    def __init__(self, job: DataJob, mapping: Mapping):
        self.job = job
        # a plain value: reading job.id after a commit would SELECT the expired job again
        # for every rejected row
        self.job_id = job.id
        self.company_id = job.company_id
        self.mapping = mapping
        self.update_fields = set(job.update_fields) if job.update_fields is not None else None
        users = db.session.scalars(select(User).where(User.company_id == job.company_id))
        self.owners: dict[str, int] = {}
        for user in users:
            self.owners.setdefault(fold(user.name), user.id)
            self.owners[user.email.lower()] = user.id
        self.tags: dict[str, int] = {
            fold(name): tid for tid, name in db.session.execute(
                Tag.owned(job.company_id, Tag.id, Tag.name).where(Tag.owner_id.is_(None)))}
        # Carteira (WAL-1, SEC-3): a job's user is who ran it (data_jobs.start_import,
        # resume), not who uploaded the file. Limited to their own wallet, they neither
        # see nor change contacts of other wallets, and what they create goes into theirs.
        self.wallet_user: int | None = None
        if job.user is not None and wallets_apply(job.user):
            self.wallet_user = job.user.id
        self.postgresql = db.session.get_bind().dialect.name == "postgresql"
        self.plan_cache_mode = (db.session.scalar(text("SELECT current_setting('plan_cache_mode')"))
                                if self.postgresql else None)
        self.portal = (portal_rows.Representatives(job.company_id, base_url())
                       if any(k in mapping.columns for k in portal_rows.KEYS) else None)
        self.look_up = True  # the next batch's lookup (importer._flush)
        # bumped by every rolled-back attempt: a batch resolved ahead before it is stale
        self.generation = 0

    def hidden(self, rec: dict) -> bool:
        return self.wallet_user is not None and rec["owner_id"] not in (None, self.wallet_user)


def unquote(value: str) -> str:
    """Undo our own CSV-injection guard: a report or export cell "'+55 11..." fixed in
    Excel and imported again means "+55 11..."."""
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@"):
        return value[1:]
    return value


def parse_row(ctx: Context, line: int, cells: list[str]) -> Row:
    """A Row, or RuleError with the reason the row is rejected."""
    cols = ctx.mapping.columns

    def cell(key: str) -> str:
        index = cols.get(key)
        if index is None or index >= len(cells):
            return ""
        return unquote(cells[index].strip())

    row = Row(line=line)
    row.name = " ".join(cell("name").split()) or None
    if not row.name:
        raise RuleError(_l("Nome em branco."))
    if len(row.name) > MAX_NAME:
        raise RuleError(_l("Nome com mais de %(n)s caracteres.", n=MAX_NAME))
    raw_phone = cell("phone")
    if not raw_phone:
        raise RuleError(_l("Telefone em branco."))
    try:
        row.phone = normalise_phone(raw_phone)
    except RuleError:
        raise RuleError(_l("Telefone inválido: \"%(value)s\".", value=raw_phone[:40]))
    row.email = normalise_email(cell("email"))
    row.person_type = person_type_of(cell("person_type"))
    row.document, row.person_type = normalise_document(cell("document"), row.person_type)
    tags = cell("tags")
    if tags:
        row.tags = []
        for name in re.split(r"[,;|]", tags):
            name = " ".join(name.split())
            if not name:
                continue
            if len(name) > MAX_TAG:
                raise RuleError(_l("Etiqueta com mais de %(n)s caracteres.", n=MAX_TAG))
            key = fold(name)
            if key and key not in row.tag_names:
                row.tags.append(key)
                row.tag_names[key] = name
    owner = cell("owner")
    if owner:
        row.owner_id = ctx.owners.get(owner.lower()) or ctx.owners.get(fold(owner))
        if row.owner_id is None:
            raise RuleError(_l("Carteira: nenhum usuário da empresa com o e-mail ou nome "
                               "\"%(value)s\".", value=owner[:60]))
    row.notes = cell("notes") or None
    for key, index in ctx.mapping.custom.items():
        value = unquote(cells[index].strip()) if index < len(cells) else ""
        if value:
            row.custom[key] = value
    if ctx.portal is not None:
        row.portal = ctx.portal.read(cell(portal_rows.ORGANIZATION), cell(portal_rows.CNPJ),
                                     row.email)
    return row


# -- batches -------------------------------------------------------------------------

COLUMNS = ("name", "phone", "email", "person_type", "document", "owner_id", "notes",
           "custom_fields")


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    invited: int = 0  # POR-1: representatives created, their invitations mailed


class Batch:
    """One batch's rows resolved against the database, then written in a few statements."""

    def __init__(self, ctx: Context, ahead: bool = False):
        self.ctx = ctx
        self.ahead = ahead  # resolved during another batch's COPY: no statement allowed
        self.generation = ctx.generation
        self.outcome = Outcome()
        self.errors: list[dict] = []
        self.new: list[dict] = []          # contact rows to INSERT (+ "_tags")
        self.changed: dict[int, dict] = {}  # contact id -> {column: value} (+ "_tags")
        self.by_phone: dict[str, dict] = {}
        self.by_doc: dict[str, dict] = {}
        self.members: list[tuple[dict, portal_rows.Membership]] = []  # POR-1
        self.matched = 0  # saved contacts the lookup found (none when it was skipped)

    def reject(self, line: int, reason, cells: list[str]) -> None:
        self.outcome.rejected += 1
        self.errors.append({"job_id": self.ctx.job_id, "line": line, "reason": str(reason),
                            "cells": cells})

    def load_existing(self, rows: list[Row]) -> None:
        """The contacts the rows' phones and documents match."""
        phones = sorted({r.phone for r in rows})
        docs = sorted({r.document for r in rows if r.document})
        cols = [Contact.id, *(getattr(Contact, c) for c in COLUMNS)]
        company = Contact.company_id == self.ctx.company_id
        found = {}
        if self.ctx.postgresql:
            # One statement: each key probes the unique (company, phone) or (company,
            # document) index from unnest(array). `phone = ANY(:phones) OR document =
            # ANY(:docs)` was planned as a scan of the company's contacts once the table
            # held some 50k of them (a 1000-value array looks like many rows).
            def keyed(column, values):
                keys = func.unnest(bindparam(None, values, type_=ARRAY(String))).table_valued(
                    "key").render_derived()
                return select(*cols).select_from(keys).join(Contact, and_(company, column == keys.c.key))

            parts = [keyed(Contact.phone, phones)] if phones else []
            if docs:
                parts.append(keyed(Contact.document, docs))
            if parts:
                stmt = parts[0] if len(parts) == 1 else union_all(*parts)
                found = {r.id: r for r in db.session.execute(stmt)}
        else:
            # SQLite would scan the company's contacts for an OR: two queries
            for column, values in ((Contact.phone, phones), (Contact.document, docs)):
                if values:
                    found.update({r.id: r for r in db.session.execute(
                        select(*cols).where(company, column.in_(values)))})
        self.matched = len(found)
        tags: dict[int, set[int]] = {cid: set() for cid in found}
        if found and self.ctx.update_fields and "tags" in self.ctx.update_fields:
            for cid, tid in db.session.execute(
                    select(contact_tag.c.contact_id, contact_tag.c.tag_id)
                    .where(among(contact_tag.c.contact_id, found, Integer))):
                tags[cid].add(tid)
        if self.ctx.postgresql:
            # The lookups above are the only statements that want custom plans: every
            # batch sends the same SQL text, psycopg prepares it, and PostgreSQL would
            # soon pick a generic plan (a scan of the company's contacts instead of index
            # lookups). Back to the server's mode before the writes: under
            # force_custom_plan the foreign-key checks of every inserted row (company,
            # contact, tag) would be planned again each time, doubling the server's work.
            db.session.execute(text("SELECT set_config('plan_cache_mode', :mode, true)"),
                               {"mode": self.ctx.plan_cache_mode})
        for cid, r in found.items():
            rec = {"id": cid, **{c: getattr(r, c) for c in COLUMNS}, "_tags": tags[cid]}
            rec["custom_fields"] = dict(rec["custom_fields"] or {})
            self.by_phone[rec["phone"]] = rec
            if rec["document"]:
                self.by_doc[rec["document"]] = rec

    def resolve(self, row: Row, cells: list[str]) -> None:
        by_phone = self.by_phone.get(row.phone)
        by_doc = self.by_doc.get(row.document) if row.document else None
        rec = by_phone or by_doc
        if rec is not None and any(self.ctx.hidden(r) for r in (by_phone, by_doc) if r):
            self.reject(row.line, _l("O contato já está cadastrado na carteira de outro "
                                     "usuário."), cells)
            return
        if by_phone is not None and by_doc is not None and by_phone is not by_doc:
            self.reject(row.line, _l("O telefone é de um contato (%(a)s) e o CPF/CNPJ de outro "
                                     "(%(b)s).", a=by_phone["name"], b=by_doc["name"]), cells)
            return
        if rec is None:
            self.create(row)
            rec = self.new[-1]
        elif self.ctx.update_fields is None:
            self.outcome.unchanged += 1
        elif self.apply(rec, row):
            self.outcome.updated += 1
        else:
            self.outcome.unchanged += 1
        if row.portal is not None:
            # the contact's record as the batch leaves it (its e-mail; its id once written)
            self.members.append((rec, row.portal))

    def create(self, row: Row) -> None:
        rec = {"id": None, "name": row.name, "phone": row.phone, "email": row.email,
               "person_type": row.person_type, "document": row.document,
               "owner_id": self.ctx.wallet_user or row.owner_id, "notes": row.notes,
               "custom_fields": dict(row.custom), "_tags": set(self.tag_ids(row))}
        self.new.append(rec)
        self.by_phone[row.phone] = rec
        if row.document:
            self.by_doc[row.document] = rec
        self.outcome.created += 1

    def apply(self, rec: dict, row: Row) -> bool:
        """Ticked fields with a value in the row, onto a found contact; True if any changed."""
        wanted: dict = {}
        ticked = self.ctx.update_fields
        for key in ("name", "phone", "email", "notes"):
            value = getattr(row, key)
            if key in ticked and value is not None and value != rec[key]:
                wanted[key] = value
        if "document" in ticked and row.document and row.document != rec["document"]:
            wanted["document"], wanted["person_type"] = row.document, row.person_type
        if ("owner" in ticked and row.owner_id is not None and row.owner_id != rec["owner_id"]
                and self.ctx.wallet_user is None):
            wanted["owner_id"] = row.owner_id
        custom = {k: v for k, v in row.custom.items()
                  if CUSTOM_PREFIX + k in ticked and rec["custom_fields"].get(k) != v}
        if custom:
            wanted["custom_fields"] = {**rec["custom_fields"], **custom}
        if "tags" in ticked and row.tags is not None:
            tag_ids = set(self.tag_ids(row))
            if tag_ids != rec["_tags"]:
                wanted["_tags"] = tag_ids
        if not wanted:
            return False
        if "phone" in wanted:
            self.by_phone.pop(rec["phone"], None)
            self.by_phone[wanted["phone"]] = rec
        if "document" in wanted:
            self.by_doc.pop(rec["document"], None)
            self.by_doc[wanted["document"]] = rec
        rec.update(wanted)
        if rec["id"] is not None:
            self.changed.setdefault(rec["id"], {}).update(wanted)
        return True

    def tag_ids(self, row: Row) -> list[int]:
        """Ids of the row's tags; a company tag the file names but nobody made yet is
        created (in this batch's transaction)."""
        ids = []
        for key in row.tags or ():
            tid = self.ctx.tags.get(key)
            if tid is None:
                if self.ahead:
                    raise _NeedsDatabase
                tid = db.session.execute(insert(Tag).values(
                    company_id=self.ctx.company_id, name=row.tag_names[key], owner_id=None,
                    color="#3c8dbc", created_at=utcnow()).returning(Tag.id)).scalar_one()
                self.ctx.tags[key] = tid
            ids.append(tid)
        return ids

    def write(self, meanwhile: Callable[[], object] | None = None,
              then: Callable[[Batch], object] | None = None) -> None:
        """`meanwhile` during the contacts' COPY, `then(self)` during the tag links' one:
        see lib.bulk.insert_tuples (either may not run)."""
        now = utcnow()
        if self.new:
            ids = next_ids(Contact.__table__, len(self.new))
            if ids is not None:  # PostgreSQL: the ids first, then contacts and links by COPY
                for rec, cid in zip(self.new, ids):
                    rec["id"] = cid
            # Every row with every column (the ORM's bulk insert would leave out the None
            # values, making a statement per run of rows with the same blanks).
            company = self.ctx.company_id
            rows = [(company, now, now, rec["name"], rec["phone"], rec["email"],
                     rec["person_type"], rec["document"], rec["owner_id"], rec["notes"],
                     rec["custom_fields"] or None) for rec in self.new]
            columns = ["company_id", "created_at", "updated_at", *COLUMNS]
            if ids is not None:
                columns.insert(0, "id")
                rows = [(cid, *row) for cid, row in zip(ids, rows)]
            insert_tuples(Contact.__table__, columns, rows, meanwhile=meanwhile)
            tagged = [rec for rec in self.new if rec["_tags"]]
            # SQLite: the new contacts' ids, read back for their tag links and their
            # portal accounts (PostgreSQL took them from the sequence)
            unknown = [rec for rec in tagged + [rec for rec, _m in self.members]
                       if rec["id"] is None] if ids is None else []
            if unknown:
                found = dict(db.session.execute(
                    Contact.owned(self.ctx.company_id, Contact.phone, Contact.id).where(
                        among(Contact.phone, [rec["phone"] for rec in unknown]))).all())
                for rec in unknown:
                    rec["id"] = found[rec["phone"]]
            insert_tuples(contact_tag, ["contact_id", "tag_id"],
                          [(rec["id"], tid) for rec in tagged for tid in rec["_tags"]],
                          meanwhile=(lambda: then(self)) if then is not None else None)
        groups: dict[tuple[str, ...], list[dict]] = {}
        retag: dict[int, set[int]] = {}
        for cid, wanted in self.changed.items():
            if "_tags" in wanted:
                retag[cid] = wanted.pop("_tags")
            if wanted:
                groups.setdefault(tuple(sorted(wanted)), []).append({"_id": cid, **wanted})
        for columns, params in groups.items():
            update_rows(Contact.__table__, columns, params, {"updated_at": now})
        if retag:
            db.session.execute(delete(contact_tag).where(
                among(contact_tag.c.contact_id, retag, Integer)))
            insert_rows(contact_tag, [{"contact_id": cid, "tag_id": tid}
                                      for cid, tids in retag.items() for tid in tids])
        insert_rows(DataJobError.__table__, self.errors)
        if self.members:
            self.outcome.invited = self.ctx.portal.write(self.members)
        if self.new or self.changed:
            # the integrations' contact.created / contact.updated (webhooks.outbox), in
            # this batch's transaction: a rolled-back batch announces nothing
            events.emit("contacts.imported", company_id=self.ctx.company_id,
                        created_phones=[rec["phone"] for rec in self.new],
                        updated_ids=list(self.changed))


Parsed = list[tuple[int, list[str], "Row | RuleError"]]


def parse_items(ctx: Context, items: list[tuple[int, list[str]]]) -> Parsed:
    """(line, cells, Row or the RuleError rejecting it) for each (line, cells). Parsed
    once per batch: a batch retried after a concurrent insert (_flush) is not parsed
    again."""
    parsed: Parsed = []
    for line, cells in items:
        try:
            parsed.append((line, cells, parse_row(ctx, line, cells)))
        except RuleError as exc:
            # a fresh error with the same (lazy) message: the raised one's traceback, and
            # that of the error it replaced, would tie this whole batch into a reference
            # cycle through the frames, kept in memory until the cyclic collector runs
            parsed.append((line, cells, RuleError(*exc.args)))
    return parsed


def _batch_settings(ctx: Context, lookup: bool) -> None:
    if ctx.postgresql:
        # force_custom_plan for the lookup only: see Batch.load_existing. No parallel
        # workers for a lookup of a thousand index probes (they cost more to start than
        # they save). No wait for the WAL flush at each batch's commit: should the
        # database server crash, a batch lost this way is lost together with its progress
        # counter (same transaction), so the resumed job writes it again; nothing is
        # half-written.
        db.session.execute(text(
            "SELECT set_config('plan_cache_mode', :mode, true), "
            "set_config('max_parallel_workers_per_gather', '0', true), "
            "set_config('synchronous_commit', 'off', true)"),
            {"mode": "force_custom_plan" if lookup else ctx.plan_cache_mode})


class _NeedsDatabase(Exception):
    """A batch resolved ahead names a tag nobody made yet (it is resolved again in its
    own turn, which creates the tag)."""


def resolve_batch(ctx: Context, parsed: Parsed, lookup: bool = True,
                  ahead: bool = False) -> Batch:
    """Resolve one batch, nothing written yet (a new tag excepted, never `ahead`):
    against the saved contacts it matches when `lookup`, else as if there were none (see
    `_flush`)."""
    batch = Batch(ctx, ahead)
    rows: list[tuple[Row, list[str]]] = []
    for line, cells, row in parsed:
        if isinstance(row, RuleError):
            batch.reject(line, row, cells)
        else:
            rows.append((row, cells))
    if lookup:
        batch.load_existing([r for r, _ in rows])
    for row, cells in rows:
        batch.resolve(row, cells)
    return batch


def process_batch(ctx: Context, parsed: Parsed,
                  meanwhile: Callable[[], object] | None = None, lookup: bool = True,
                  resolved: Batch | None = None,
                  then: Callable[[Batch], object] | None = None) -> Batch:
    """Resolve (unless `resolved` already is) and write one batch (no commit); `parsed`
    comes from parse_items. `meanwhile`, `then`: see Batch.write."""
    _batch_settings(ctx, lookup)
    batch = resolved if resolved is not None else resolve_batch(ctx, parsed, lookup)
    batch.write(meanwhile, then)
    return batch


def _resolve_ahead(ctx: Context, upcoming: _Later, current: Batch) -> Batch | None:
    """The next batch resolved while `current`'s tag links are written, when it will skip
    its lookup (`current` matched no saved contact): without a lookup resolving needs no
    database, unless a row names a tag nobody made yet (None: resolved in its turn).
    Runs inside the COPY: an error is kept by the caller's _Later, never raised here.
    Never called for an import that creates portal representatives (`run`)."""
    if current.matched:
        return None
    found = upcoming.result()
    if found is None:
        return None
    try:
        return resolve_batch(ctx, found[0], lookup=False, ahead=True)
    except _NeedsDatabase:
        return None


# -- the job -------------------------------------------------------------------------


def batch_size() -> int:
    configured = current_app.config.get("IMPORT_BATCH_SIZE")
    if configured:
        return int(configured)
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    return DEFAULT_BATCH_POSTGRESQL if postgresql else DEFAULT_BATCH


def _commit_progress(job_id: int, consumed: int, outcome: Outcome) -> None:
    db.session.execute(update(DataJob).where(DataJob.id == job_id).values(
        processed=DataJob.processed + consumed, created=DataJob.created + outcome.created,
        updated=DataJob.updated + outcome.updated, unchanged=DataJob.unchanged + outcome.unchanged,
        rejected=DataJob.rejected + outcome.rejected,
        invited=DataJob.invited + outcome.invited, heartbeat_at=utcnow()))
    after_commit.commit()  # then the batch's portal invitations (POR-1) are mailed


class Statistics:
    """PostgreSQL plans the batch lookups from table statistics, and an import grows the
    table faster than autovacuum refreshes them (or autovacuum is off): with stale ones
    the lookups scan every contact of the company. ANALYZE after the first batch when
    the table has never been analysed, and whenever the contacts this import created
    have doubled since the last ANALYZE, each time before a batch that looks up (`run`:
    batches that skip their lookup need none). A re-import that creates nothing changes
    no distribution and runs none (each costs a 30,000-row sample of the table)."""

    def __init__(self):
        self.enabled = db.session.get_bind().dialect.name == "postgresql"
        self.next_at = 1
        if self.enabled:
            never = db.session.scalar(text(
                "SELECT NOT EXISTS (SELECT 1 FROM pg_stats WHERE schemaname = current_schema() "
                "AND tablename = 'contact' AND attname = 'phone')"))
            db.session.commit()
            self.next_at = 0 if never else 1

    def written(self, created: int) -> None:
        if not self.enabled or created < self.next_at:
            return
        db.session.execute(text("ANALYZE contact, contact_tag"))
        db.session.commit()
        self.next_at = max(created * 2, 1)


def _flush(ctx: Context, parsed: Parsed, consumed: int,
           meanwhile: Callable[[], object] | None = None, resolved: Batch | None = None,
           then: Callable[[Batch], object] | None = None) -> Outcome:
    """One batch in one transaction, retried once if a concurrent write took a phone or
    document between our lookup and our insert (the retry sees it as existing).

    Without its lookup when the batch before matched no saved contact (`ctx.look_up`
    false): a row that matches one after all breaks a unique index, the COPY fails whole
    and the batch is done again with its lookup, as any other (the retry for a
    concurrent write included). A batch that matched contacts has the next one looked
    up; so has every batch of an import that creates portal representatives, whose
    reader a retry resets.

    `resolved`: this batch as `_resolve_ahead` left it, used by an attempt without lookup
    unless an attempt was rolled back since. `meanwhile`, `then`: see Batch.write."""
    lookups = (True, True) if ctx.look_up else (False, True, True)
    for attempt, lookup in enumerate(lookups, 1):
        ready = resolved if (resolved is not None and not lookup
                             and resolved.generation == ctx.generation) else None
        try:
            batch = process_batch(ctx, parsed, meanwhile, lookup, ready, then)
            _commit_progress(ctx.job.id, consumed, batch.outcome)
            ctx.look_up = ctx.portal is not None or batch.matched > 0
            return batch.outcome
        except IntegrityError:
            db.session.rollback()
            ctx.generation += 1
            ctx.tags = {fold(n): t for t, n in db.session.execute(
                Tag.owned(ctx.company_id, Tag.id, Tag.name).where(Tag.owner_id.is_(None)))}
            if ctx.portal is not None:
                ctx.portal.forget()
            if attempt == len(lookups):
                raise


def _batches(reader, skip: int, size: int, header_row: int):
    """(items, consumed) per batch of `size` records after the first `skip`: items are
    the non-blank records as (Excel row number, cells); consumed counts blanks too (the
    progress counter a resumed job skips by)."""
    items: list[tuple[int, list[str]]] = []
    consumed = 0
    for index, cells in enumerate(reader):
        if index < skip:
            continue
        consumed += 1
        if any(map(str.strip, cells)):
            items.append((header_row + 1 + index, cells))  # Excel's row number
        if consumed >= size:
            yield items, consumed
            items, consumed = [], 0
    if consumed:
        yield items, consumed


class _Later:
    """Some work done once, when first asked for: by the batch's COPY while the server
    indexes the rows (lib.bulk.insert_tuples), or by the loop afterwards; with the
    arguments of whoever runs it first. An exception is kept and raised to whoever asks
    for the result, never inside the COPY."""

    def __init__(self, work: Callable[..., object]):
        self._work, self._done, self._result, self._error = work, False, None, None

    def __call__(self, *args) -> None:
        if not self._done:
            self._done = True
            try:
                self._result = self._work(*args)
            except Exception as exc:
                self._error = exc

    def result(self):
        self()
        if self._error is not None:
            raise self._error
        return self._result

    def done_result(self):
        """The result if the work already ran without error, else None (not run now)."""
        return self._result if self._done and self._error is None else None


def _parse_next(ctx: Context, batches) -> tuple[Parsed, int] | None:
    """The next batch of `batches`, parsed, with its record count; None after the last.
    Two batches are then in memory: the one being written and this one."""
    upcoming = next(batches, None)
    if upcoming is None:
        return None
    items, consumed = upcoming
    return parse_items(ctx, items), consumed


def job_mapping(job: DataJob, header: list[str]) -> Mapping:
    """The columns chosen in the preview (stored by data_jobs.start_import), else the
    detector's; RuleError if a required field has no column."""
    chosen = (job.filters or {}).get("columns")
    if chosen is not None:
        return chosen_mapping(header, chosen, fields_of(job.company_id))
    mapping = map_header(header, fields_of(job.company_id))
    problem = missing_message(mapping)
    if problem:
        raise RuleError(problem)
    return mapping


def run(job_id: int, path: Path) -> DataJob:
    """Import (or resume) job `job_id` from `path`; returns the job when it ends.

    Resuming skips the records already committed (`processed`), so a re-run after a
    crash neither repeats nor loses a batch.
    """
    if not claim(job_id):
        return db.session.get(DataJob, job_id)
    job = db.session.get(DataJob, job_id)
    if job.user is None or not job.user.is_active:
        # SEC-3: the carteira applied is the runner's; without one the job would
        # know no carteira and could touch them all.
        raise RuleError(_l("O usuário que iniciou a importação não está mais ativo."))
    language = job.user.language if job.user is not None else None
    with force_locale(language or "pt_BR"):
        job.started_at = job.started_at or utcnow()
        if not job.total:
            job.total = count_records(path, job.encoding, job.delimiter)[0]
        db.session.commit()
        with open_text(path, job.encoding) as fh:
            reader = records(fh, job.delimiter)
            header, header_row = _header(reader)
            header = header or []
            ctx = Context(job, job_mapping(job, header))
            stats = Statistics()
            created = 0
            batches = _batches(reader, job.processed, batch_size(), header_row)
            upcoming = _parse_next(ctx, batches)
            resolved = None
            while upcoming is not None:
                parsed, consumed = upcoming
                # The next batch is read and checked while the server indexes this one's
                # contacts, and resolved while it writes the tag links when it will skip
                # its lookup (PostgreSQL); not when the import creates portal
                # representatives, whose reader a retried batch resets
                # (portal_rows.Representatives.forget).
                later = _Later(lambda: _parse_next(ctx, batches))
                ahead = _Later(lambda current: _resolve_ahead(ctx, later, current))
                sequential = ctx.portal is not None
                created += _flush(ctx, parsed, consumed, None if sequential else later,
                                  resolved, None if sequential else ahead).created
                # written: not kept while the next one is read
                del parsed, upcoming, resolved
                upcoming = later.result()
                resolved = ahead.done_result()
                if ctx.look_up:
                    stats.written(created)
        db.session.execute(update(DataJob).where(DataJob.id == job_id).values(
            status=states.DONE, finished_at=utcnow(), total=DataJob.processed))
        db.session.commit()
    db.session.refresh(job)
    return job
