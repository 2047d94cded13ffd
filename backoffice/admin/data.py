"""Importar/exportar registros (IMP-1..IMP-4, EXP-1): the screen; the rules are in
services.data_jobs, services.importer and services.exporter. Every route taking a job id
goes through data_jobs.find, so a job the user may not see is a 404 (SEC-3)."""
from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_

from ..web.downloads import private_file
from ..extensions import db
from ..models import Department, Tag
from ..models import data_jobs as states
from ..services import RuleError, data_jobs, exporter, importer
from ..services.contacts import fields_of
from ..lib.csvfiles import DELIMITERS, ENCODINGS, rows_to_text
from ..services.templates import human_size
from .base import SecureView, local_datetime


def _departments(company_id: int) -> list[tuple[int, str]]:
    return db.session.execute(Department.owned(company_id, Department.id, Department.name)
                              .order_by(Department.order, Department.name)).all()


def _tags(company_id: int) -> list[tuple[int, str]]:
    """Company tags and the user's own personal ones (nobody else's)."""
    return db.session.execute(Tag.owned(company_id, Tag.id, Tag.name).where(
        or_(Tag.owner_id.is_(None), Tag.owner_id == current_user.id)).order_by(Tag.name)).all()


def _csv_response(body, name: str) -> Response:
    response = Response(body, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def status_of(job) -> dict:
    """What the progress bar polls; once the job ends, the first rejected rows too."""
    finished = job.status in (states.DONE, states.FAILED)
    return {
        "id": job.id, "status": job.status, "status_label": job.status_label,
        "total": job.total, "processed": job.processed, "percent": job.percent,
        "created": job.created, "updated": job.updated, "unchanged": job.unchanged,
        "skipped": data_jobs.skipped(job), "rejected": job.rejected,
        "invited": job.invited, "error": job.error,
        "finished": finished,
        "rejections": (data_jobs.first_rejections(job, REJECTIONS_SHOWN)
                       if finished and job.rejected else []),
    }


REJECTIONS_SHOWN = 20


def _chosen_columns(form) -> dict[int, str] | None:
    """The preview's column selects ("column-<index>" = field), None if none was sent
    (the detector's mapping then stands)."""
    chosen = {}
    for name, value in form.items():
        if name.startswith("column-") and name[7:].isdigit():
            chosen[int(name[7:])] = value
    return chosen or None


class DataView(SecureView):
    area = "imports"

    def is_accessible(self):
        # the SaaS operator has no company to import into or export from
        return super().is_accessible() and not current_user.is_superuser

    # -- helpers ---------------------------------------------------------------------
    def _may_import(self) -> bool:
        return current_user.can("imports", "create") and current_user.can("contacts", "create")

    def _job(self, job_id, kind: str):
        job = data_jobs.find(current_user, job_id)
        if job is None or job.kind != kind:
            abort(404)
        return job

    def _import_job(self, job_id):
        if not self._may_import():
            abort(403)
        return self._job(job_id, states.KIND_IMPORT)

    def _export_job(self, job_id):
        return self._job(job_id, states.KIND_EXPORT)

    # -- pages -----------------------------------------------------------------------
    @expose("/")
    def index(self):
        company_id = current_user.company_id
        collections = exporter.collections_for(current_user)
        return self.render(
            "admin/data/index.html", tab=request.args.get("tab", "import"),
            may_import=self._may_import(), max_size=human_size(data_jobs.max_bytes()),
            max_bytes=data_jobs.max_bytes(),
            fields=importer.FIELDS, custom_fields=fields_of(company_id),
            portal_fields=importer.PORTAL_FIELDS,
            imports=data_jobs.history(current_user, states.KIND_IMPORT),
            exports=data_jobs.history(current_user, states.KIND_EXPORT),
            collections=collections,
            filters_by_collection={key: exporter.filters_for(key) for key, _ in collections},
            status_choices={key: exporter.status_choices(key) for key, _ in collections},
            departments=_departments(company_id), tags=_tags(company_id),
            skipped=data_jobs.skipped, local_datetime=local_datetime)

    @expose("/modelo.csv")
    def template(self):
        body = rows_to_text(importer.template_rows(fields_of(current_user.company_id)))
        return _csv_response(body, "modelo-importacao-contatos.csv")

    @expose("/importar", methods=["POST"])
    def upload(self):
        if not self._may_import():
            abort(403)
        # The body limit is the import's own (backoffice.web.uploads); a larger file never
        # gets here: errors.py answers its 413 with the limit message on this screen.
        storage = request.files.get("file")
        if storage is None or not storage.filename:
            flash(_("Escolha um arquivo CSV para importar."), "error")
            return redirect(url_for(".index"))
        try:
            job = data_jobs.save_upload(current_user, storage.stream, storage.filename)
        except RuleError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        return redirect(url_for(".import_job", job_id=job.id))

    @expose("/importar/<job_id>")
    def import_job(self, job_id):
        job = self._import_job(job_id)
        if job.status != states.DRAFT:
            return self.render("admin/data/job.html", job=job, status=status_of(job),
                               rejections_shown=REJECTIONS_SHOWN,
                               local_datetime=local_datetime)
        path = data_jobs.job_path(job)
        if path is None:
            flash(_("O arquivo enviado não foi encontrado; envie de novo."), "error")
            return redirect(url_for(".index"))
        preview = importer.preview(path, job.encoding, job.delimiter, job.company_id)
        custom_fields = fields_of(job.company_id)
        choices = importer.choices(custom_fields)
        assigned = importer.assignments(preview.mapping, len(preview.header))
        # A refused choice comes back in the address (see import_start), so the selects
        # show what the user picked rather than the detector's guess again.
        known = {value for value, _ in choices} | {importer.IGNORE}
        for index, value in (_chosen_columns(request.args) or {}).items():
            if index < len(assigned) and value in known:
                assigned[index] = value
        return self.render("admin/data/preview.html", job=job, preview=preview,
                           encodings=ENCODINGS, delimiters=DELIMITERS,
                           fields=importer.FIELDS, choices=choices, assigned=assigned,
                           required=[(f.key, str(f.label)) for f in importer.REQUIRED],
                           updatable=data_jobs.updatable_fields(job.company_id))

    @expose("/importar/<job_id>/formato", methods=["POST"])
    def import_format(self, job_id):
        job = self._import_job(job_id)
        try:
            data_jobs.set_format(job, request.form.get("encoding"), request.form.get("delimiter"))
        except RuleError as exc:
            flash(str(exc), "error")
        return redirect(url_for(".import_job", job_id=job.id))

    @expose("/importar/<job_id>/executar", methods=["POST"])
    def import_start(self, job_id):
        job = self._import_job(job_id)
        update = request.form.get("update") == "yes"
        if update and not current_user.can("contacts", "edit"):
            flash(_("Seu grupo não pode alterar contatos: escolha \"Não\" em Atualizar "
                    "registros existentes."), "error")
            return redirect(url_for(".import_job", job_id=job.id))
        columns = _chosen_columns(request.form)
        try:
            data_jobs.start_import(job, update, request.form.getlist("fields"),
                                   runner=current_user._get_current_object(), columns=columns)
        except RuleError as exc:
            flash(str(exc), "error")
            if columns:
                return redirect(url_for(".import_job", job_id=job.id, **{
                    f"column-{index}": value for index, value in columns.items()}))
        return redirect(url_for(".import_job", job_id=job.id))

    @expose("/importar/<job_id>/retomar", methods=["POST"])
    def import_resume(self, job_id):
        job = self._import_job(job_id)
        try:
            data_jobs.resume(job, runner=current_user._get_current_object())
        except RuleError as exc:
            flash(str(exc), "error")
        return redirect(url_for(".import_job", job_id=job.id))

    @expose("/importar/<job_id>/rejeitadas.csv")
    def import_report(self, job_id):
        job = self._import_job(job_id)
        rows = data_jobs.report_rows(job)
        return _csv_response(stream_with_context(data_jobs.stream_csv(rows)),
                             f"linhas-rejeitadas-{job.id}.csv")

    @expose("/tarefas/<job_id>/status")
    def job_status(self, job_id):
        job = data_jobs.find(current_user, job_id)
        if job is None:
            abort(404)
        if job.kind == states.KIND_IMPORT and not self._may_import():
            abort(403)
        return jsonify(status_of(job))

    @expose("/exportar", methods=["POST"])
    def export_start(self):
        filters = {k: request.form.get(k, "") for k in ("date_from", "date_to", "department_id",
                                                        "status", "tag_id")}
        try:
            job = data_jobs.start_export(current_user, request.form.get("collection", ""), filters)
        except RuleError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index", tab="export"))
        return redirect(url_for(".export_job", job_id=job.id))

    @expose("/exportar/<job_id>")
    def export_job(self, job_id):
        job = self._export_job(job_id)
        return self.render("admin/data/job.html", job=job, status=status_of(job),
                           rejections_shown=REJECTIONS_SHOWN,
                           local_datetime=local_datetime)

    @expose("/exportar/<job_id>/arquivo")
    def export_download(self, job_id):
        job = self._export_job(job_id)
        path = data_jobs.job_path(job) if job.status == states.DONE else None
        if path is None:
            abort(404)
        return private_file(path, job.file_name, "text/csv")
