"""The one base admin view: tenancy, permissions and audit for every screen.

Flask-Admin does not scope rows by overriding get_query alone (docs/ARCHITECTURE.md). Each leak is
closed here once: list and count queries, get_one (edit/details/delete by id),
relationship fields in forms and list_form, ajax lookups, bulk actions (they go through
get_query) and export (through get_list). Writes are also checked at flush time by
backoffice.tenancy. tests/test_isolation.py runs against every registered view.
"""
from __future__ import annotations

import itertools
import logging
from datetime import date, datetime, time

from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.contrib.sqla.typefmt import DEFAULT_FORMATTERS
from flask_admin.model.typefmt import EXPORT_FORMATTERS
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from werkzeug.utils import secure_filename
from wtforms.fields.core import UnboundField
from wtforms.validators import ValidationError

from ..extensions import db
from ..lib import dbfailures
from ..services import RuleError, as_id, audit, data_jobs, messages, modules
from ..tenancy import TenantViolation, current_company_id, owned_by_tenant, scope
from .fields import (
    StrictAjaxSelectField,
    StrictAjaxSelectMultipleField,
    StrictQuerySelectField,
    StrictQuerySelectMultipleField,
)

log = logging.getLogger(__name__)

# The last page a list screen opens: page * page_size (at most 100) stays far inside
# OFFSET's 64 bits, and 100 million rows is beyond any company's list.
MAX_PAGE = 10**6


def local_datetime(value) -> str:
    """A stored UTC timestamp shown in the user's company time zone, pt-BR style."""
    return format_datetime(value, "short") if value else ""


# UX-4: how every screen shows a value by its type, in lists, details and exports alike:
# no None, True/False or Python timestamp ever reaches the page.
def _yes_no(view, value, name) -> str:
    return _("Sim") if value else _("Não")


def _yes_no_icon(view, value, name):
    text = escape(_yes_no(view, value, name))
    icon = "fa-check-circle text-success" if value else "fa-minus-circle text-muted"
    return Markup(f'<span class="fa {icon}" aria-hidden="true" title="{text}"></span>'
                  f'<span class="sr-only">{text}</span>')


def _when(view, value, name) -> str:
    return local_datetime(value)


def _day(view, value, name) -> str:
    return format_date(value, "short")


def _clock(view, value, name) -> str:
    return value.strftime("%H:%M")


def _nothing(view, value, name) -> str:
    return ""


def _formatters(base, yes_no):
    # isinstance order matters: bool before int, datetime before its parent date
    return {type(None): _nothing, bool: yes_no,
            datetime: _when, date: _day, time: _clock,
            **{k: f for k, f in base.items() if k not in (type(None), bool)}}


LIST_FORMATTERS = _formatters(DEFAULT_FORMATTERS, _yes_no_icon)
DETAIL_FORMATTERS = _formatters(DEFAULT_FORMATTERS, _yes_no)
EXPORT_FORMATTERS_PT = _formatters(EXPORT_FORMATTERS, _yes_no)


def _form_labels(form_class) -> dict:
    """Field name -> label of a form class's (unbound) fields."""
    labels = {}
    for name in dir(form_class or object):
        field = getattr(form_class, name, None)
        if isinstance(field, UnboundField):
            label = field.kwargs.get("label") or (field.args[0] if field.args else None)
            if label:
                labels[name] = label
    return labels


def _form_choices(form_class) -> dict:
    choices = {}
    for name in dir(form_class or object):
        field = getattr(form_class, name, None)
        if isinstance(field, UnboundField):
            options = field.kwargs.get("choices")
            if isinstance(options, (list, tuple)) and all(
                    isinstance(o, (list, tuple)) and len(o) == 2 for o in options):
                choices[name] = dict(options)
    return choices


