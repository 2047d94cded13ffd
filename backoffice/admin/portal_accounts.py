"""Clientes do portal (POR-1): customer organisations and their representatives, the
"Enviar convite" and "Desativar" actions, and the contact screen's "Convidar para o
portal" (PortalInviteMixin, mixed into ContactView). Rules in services/portal/accounts.py.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectField, StringField
from wtforms.validators import Length

from ..extensions import db
from ..lib import after_commit
from ..lib.documents import format_document
from ..lib.phones import format_phone
from ..models.portal import CustomerOrganization, PortalAccount
from ..services import RuleError, audit
from ..services.portal import accounts as service
from ..tenancy import current_company_id
from .base import TenantModelView, local_datetime
from .filters import PerRequestFilterOptions, TenantOptionsFilter

CNPJ_HELP = _l("Opcional. Com ou sem pontuação; os dígitos verificadores são conferidos.")


def _cnpj(view, context, model, name):
    return format_document(model.cnpj)


def _account_count(view, context, model, name):
    return str(len(model.accounts))


class OrganizationView(TenantModelView):
    area = "organizations"
    can_view_details = True
    details_template = "admin/portal_organization_details.html"
    column_list = ["name", "cnpj", "accounts", "active", "created_at"]
    column_details_list = ["name", "cnpj", "active", "created_at"]
    column_export_list = ["name", "cnpj", "accounts", "active", "created_at"]
    column_searchable_list = ["name", "cnpj"]
    column_filters = ["active"]
    column_sortable_list = ["name", "active", "created_at"]
    column_default_sort = "name"
    column_labels = {"name": _l("Nome"), "cnpj": _l("CNPJ"), "active": _l("Ativo"),
                     "accounts": _l("Representantes"), "created_at": _l("Criado em")}
    column_formatters = {"cnpj": _cnpj, "accounts": _account_count}
    column_formatters_export = {"cnpj": _cnpj, "accounts": _account_count}
    form_columns = ["name", "cnpj", "active"]
    form_overrides = {"cnpj": StringField}
    form_args = {
        "name": {"validators": [Length(max=120)],
                 "description": _l("A empresa cliente cujos representantes usam o portal.")},
        "cnpj": {"validators": [Length(max=32)], "description": CNPJ_HELP},
        "active": {"default": True, "description": _l(
            "Desmarcado: nenhum representante deste cliente entra no portal.")},
    }

    def get_query(self):
        # loaded with the rows: the CSV export formats them after the request's session
        return super().get_query().options(selectinload(CustomerOrganization.accounts))

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        if model is not None and request.method == "GET":
            form.cnpj.data = format_document(model.cnpj)

    def validate_change(self, form, model, is_created):
        model.company_id = model.company_id or current_company_id()
        service.check_organization(model, exclude_id=None if is_created else model.id)

    def validate_delete(self, model):
        service.check_organization_delete(model)

    def render(self, template, **kwargs):
        model = kwargs.get("model")
        if model is not None and template == self.details_template:
            kwargs["representatives"] = db.session.scalars(
                PortalAccount.owned(model.company_id)
                .where(PortalAccount.organization_id == model.id)
                .order_by(PortalAccount.name)).all()
            kwargs["representative_status"] = status_of
        return super().render(template, **kwargs)


# --- Representantes ------------------------------------------------------------------------

STATUS_WAITING = _l("Convite pendente")
STATUS_READY = _l("Senha definida")
STATUS_NEW = _l("Sem convite")
STATUS_OFF = _l("Desativado")


def status_of(account: PortalAccount) -> str:
    if not account.active:
        return str(STATUS_OFF)
    if account.password_hash:
        return str(STATUS_READY)
    return str(STATUS_WAITING if account.invited_at else STATUS_NEW)


class OrganizationFilter(TenantOptionsFilter):
    def __init__(self, name):
        super().__init__(PortalAccount.organization_id, name)

    def tenant_options(self, company_id):
        rows = db.session.execute(select(CustomerOrganization.id, CustomerOrganization.name)
                                  .where(CustomerOrganization.company_id == company_id)
                                  .order_by(CustomerOrganization.name))
        return [(str(pk), name) for pk, name in rows]

    def apply(self, query, value, alias=None):
        return query.filter(PortalAccount.organization_id == value)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _when(value, empty) -> str:
    return local_datetime(value) if value else str(empty)


class RepresentativeView(PerRequestFilterOptions, TenantModelView):
    """The representatives: they log in to the portal only. No password travels through
    this screen: the representative sets it from the invitation link."""

    area = "organizations"
    can_view_details = True
    details_template = "admin/portal_representative_details.html"
    column_list = ["name", "email", "phone", "organization", "status", "last_login_at"]
    column_details_list = ["name", "email", "phone", "organization", "status", "contact",
                           "invited_at", "last_login_at", "created_at"]
    column_export_list = column_details_list
    column_searchable_list = ["name", "email"]
    column_filters = ["active", OrganizationFilter(_l("Cliente do portal"))]
    column_sortable_list = ["name", "email", "last_login_at"]
    column_default_sort = "name"
    column_labels = {
        "name": _l("Nome"), "email": _l("E-mail"), "phone": _l("Telefone"),
        "organization": _l("Cliente do portal"), "status": _l("Situação"), "active": _l("Ativo"),
        "contact": _l("Contato"), "invited_at": _l("Convidado em"),
        "last_login_at": _l("Último acesso"), "created_at": _l("Criado em"),
    }
    column_formatters = {
        "phone": lambda v, c, m, p: format_phone(m.phone),
        "status": lambda v, c, m, p: status_of(m),
        "contact": lambda v, c, m, p: m.contact.name if m.contact else "",
        "invited_at": lambda v, c, m, p: _when(m.invited_at, _l("Nunca")),
        "last_login_at": lambda v, c, m, p: _when(m.last_login_at, _l("Nunca")),
    }
    column_formatters_export = column_formatters
    form_columns = ["organization", "name", "email", "phone", "active"]

    def get_query(self):
        return super().get_query().options(joinedload(PortalAccount.organization),
                                           joinedload(PortalAccount.contact))
    form_overrides = {"email": StringField, "phone": StringField}
    form_args = {
        "organization": {"query_factory": lambda: db.session.scalars(
            CustomerOrganization.owned(current_company_id())
            .order_by(CustomerOrganization.name)),
            "allow_blank": False},
        "name": {"validators": [Length(max=120)]},
        "email": {"validators": [Length(max=254)],
                  "description": _l("O login do representante no portal.")},
        "phone": {"validators": [Length(max=32)],
                  "description": _l("Com DDD, em qualquer formato: (11) 98765-4321.")},
        "active": {"default": True, "description": _l(
            "Desmarcado: o representante não entra mais no portal, e as sessões abertas "
            "terminam na hora.")},
    }

    def on_form_prefill(self, form, id):
        model = self.get_one(id)
        if model is not None and request.method == "GET":
            form.phone.data = format_phone(model.phone)

    def validate_change(self, form, model, is_created):
        model.company_id = model.company_id or current_company_id()
        if is_created:
            model.auth_version = 1
        history = inspect(model).attrs.active.history
        was_active = True if is_created else (history.deleted[0] if history.deleted
                                              else model.active)
        service.check_account(model, exclude_id=None if is_created else model.id)
        service.on_account_saved(model, was_active)

    def is_action_allowed(self, name):
        if name in ("invite", "deactivate"):
            return self.can_edit
        return super().is_action_allowed(name)

    def _selected(self, ids):
        return get_query_for_ids(self.get_query(), self.model, [int(i) for i in ids]).all()

    @action("invite", _l("Enviar convite"),
            _l("Enviar o convite do portal aos representantes selecionados? Cada um recebe por "
               "e-mail um link de uso único, válido por 7 dias, para criar a senha."))
    def action_invite(self, ids):
        back = get_redirect_target() or self.get_url(".index_view")
        if not self.can_edit:
            return redirect(back)
        sent = 0
        try:
            for account in self._selected(ids):
                before = account.invited_at
                service.invite(account, request.host_url)  # flushes: history is gone after it
                audit.record(current_user, "update", account,
                             {"invited_at": [_iso(before), _iso(account.invited_at)]},
                             self.audit_company_id(account))
                sent += 1
            after_commit.commit()
        except RuleError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(back)
        if sent:
            flash(_("%(n)s convite(s) enviado(s).", n=sent), "success")
        else:
            flash(_("Nenhum representante selecionado."), "error")
        return redirect(back)

    @action("deactivate", _l("Desativar"),
            _l("Desativar os representantes selecionados? Eles saem do portal na hora e não "
               "entram mais."))
    def action_deactivate(self, ids):
        back = get_redirect_target() or self.get_url(".index_view")
        if not self.can_edit:
            return redirect(back)
        done = 0
        for account in self._selected(ids):
            if not account.active:
                continue
            changes = {"active": [True, False]}
            service.deactivate(account)
            audit.record(current_user, "update", account, changes, self.audit_company_id(account))
            done += 1
        db.session.commit()
        if done:
            flash(_("%(n)s representante(s) desativado(s).", n=done), "success")
        else:
            flash(_("Nenhum representante ativo selecionado."), "error")
        return redirect(back)


# --- Contatos: "Convidar para o portal" -------------------------------------------------------


class InviteForm(FlaskForm):
    organization = SelectField(_l("Cliente do portal"), choices=[], validate_choice=False)
    new_name = StringField(_l("Ou um novo cliente: nome"), validators=[Length(max=120)])
    new_cnpj = StringField(_l("CNPJ do novo cliente"), validators=[Length(max=32)],
                           description=CNPJ_HELP)


def _organization_choices(company_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(select(CustomerOrganization.id, CustomerOrganization.name,
                                     CustomerOrganization.cnpj)
                              .where(CustomerOrganization.company_id == company_id,
                                     CustomerOrganization.active.is_(True))
                              .order_by(func.lower(CustomerOrganization.name)))
    return [("", "—")] + [(str(pk), f"{name} ({format_document(cnpj)})" if cnpj else name)
                          for pk, name, cnpj in rows]


class PortalInviteMixin:
    """Mixed into ContactView: the contact's details page offers "Convidar para o portal",
    which makes the contact a representative of an organisation and e-mails the link.
    Needs the right to create representatives (organizations.create) and a contact the
    user can see (the carteira rules of ContactView.get_one)."""

    details_template = "admin/contact_details.html"

    def may_invite(self) -> bool:
        return (current_user.is_authenticated and current_user.can("organizations", "create")
                and self.allowed("view"))

    @expose("/convidar-portal/", methods=("GET", "POST"))
    def portal_invite_view(self):
        contact = self.get_one(request.args.get("id", ""))
        if contact is None:
            abort(404)
        if not self.may_invite():
            abort(403)
        form = InviteForm()
        form.organization.choices = _organization_choices(contact.company_id)
        back = self.get_url(".details_view", id=contact.id)
        if form.validate_on_submit():
            try:
                account = service.invite_contact(
                    contact, request.host_url, organization_id=form.organization.data or None,
                    new_name=form.new_name.data, new_cnpj=form.new_cnpj.data)
                audit.record(current_user, "create", account,
                             audit.pending_changes(account, True), current_company_id())
                after_commit.commit()
            except RuleError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                flash(_("Convite enviado para %(email)s.", email=account.email), "success")
                return redirect(back)
        return self.render("admin/portal_invite.html", contact=contact, form=form,
                           return_url=back)

    def invite_link(self, contact) -> Markup | None:
        if not self.may_invite():
            return None
        return Markup(url_for(".portal_invite_view", id=contact.id))
