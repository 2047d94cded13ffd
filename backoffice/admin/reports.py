"""Relatórios (REP-1): the report page, its drill-down list and its downloads.

Everything is a GET reading the per-ticket facts (backoffice.reports.queries): the filter
bar is a GET form, each section a chart (Chart.js, fed a JSON script tag) and its table,
each number and bar a link to the tickets behind it. A filter the queries cannot answer
(a date that is no date, a range backwards or over 12 months, another company's id) is a
pt-BR message on the page with status 400, never a 500.
"""
from __future__ import annotations

from math import ceil

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Connection, Department, Tag, User
from ..models.channels import CONNECTION_KINDS
from ..reports import exports, queries
from ..reports.filters import ReportFilter, parse, parse_day
from ..services import RuleError, modules
from ..services.protocols import company_today
from .base import MAX_PAGE, SecureView

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _grain() -> str:
    grain = request.args.get("grain", "day")
    return grain if grain in queries.GRAINS else "day"


def _page() -> int:
    try:
        page = int(request.args.get("page", 1))
    except ValueError:
        return 1
    return min(max(page, 1), MAX_PAGE)


def _choices(company_id: int) -> dict[str, list]:
    """The filter bar's options: the company's departments, users, connections, and
    tags (the company's: a user's own tags are in no report, queries._tag_link)."""
    return {
        "department": db.session.execute(Department.owned(
            company_id, Department.id, Department.name).order_by(Department.order,
                                                                 Department.name)).all(),
        "agent": db.session.execute(select(User.id, User.name).where(
            User.company_id == company_id).order_by(User.name)).all(),
        "connection": db.session.execute(Connection.owned(
            company_id, Connection.id, Connection.name).order_by(Connection.name)).all(),
        "tag": db.session.execute(Tag.owned(company_id, Tag.id, Tag.name).where(
            Tag.owner_id.is_(None)).order_by(Tag.name)).all(),
    }


def _drill(args, company_id: int) -> tuple[dict, list[str]]:
    """The drill-down's keys from the address (`day` or `closed`, `by` and `key`), and
    the words that describe them on the page."""
    grain = _grain()
    drill: dict = {"grain": grain}
    said: list[str] = []
    closed = args.get("closed")
    if closed == "all":
        drill["closed"] = True
        said.append(_("Fechados no período"))
    elif closed:
        drill["closed"] = parse_day(closed)
        said.append(_("Fechados em: %(period)s",
                      period=exports.period_label(queries.period_start(drill["closed"], grain),
                                                  grain)))
    elif args.get("day"):
        drill["day"] = parse_day(args.get("day"))
        said.append(_("Chegada em: %(period)s",
                      period=exports.period_label(queries.period_start(drill["day"], grain),
                                                  grain)))
    if args.get("rated") == "1":
        drill["rated"] = True
        said.append(_("Com avaliação"))
    sla = args.get("sla")
    if sla:
        if sla not in queries.SLA_SIDES:
            raise RuleError(_("Item não encontrado."))
        drill["sla"] = sla
        said.append(_("Dentro da meta") if sla == "within" else _("Fora da meta"))
    by = args.get("by")
    if by:
        if by not in queries.DIMENSIONS:
            raise RuleError(_("Item não encontrado."))
        raw = args.get("key", "")
        names = queries.labels(company_id, by)
        if raw == "none":
            key = None
        elif by == "channel":
            if raw not in CONNECTION_KINDS:
                raise RuleError(_("Item não encontrado."))
            key = raw
        else:
            try:
                key = int(raw)
            except ValueError:
                raise RuleError(_("Item não encontrado.")) from None
            if key not in names:
                raise RuleError(_("Item não encontrado."))
        drill[by] = key
        title = str(exports.BREAKDOWNS[by][1]())
        said.append(f"{title}: {queries.none_label(by) if key is None else names.get(key)}")
    return drill, said