def _deny():
    """Anonymous -> login page; logged in without the right -> 403."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    abort(403)


class TenantConverter(AdminModelConverter):
    def _model_select_field(self, prop, multiple, remote_model, **kwargs):
        loader = getattr(self.view, "_form_ajax_refs", {}).get(prop.key)
        if loader:
            cls = StrictAjaxSelectMultipleField if multiple else StrictAjaxSelectField
            return cls(loader, **kwargs)
        if "query_factory" not in kwargs:
            kwargs["query_factory"] = lambda: _scoped_query(remote_model)
        # WTForms shows `label or value`: an empty blank label would read "__None".
        if not multiple and not kwargs.get("blank_text"):
            kwargs["blank_text"] = "—"
        cls = StrictQuerySelectMultipleField if multiple else StrictQuerySelectField
        return cls(**kwargs)


def _scoped_query(model):
    query = db.session.query(model)
    return scope(query, model) if owned_by_tenant(model) else query


class TenantAjaxLoader(QueryAjaxModelLoader):
    def get_query(self):
        return _scoped_query(self.model)

    def get_one(self, pk):
        obj = super().get_one(pk)
        if obj is not None and owned_by_tenant(self.model) and obj.company_id != current_company_id():
            return None
        return obj


class SecureModelView(ModelView):
    """Permissions and audit; subclasses say which `area` of the catalogue guards them."""

    area: str = ""
    page_size = 20
    can_set_page_size = True
    can_export = True
    export_types = ["csv"]
    model_form_converter = TenantConverter
    audited = True
    column_type_formatters = LIST_FORMATTERS
    column_type_formatters_detail = DETAIL_FORMATTERS
    column_type_formatters_export = EXPORT_FORMATTERS_PT
    # field -> {value: label} or a function, for the audit log's values (UX-4)
    audit_choices: dict = {}
    # Flask-Admin's list with a named header over the row actions (UX-2)
    list_template = "admin/atende_list.html"

    def __init__(self, model, *args, **kwargs):
        kwargs.setdefault("session", db.session)
        super().__init__(model, *args, **kwargs)
        if self.audited:
            self._register_screen()

    def _register_screen(self):
        """UX-4: the audit log names this screen's table and fields as the screen does."""
        forms = (getattr(self, "_create_form_class", None), getattr(self, "_edit_form_class", None))
        labels, choices = {}, {}
        for form_class in forms:
            labels.update(_form_labels(form_class))
            choices.update(_form_choices(form_class))
        labels.update(self.column_labels or {})
        choices.update({k: dict(v) for k, v in (self.column_choices or {}).items()})
        choices.update(self.audit_choices)
        audit.register_screen(self.model.__tablename__,
                              audit.Screen(self.name, labels, choices),
                              saas=isinstance(self, SaasModelView))

    def _get_list_value(self, context, model, name, column_formatters, column_type_formatters):
        value = super()._get_list_value(context, model, name, column_formatters,
                                        column_type_formatters)
        if value is None:
            # a choice column left empty reads as its blank choice ("Idioma da empresa")
            return self._column_choices_map.get(name, {}).get("", "")
        return value

    # -- ids and pages from the request are untrusted text (SEC-7) --------------------
    def clean_ids(self, ids):
        """Keep the ids that can be a primary key of this model, as the column's Python
        type: PostgreSQL answers a DataError (a 500) to `id = 'abc'` or to an id beyond
        the column's range, SQLite an OverflowError beyond 64 bits; and as text, the
        `id IN (...)` of bulk actions is bound as VARCHAR, which PostgreSQL refuses
        against an integer. An id that cannot exist is simply not found."""
        column = inspect(self.model).primary_key[0]
        try:
            kind = column.type.python_type
        except NotImplementedError:
            return list(ids)
        kept = []
        for raw in ids:
            if kind is int:
                number = as_id(raw, column)
                if number is not None:
                    kept.append(number)
                continue
            try:
                kept.append(kind(raw))
            except (TypeError, ValueError):
                continue
        return kept

    def get_one(self, id):
        if not self.clean_ids([id]):
            return None
        return super().get_one(id)

    def _get_list_extra_args(self):
        # A negative page would be a negative OFFSET, which PostgreSQL refuses; a huge one
        # overflows OFFSET (bigint) once multiplied by the page size.
        args = super()._get_list_extra_args()
        args.page = min(max(args.page or 0, 0), MAX_PAGE)
        return args

    def _export_csv(self, return_url):
        """EXP-1 for every list screen: ";" and UTF-8 with BOM (Excel pt-BR opens it with
        its columns and accents), formula cells neutralised by csvfiles.ExcelWriter."""
        count, data = self._export_data()
        columns = self._export_columns
        rows = itertools.chain(
            [[str(label) for _, label in columns]],
            ([self.get_export_value(row, name) for name, _ in columns] for row in data))
        name = secure_filename(self.get_export_name(export_type="csv"))
        return Response(stream_with_context(data_jobs.stream_csv(rows)),
                        headers={"Content-Disposition": f"attachment;filename={name}"},
                        mimetype="text/csv; charset=utf-8")

    def init_actions(self):
        super().init_actions()
        for name, (func, text, confirmation) in list(self._actions_data.items()):
            self._actions_data[name] = (self._with_clean_ids(func), text, confirmation)

    def _with_clean_ids(self, func):
        def handler(ids):
            return func(self.clean_ids(ids))

        return handler

    # -- permissions, read on every request so a change to a group applies at once ----
    def allowed(self, action: str) -> bool:
        # UX-7: a screen of a module the company's plan lacks is hidden and refused
        return (current_user.is_authenticated and current_user.can(self.area, action)
                and modules.area_enabled(current_user.company_id, self.area))

    @property
    def can_create(self):
        return self.allowed("create")

    @property
    def can_edit(self):
        return self.allowed("edit")

    @property
    def can_delete(self):
        return self.allowed("delete")

    def is_accessible(self):
        return current_user.is_authenticated and not current_user.is_superuser and self.allowed("view")

    def inaccessible_callback(self, name, **kwargs):
        return _deny()

    def _handle_view(self, name, **kwargs):
        # The rights the actor held when the request began: a user editing themself
        # changes current_user's group during populate_obj, before the rules run.
        if current_user.is_authenticated:
            g.actor_rights = current_user.rights
        return super()._handle_view(name, **kwargs)

    def validate_form(self, form):
        ok = super().validate_form(form)
        # Flask-Admin's templates print only errors that are `str`; our validator
        # messages are lazy translations, which would leave the field with no message.
        for field in form:
            if isinstance(field.errors, (list, tuple)):
                field.errors = [e if isinstance(e, (dict, list)) else str(e) for e in field.errors]
        return ok

    # -- rules and audit -------------------------------------------------------------
    def validate_change(self, form, model, is_created: bool) -> None:
        """Subclasses raise RuleError for business rules (message shown to the user)."""

    def validate_delete(self, model) -> None:
        """Subclasses raise RuleError to refuse a delete."""

    def audit_company_id(self, model):
        return current_company_id()

    def on_model_change(self, form, model, is_created):
        # Rules query the database; the half-filled row must not be flushed before
        # they have run (NOT NULL columns they fill in, e.g. the password hash).
        with db.session.no_autoflush:
            self.validate_change(form, model, is_created)
            changes = audit.pending_changes(model, is_created) if self.audited else {}
        db.session.flush()
        self.after_flush_checks(model, is_created)
        if self.audited:
            audit.record(current_user, "create" if is_created else "update", model,
                         changes, self.audit_company_id(model))

    def after_flush_checks(self, model, is_created) -> None:
        """Rules that need the change flushed first (e.g. 'an admin remains')."""

    def on_model_delete(self, model):
        self.validate_delete(model)
        if self.audited:
            audit.record(current_user, "delete", model, audit.snapshot(model),
                         self.audit_company_id(model))

    def after_delete_checks(self, model) -> None:
        """Rules that need the delete flushed first."""

    def delete_model(self, model):
        # Flask-Admin's own delete commits right away; rules that need the delete
        # flushed (the last admin) must run between the flush and the commit.
        try:
            self.on_model_delete(model)
            db.session.delete(model)
            db.session.flush()
            self.after_delete_checks(model)
            db.session.commit()
        except Exception as ex:
            db.session.rollback()
            self.handle_view_exception(ex)  # says why on the page, in Portuguese
            return False
        self.after_model_delete(model)
        return True

    def handle_view_exception(self, exc):
        if isinstance(exc, (RuleError, ValidationError)):
            flash(str(exc), "error")
            return True
        if isinstance(exc, IntegrityError):
            flash(_("Não foi possível salvar: já existe um registro com esses dados ou há "
                    "um vínculo que impede a operação."), "error")
            return True
        if isinstance(exc, TenantViolation):
            log.warning("tenant violation: %s", exc)
            flash(_("Operação não permitida."), "error")
            return True
        if super().handle_view_exception(exc):  # its ValidationError; raises in debug mode
            return True
        # Anything else: never its text on the page. Flask-Admin would flash "Falha ao criar
        # o registro." followed by str(exc): a database error's SQL and values, in English.
        # The form is shown again with what was typed (Flask-Admin re-renders it).
        if dbfailures.retryable(exc):
            log.warning("database not available on %s: %s", request.path, type(exc).__name__)
            flash(_("O banco de dados ficou indisponível por um instante e nada foi salvo. "
                    "Tente de novo."), "error")
        else:
            log.exception("admin operation failed on %s", request.path)
            flash(_("Não foi possível concluir a operação. A equipe foi avisada; tente "
                    "novamente em instantes."), "error")
        return True


