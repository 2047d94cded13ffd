"""What a report covers (REP-1): the days, the departments, agents, connections and tags,
and whether times are counted in business hours.

`parse` reads the Relatórios screen's GET form (or any mapping of strings) and refuses,
with a pt-BR `RuleError`, whatever it cannot answer: a date that is no date, a range
backwards or longer than `MAX_DAYS`, an id that is not one of the company's own (so a
report never counts, nor names, another company's rows).

The form's keys: start, end (YYYY-MM-DD or DD/MM/AAAA, the company's local days),
department, agent, connection, tag (repeatable or comma separated), business_hours.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Connection, Department, Tag, User
from ..services import RuleError

MAX_DAYS = 366
DEFAULT_DAYS = 30

# form key -> ReportFilter field
ID_FIELDS = {
    "department": "department_ids",
    "agent": "agent_ids",
    "connection": "connection_ids",
    "tag": "tag_ids",
}
TRUE_VALUES = {"1", "y", "yes", "on", "true", "sim"}


@dataclass(frozen=True)
class ReportFilter:
    company_id: int
    start: date          # first local day (company time zone), inclusive
    end: date            # last local day, inclusive
    department_ids: tuple[int, ...] = ()
    agent_ids: tuple[int, ...] = ()
    connection_ids: tuple[int, ...] = ()
    tag_ids: tuple[int, ...] = ()
    business_hours: bool = False    # times from the *_bh columns

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "ReportFilter":
        """The same filter over the same number of days, ending the day before `start`."""
        end = self.start - timedelta(days=1)
        return replace(self, start=end - timedelta(days=self.days - 1), end=end)

    def args(self) -> dict[str, object]:
        """The form keys that give this filter back through `parse` (for links)."""
        out: dict[str, object] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for key, field in ID_FIELDS.items():
            ids = getattr(self, field)
            if ids:
                out[key] = list(ids)
        if self.business_hours:
            out["business_hours"] = "1"
        return out


def _values(args: Mapping[str, str], key: str) -> list[str]:
    raw = args.getlist(key) if hasattr(args, "getlist") else [args.get(key)]
    found: list[str] = []
    for value in raw:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            found.extend(str(v) for v in value)
        else:
            found.extend(str(value).split(","))
    return [v.strip() for v in found if v is not None and str(v).strip()]


def parse_day(value: str | None) -> date | None:
    """A day typed as YYYY-MM-DD (the date input) or DD/MM/AAAA; None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        if day.year >= 2000:
            return day
    raise RuleError(_("Data inválida: use o formato DD/MM/AAAA."))


def _messages() -> dict[str, str]:
    return {
        "department": _("Departamento não encontrado."),
        "agent": _("Atendente não encontrado."),
        "connection": _("Canal não encontrado."),
        "tag": _("Etiqueta não encontrada."),
    }


def _owned_ids(company_id: int, key: str, ids: Iterable[int]) -> set[int]:
    ids = list(ids)
    if key == "agent":
        q = select(User.id).where(User.company_id == company_id, User.id.in_(ids))
    else:
        model = {"department": Department, "connection": Connection, "tag": Tag}[key]
        q = model.owned(company_id, model.id).where(model.id.in_(ids))
        if model is Tag:  # the reports count the company's tags, not anyone's own
            q = q.where(Tag.owner_id.is_(None))
    return set(db.session.scalars(q))


def parse(company_id: int, args: Mapping[str, str], today: date) -> ReportFilter:
    """The filter the form asks for; the last 30 days up to `today` by default."""
    start = parse_day(_first(args, "start"))
    end = parse_day(_first(args, "end"))
    if end is None:
        end = today if start is None or start <= today else start
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise RuleError(_("A data inicial é depois da data final."))
    if (end - start).days + 1 > MAX_DAYS:
        raise RuleError(_("Escolha um período de até 12 meses."))
    chosen: dict[str, tuple[int, ...]] = {}
    messages = _messages()
    for key, field in ID_FIELDS.items():
        ids: list[int] = []
        for value in _values(args, key):
            try:
                number = int(value)
            except ValueError:
                raise RuleError(messages[key]) from None
            if not 0 < number < 2**31:
                raise RuleError(messages[key])
            if number not in ids:
                ids.append(number)
        if ids and _owned_ids(company_id, key, ids) != set(ids):
            raise RuleError(messages[key])
        chosen[field] = tuple(sorted(ids))
    business = (_first(args, "business_hours") or "").strip().lower() in TRUE_VALUES
    return ReportFilter(company_id=company_id, start=start, end=end,
                        business_hours=business, **chosen)


def _first(args: Mapping[str, str], key: str) -> str | None:
    values = _values(args, key)
    return values[0] if values else None