class ReportsView(SecureView):
    area = "reports"

    def is_accessible(self):
        # a company screen (the SaaS operator has none), part of the plan's "reports" module
        return (super().is_accessible() and not current_user.is_superuser
                and modules.area_enabled(current_user.company_id, self.area))

    def _filter(self) -> ReportFilter:
        company = current_user.company
        return parse(company.id, request.args, company_today(company))

    def _link(self, f: ReportFilter, grain: str, drill: dict | None) -> str | None:
        if drill is None:
            return None
        return url_for(".tickets", **f.args(), grain=grain, **drill)

    def _charts(self, f: ReportFilter, tables: list[exports.Table]) -> list[dict]:
        charts = []
        for table in tables:
            if table.name == "sla":
                row = table.rows[0]
                charts.append({"name": table.name, "type": "doughnut",
                               "labels": [_("Dentro da meta"), _("Fora da meta")],
                               "datasets": [{"label": table.title,
                                             "data": [row["within"], row["outside"]],
                                             "links": [self._link(f, table.grain,
                                                                  row["drill"][side])
                                                       for side in queries.SLA_SIDES]}]})
                continue
            columns = {c.key: c for c in table.columns}
            label_column = table.columns[0]
            labels = [exports.cell_text(r.get(label_column.key), label_column, table.grain)
                      for r in table.rows]
            datasets = []
            # a bar of a column without its own link opens the row's first one
            row_drill = next((c.drill for c in table.columns if c.drill), None)
            for key in table.chart:
                column = columns[key]
                scale = {exports.SECONDS: 60, exports.SHARE: 0.01}.get(column.kind)
                data = [r.get(key) if scale is None or r.get(key) is None
                        else round(r[key] / scale, 1) for r in table.rows]
                links = [self._link(f, table.grain,
                                    (r.get("drill") or {}).get(column.drill or row_drill))
                         for r in table.rows]
                label = column.label
                if column.kind == exports.SECONDS:
                    label = _("%(label)s (min)", label=column.label)
                elif column.kind == exports.SHARE:
                    label = _("%(label)s (%%)", label=column.label)
                datasets.append({"label": label, "data": data, "links": links})
            charts.append({"name": table.name, "type": "bar", "labels": labels,
                           "datasets": datasets,
                           "integer": all(columns[k].kind == exports.INT for k in table.chart)})
        return charts

    @expose("/")
    def index(self):
        grain = _grain()
        company_id = current_user.company_id
        try:
            f = self._filter()
        except RuleError as exc:
            return self.render("admin/reports/index.html", error=str(exc), f=None, grain=grain,
                               args=request.args, choices=_choices(company_id), tables=[],
                               charts=[], comparison=None, exports=exports), 400
        tables = [exports.TABLES[name](f, grain) for name in exports.SHOWN]
        created = sum(r["created"] for r in tables[0].rows)
        closed = sum(r["closed"] for r in tables[0].rows)
        previous = queries.totals(f.previous())
        comparison = {
            "created": created, "closed": closed, "previous": previous,
            "previous_start": f.previous().start, "previous_end": f.previous().end,
            "created_change": ((created - previous["created"]) / previous["created"]
                               if previous["created"] else None),
            "closed_change": ((closed - previous["closed"]) / previous["closed"]
                              if previous["closed"] else None),
        }

        def link(table, row, column) -> str | None:
            if not column.drill or not row.get(column.key):
                return None  # nothing behind a zero
            return self._link(f, table.grain, (row.get("drill") or {}).get(column.drill))

        return self.render("admin/reports/index.html", error=None, f=f, grain=grain,
                           args=request.args, choices=_choices(company_id), tables=tables,
                           charts=self._charts(f, tables), comparison=comparison,
                           link=link, filter_args=f.args(), exports=exports)

    @expose("/tickets")
    def tickets(self):
        company_id = current_user.company_id
        try:
            f = self._filter()
            drill, said = _drill(request.args, company_id)
        except RuleError as exc:
            return self.render("admin/reports/tickets.html", error=str(exc), rows=[], total=0,
                               page=1, pages=1, said=[], f=None, columns=[],
                               exports=exports, download_args={}, page_args={},
                               back_args={}), 400
        page = _page()
        rows, total = queries.tickets(f, page=page, **drill)
        pages = max(1, ceil(total / queries.PER_PAGE))
        if page > pages:
            page = pages
            rows, total = queries.tickets(f, page=page, **drill)
        # the address's own drill keys, as they came (closed=all, key=none)
        own = {k: request.args[k] for k in ("day", "closed", "by", "key", "rated", "sla")
               if request.args.get(k)}
        page_args = {**f.args(), "grain": drill["grain"], **own}
        return self.render("admin/reports/tickets.html", error=None, rows=rows, total=total,
                           page=page, pages=pages, said=said, f=f,
                           columns=exports.ticket_columns(), exports=exports,
                           page_args=page_args, back_args={**f.args(), "grain": drill["grain"]},
                           download_args={**page_args, "table": "tickets"})

    @expose("/download")
    def download(self):
        name, extension = request.args.get("table", ""), request.args.get("format", "")
        if extension not in FORMATS or (name not in exports.TABLES and name != "tickets"):
            abort(404)
        back = {k: request.args.getlist(k) for k in request.args if k not in ("table", "format")}
        try:
            f = self._filter()
            drill = _drill(request.args, current_user.company_id)[0] if name == "tickets" else None
        except RuleError:
            # back to the page of the same address, which says what is wrong with it
            return redirect(url_for(".tickets" if name == "tickets" else ".index", **back))
        if name == "tickets":
            _rows, total = queries.tickets(f, page=1, per_page=1, **drill)
            if total > exports.MAX_DOWNLOAD_ROWS:
                flash(_("Esta lista tem %(n)s atendimentos, mais do que os %(max)s que a "
                        "página baixa de uma vez. Use Configurações > Importar/exportar "
                        "registros > Exportar (Atendimentos), que gera o arquivo em segundo "
                        "plano.", n=total, max=exports.MAX_DOWNLOAD_ROWS), "error")
                return redirect(url_for(".tickets", **back))
            rows, _total = queries.tickets(f, per_page=None, **drill)
            table = exports.tickets_table(rows)
        else:
            table = exports.TABLES[name](f, _grain())
        body = exports.to_csv(table) if extension == "csv" else exports.to_xlsx(table)
        response = Response(body, mimetype=FORMATS[extension])
        response.headers["Content-Disposition"] = (
            f"attachment; filename={exports.file_name(table, f, extension)}")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response