class TenantModelView(SecureModelView):
    """Every screen over rows that belong to one company."""

    def get_query(self):
        return scope(super().get_query(), self.model)

    def get_count_query(self):
        return scope(super().get_count_query(), self.model)

    def get_one(self, id):
        obj = super().get_one(id)
        if obj is None or obj.company_id != current_company_id():
            return None
        return obj

    def _create_ajax_loader(self, name, options):
        remote = getattr(self.model, name).property.mapper.class_
        return TenantAjaxLoader(name, self.session, remote, **options)

    def on_model_change(self, form, model, is_created):
        if is_created:
            model.company_id = current_company_id()
        super().on_model_change(form, model, is_created)


class MessageFieldsMixin:
    """Forms with message fields (DEP-8): the fields named in `message_fields` show the
    variables a message may hold; `prepare_form(form)` is the one place a screen fills
    its form's dynamic parts (choices of the company's rows), on create and edit alike.
    Mix in before the base view."""

    message_fields: tuple[str, ...] = ()

    def prepare_form(self, form):
        return form

    def _prepared(self, form):
        # UX-5: the help once per form, under its first message field
        for name in self.message_fields:
            field = getattr(form, name, None)
            if field is not None:
                field.description = _("Variáveis: %(help)s", help=messages.variables_help())
                break
        return self.prepare_form(form)

    def create_form(self, obj=None):
        return self._prepared(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._prepared(super().edit_form(obj))


class VisibleRowsMixin:
    """A screen showing only some of the company's rows to some users (personal tags,
    carteiras): `_visible(query)` narrows the list, the count, the export and every
    fetch by id (edit, details, delete) alike. Mix in before the base view."""

    def _visible(self, query):
        raise NotImplementedError

    def get_query(self):
        return self._visible(super().get_query())

    def get_count_query(self):
        return self._visible(super().get_count_query())

    def get_one(self, id):
        obj = super().get_one(id)
        if obj is None:
            return None
        key = inspect(self.model).primary_key[0]
        seen = self._visible(self.session.query(key).filter(key == obj.id)).first()
        return obj if seen is not None else None


class ReadOnlyMixin:
    """A screen that only lists and shows rows the system writes (Auditoria, Modelos do
    WhatsApp): no create, edit or delete from the panel, whatever the group's rights."""

    @property
    def can_create(self):
        return False

    @property
    def can_edit(self):
        return False

    @property
    def can_delete(self):
        return False


class SingleRowMixin:
    """A screen over the one row a company has (Empresa, Parâmetros, Telefonia): edited,
    never created or deleted from the panel. UX-5: the menu opens the row's form (its
    details for a user who may only look), never a list of one row; a save stays there."""

    can_view_details = True
    edit_template = "admin/single_row_edit.html"
    details_template = "admin/single_row_details.html"

    @property
    def can_create(self):
        return False

    @property
    def can_delete(self):
        return False

    def row_id(self):
        """The id of the company's row, as the edit form's `id` argument."""
        raise NotImplementedError

    @expose("/")
    def index_view(self):
        row_id = self.row_id()
        if row_id is None:
            abort(404)
        if self.can_edit:
            return redirect(self.get_url(".edit_view", id=row_id))
        if self.can_view_details:
            return redirect(self.get_url(".details_view", id=row_id))
        return super().index_view()

    def get_save_return_url(self, model, is_created=False):
        return self.get_url(".edit_view", id=self.get_pk_value(model))


class CompanySettingsView(SingleRowMixin, TenantModelView):
    """One settings row per company. A GET never writes (SEC-8): while the company has no
    row, the screen shows one with the defaults under the id DEFAULT_ROW, and the first
    save creates it."""

    DEFAULT_ROW = "padrao"

    def default_row(self, company_id: int):
        """An unsaved row with the defaults (not added to the session)."""
        raise NotImplementedError

    def _saved_row(self, company_id: int):
        return self.session.scalar(select(self.model).where(self.model.company_id == company_id))

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        result = super().get_list(page, sort_column, sort_desc, search, filters,
                                  execute=execute, page_size=page_size)
        company_id = current_company_id()
        if execute and company_id is not None and not result[0] and not search and not filters:
            return 1, [self.default_row(company_id)]
        return result

    def get_pk_value(self, model):
        return self.DEFAULT_ROW if model.id is None else super().get_pk_value(model)

    def row_id(self):
        company_id = current_company_id()
        if company_id is None:
            return None
        row = self._saved_row(company_id)
        return self.DEFAULT_ROW if row is None else row.id

    def get_one(self, id):
        company_id = current_company_id()
        if id == self.DEFAULT_ROW and company_id is not None:
            return self._saved_row(company_id) or self.default_row(company_id)
        return super().get_one(id)

    def on_model_change(self, form, model, is_created):
        if inspect(model).transient:
            # the first save of the defaults shown by a GET: now the row is created
            self.session.add(model)
            is_created = True
        super().on_model_change(form, model, is_created)


class SaasModelView(SecureModelView):
    """Screens of the SaaS operator (super user); no company sees them."""

    def allowed(self, action: str) -> bool:
        return current_user.is_authenticated and current_user.is_superuser

    def is_accessible(self):
        return self.allowed("view")

    def audit_company_id(self, model):
        return None


class SecureView(BaseView):
    """Plain (non-model) pages: any logged-in user unless `area` says otherwise."""

    area: str | None = None
    superuser_only = False

    def is_accessible(self):
        if not current_user.is_authenticated:
            return False
        if self.superuser_only:
            return current_user.is_superuser
        return self.area is None or current_user.can(self.area, "view")

    def inaccessible_callback(self, name, **kwargs):
        return _deny()


class HomeView(AdminIndexView):
    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return _deny()

    @expose("/")
    def index(self):
        from ..reports import agent as agent_numbers
        from ..services import presence, visibility

        user = current_user
        team = minutes = None
        if visibility.supervises(user):
            team = presence.team_status(user.company_id)
        ratings = numbers = None
        if presence.is_agent(user):
            from ..automation import survey  # RAT-1: the agent's score this month

            minutes = {scope: presence.minutes_by_status(user, scope) for scope in presence.SCOPES}
            ratings = survey.agent_month(user)
            numbers = agent_numbers.today(user)
        return self.render("admin/home.html", team=team, minutes=minutes, ratings=ratings,
                           numbers=numbers, dashboard=self._dashboard(user))

    @staticmethod
    def _dashboard(user) -> dict | None:
        """PAU-4: the queues the user manages now (None: they manage none). A supervisor
        sees every department, the unrouted tickets and every agent; a department's
        responsible, their departments and those departments' agents."""
        from ..reports import live
        from ..services import visibility

        if user.is_superuser or user.company_id is None:
            return None
        departments = live.managed_departments(user)
        if departments is None:
            return None
        everything = visibility.supervises(user)
        return live.snapshot(user.company_id, None if everything else departments,
                             unrouted=everything)

    @expose("/dashboard.json")
    def dashboard(self):
        """PAU-4: what the dashboard refetches when told its numbers moved."""
        from flask import jsonify

        data = self._dashboard(current_user)
        if data is None:
            return jsonify({"error": _("Você não gerencia nenhum departamento.")}), 403
        response = jsonify(data)
        response.headers["Cache-Control"] = "no-store"
        return response
