"""The Relatórios tables (REP-1), once for the screen and for the downloads.

Each table is built from backoffice.reports.queries into columns (a label and a kind:
text, integer, seconds, share, number, day, period, instant) and rows; the screen formats
the cells for reading ("1 h 05 min", "80,0%", "01/12/2026"), the files keep numbers as
numbers (seconds as whole seconds) so a spreadsheet can compute with them.

CSV follows the project's Excel pt-BR dialect (lib.csvfiles: ";" separated, UTF-8 with a
BOM, a text cell Excel would run as a formula neutralised); XLSX is written by
xlsxwriter in constant-memory mode, row by row.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

import xlsxwriter
from flask_babel import format_date, format_datetime, format_decimal, format_percent
from flask_babel import gettext as _

from ..lib.csvfiles import safe_cell
from . import queries
from .agent import duration_text
from .filters import ReportFilter

# the drill-down list past which a download goes to Importar/exportar registros instead
MAX_DOWNLOAD_ROWS = 50_000

TEXT, INT, SECONDS, SHARE, NUMBER, PERIOD, INSTANT = (
    "text", "int", "seconds", "share", "number", "period", "instant")


@dataclass
class Column:
    key: str
    label: str
    kind: str = INT
    drill: str | None = None    # the key, in a row's "drill", of the link on this cell


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict]
    grain: str = "day"
    chart: list[str] = field(default_factory=list)   # the columns drawn as bars
    note: str | None = None


# -- formatting ------------------------------------------------------------------------

def duration(seconds) -> str:
    """"45 s", "12 min", "1 h 05 min" (the dashboard's format); "—" for no value."""
    return "—" if seconds is None else duration_text(round(seconds))


def period_label(day: date, grain: str) -> str:
    if grain == "week":
        return _("Semana de %(day)s", day=format_date(day, "dd/MM/yyyy"))
    if grain == "month":
        return format_date(day, "MMMM yyyy")
    return format_date(day, "dd/MM/yyyy")


def day_text(day: date) -> str:
    return format_date(day, "dd/MM/yyyy")


def change_text(change: float) -> str:
    """A change against the previous period: "+12,5%", "-3,0%"."""
    return format_percent(change, "+#,##0.0%;-#,##0.0%")


def cell_text(value, column: Column, grain: str = "day") -> str:
    """A cell as the screen shows it."""
    if column.kind == SECONDS:
        return duration(value)
    if value is None:
        return "—"
    if column.kind == SHARE:
        return format_percent(value, "#,##0.0%")
    if column.kind == NUMBER:
        return format_decimal(value, "#,##0.0#")
    if column.kind == PERIOD:
        return period_label(value, grain)
    if column.kind == INSTANT:
        return format_datetime(value, "dd/MM/yyyy HH:mm", rebase=False)
    if column.kind == INT:
        return format_decimal(value, "#,##0")
    return str(value)


def _file_label(column: Column) -> str:
    if column.kind == SECONDS:
        return _("%(label)s (segundos)", label=column.label)
    if column.kind == SHARE:
        return _("%(label)s (%%)", label=column.label)
    return column.label


def _file_value(value, column: Column, grain: str):
    """A cell for a file: numbers stay numbers, a share becomes a percentage."""
    if value is None:
        return None
    if column.kind == SECONDS:
        return int(round(value))
    if column.kind == SHARE:
        return round(value * 100, 1)
    if column.kind == PERIOD:
        return period_label(value, grain) if grain != "day" else value
    return value


# -- the tables ------------------------------------------------------------------------

def _volume(f: ReportFilter, grain: str) -> Table:
    rows = queries.volume(f, grain)
    for row in rows:
        iso = row["period"].isoformat()
        row["drill"] = {"created": {"day": iso}, "closed": {"closed": iso}}
    return Table("volume", _("Volume"), [
        Column("period", _("Período"), PERIOD),
        Column("created", _("Criados"), drill="created"),
        Column("closed", _("Fechados"), drill="closed"),
        Column("reopened", _("Reabertos")),
        Column("transferred", _("Transferidos")),
    ], rows, grain, chart=["created", "closed"])


BREAKDOWNS = {
    "department": (lambda: _("Por departamento"), lambda: _("Departamento")),
    "agent": (lambda: _("Por atendente"), lambda: _("Atendente")),
    "connection": (lambda: _("Por canal"), lambda: _("Canal")),
    "channel": (lambda: _("Por tipo de canal"), lambda: _("Tipo de canal")),
    "reason": (lambda: _("Por motivo"), lambda: _("Motivo")),
    "classification": (lambda: _("Por classificação"), lambda: _("Classificação")),
    "tag": (lambda: _("Por etiqueta"), lambda: _("Etiqueta")),
}


def _drill_key(key) -> str:
    return "none" if key is None else str(key)


def _breakdown(dimension: str) -> Callable[[ReportFilter, str], Table]:
    def build(f: ReportFilter, grain: str) -> Table:
        rows = queries.breakdown(f, dimension)
        for row in rows:
            target = {"by": dimension, "key": _drill_key(row["key"])}
            row["drill"] = {"tickets": target, "closed": {**target, "closed": "all"}}
        title, label = BREAKDOWNS[dimension]
        return Table(dimension, title(), [
            Column("label", label(), TEXT),
            Column("tickets", _("Atendimentos"), drill="tickets"),
            Column("closed", _("Fechados"), drill="closed"),
            Column("first_response_median", _("Mediana da primeira resposta"), SECONDS),
            Column("resolution_median", _("Mediana da resolução"), SECONDS),
        ], rows, grain, chart=["tickets"])
    return build


def _times(f: ReportFilter, grain: str) -> Table:
    found = queries.times(f)
    names = {"first_response": _("Primeira resposta"), "resolution": _("Resolução"),
             "wait": _("Espera")}
    rows = [{"key": key, "label": names[key], **found[key]} for key in queries.TIMES]
    return Table("times", _("Tempos"), [
        Column("label", _("Tempo"), TEXT),
        Column("median", _("Mediana"), SECONDS),
        Column("p90", _("Percentil 90"), SECONDS),
        Column("avg", _("Média"), SECONDS),
        Column("count", _("Atendimentos medidos")),
    ], rows, grain, chart=["median", "p90"],
        note=_("Em horário comercial: só o tempo dentro do horário do departamento.")
        if f.business_hours else None)


def _sla(f: ReportFilter, grain: str) -> Table:
    found = queries.sla(f)
    row = {"label": _("Primeira resposta em até %(n)s min", n=found["target_minutes"]),
           **found, "outside": found["answered"] - found["within"],
           "drill": {side: {"sla": side} for side in queries.SLA_SIDES}}
    return Table("sla", _("SLA"), [
        Column("label", _("Meta"), TEXT),
        Column("answered", _("Respondidos")),
        Column("within", _("Dentro da meta"), drill="within"),
        Column("outside", _("Fora da meta"), drill="outside"),
        Column("share", _("Parcela dentro da meta"), SHARE),
    ], [row], grain, chart=["within", "outside"])


def _satisfaction(dimension: str) -> Callable[[ReportFilter, str], Table]:
    def build(f: ReportFilter, grain: str) -> Table:
        rows = queries.satisfaction(f, dimension)
        for row in rows:
            row["drill"] = {"answers": {"by": dimension, "key": _drill_key(row["key"]),
                                        "rated": "1"}}
        title = (_("Satisfação por atendente") if dimension == "agent"
                 else _("Satisfação por departamento"))
        return Table(f"satisfaction_{dimension}", title, [
            Column("label", _("Atendente") if dimension == "agent" else _("Departamento"), TEXT),
            Column("answers", _("Respostas"), drill="answers"),
            Column("average", _("Média (1 a 5)"), NUMBER),
            Column("csat", _("CSAT"), SHARE),
            Column("nps", _("NPS"), NUMBER),
        ], rows, grain, chart=["csat", "nps"],
            note=_("CSAT: parcela de notas 4 e 5 na escala de 1 a 5. NPS: parcela de notas 9 e 10 "
                   "menos a de notas de 0 a 6, na escala de 0 a 10."))
    return build


def _pauses(f: ReportFilter, grain: str) -> Table:
    return Table("pauses", _("Pausas por atendente"), [
        Column("label", _("Atendente"), TEXT),
        Column("count", _("Pausas")),
        Column("seconds", _("Tempo em pausa"), SECONDS),
    ], queries.pauses(f), grain, chart=["seconds"])


TABLES: dict[str, Callable[[ReportFilter, str], Table]] = {
    "volume": _volume,
    **{name: _breakdown(name) for name in BREAKDOWNS},
    "times": _times,
    "sla": _sla,
    "satisfaction_agent": _satisfaction("agent"),
    "satisfaction_department": _satisfaction("department"),
    "pauses": _pauses,
}
# the sections of the page, in order (the tables not shown are still downloadable)
SHOWN = ("volume", "department", "agent", "connection", "reason", "classification", "tag",
         "times", "sla", "satisfaction_agent", "satisfaction_department", "pauses")


def ticket_columns() -> list[Column]:
    return [Column("protocol", _("Protocolo"), TEXT),
            Column("arrived", _("Chegada"), INSTANT),
            Column("department", _("Departamento"), TEXT),
            Column("agent", _("Atendente"), TEXT),
            Column("status_label", _("Situação"), TEXT),
            Column("first_response", _("Primeira resposta"), SECONDS)]


def tickets_table(rows: list[dict]) -> Table:
    return Table("tickets", _("Atendimentos"), ticket_columns(), rows)


# -- files -----------------------------------------------------------------------------

def _csv_value(value, column: Column, grain: str) -> str:
    value = _file_value(value, column, grain)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return safe_cell(value)


def to_csv(table: Table) -> bytes:
    """";" separated UTF-8 with a BOM (Excel pt-BR); numbers with a decimal comma, left
    as they are (only text cells can start a formula)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([safe_cell(_file_label(c)) for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(row.get(c.key), c, table.grain) for c in table.columns])
    return buf.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """A workbook of one sheet: the header in bold, numbers and dates as such."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet(table.title[:31].replace("/", "-") or "Relatorio")
    bold = book.add_format({"bold": True})
    day_format = book.add_format({"num_format": "dd/mm/yyyy"})
    instant_format = book.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    sheet.write_row(0, 0, [_file_label(c) for c in table.columns], bold)
    for r, row in enumerate(table.rows, start=1):
        for c, column in enumerate(table.columns):
            value = _file_value(row.get(column.key), column, table.grain)
            if value is None:
                sheet.write_blank(r, c, None)
            elif isinstance(value, datetime):
                sheet.write_datetime(r, c, value, instant_format)
            elif isinstance(value, date):
                sheet.write_datetime(r, c, datetime.combine(value, datetime.min.time()),
                                     day_format)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    book.close()
    return out.getvalue()


def file_name(table: Table, f: ReportFilter, extension: str) -> str:
    return f"relatorio-{table.name}-{f.start:%Y%m%d}-{f.end:%Y%m%d}.{extension}"

