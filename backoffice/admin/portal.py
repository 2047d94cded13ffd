"""Fale Conosco (POR-1) configuration: "Classificações de atendimento" with their
sub-classifications, "Formas de contato" and "Portal Fale Conosco" (the company's one
PortalSettings row). Rules in services/portal/{catalog,settings}.py."""
from __future__ import annotations

from flask import request
from flask_admin.model.form import InlineFormAdmin
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import inspect
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, FileField, TextAreaField
from wtforms.fields import ColorField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from ..extensions import db
from ..lib import after_commit
from ..models import Company
from ..models.portal import ServiceClassification, ServiceSubclassification
from ..services import catalog as tag_rules
from ..services import connections, images
from ..services.portal import catalog
from ..services.portal import settings as service
from ..tenancy import current_company_id
from .base import CompanySettingsView, TenantModelView


def _yes_no(value) -> str:
    return _("Sim") if value else _("Não")


# --- Classificações de atendimento ------------------------------------------------------------


def _subclassifications(view, context, model, name):
    inactive = _("inativa")
    return ", ".join(s.name if s.active else f"{s.name} ({inactive})"
                     for s in model.subclassifications)


class SubclassificationInline(InlineFormAdmin):
    """The classification's sub-classifications, edited on its own form."""

    form_columns = ["id", "name", "active", "position", "department"]
    form_label = _l("Sub-classificação")
    form_args = {
        "name": {"label": _l("Nome"), "validators": [Length(max=80)]},
        "active": {"label": _l("Ativa"), "default": True},
        "position": {"label": _l("Ordem"), "default": 0, "validators": [Optional()]},
        "department": {"label": _l("Departamento"), "description": _l(
            "Para onde vão os protocolos desta sub-classificação. Em branco: a distribuição "
            "normal da conexão do portal.")},
    }


class ClassificationView(TenantModelView):
    area = "classifications"
    column_list = ["name", "subclassifications", "in_portal", "position", "active"]
    column_searchable_list = ["name"]
    column_filters = ["active", "in_portal"]
    column_sortable_list = ["name", "position", "active", "in_portal"]
    column_default_sort = [("position", False), ("name", False)]
    column_labels = {
        "name": _l("Nome"), "active": _l("Ativa"), "position": _l("Ordem"),
        "in_portal": _l("Oferecida no portal"), "subclassifications": _l("Sub-classificações"),
        "created_at": _l("Criada em"),
    }
    column_descriptions = {
        "in_portal": _l("Marcada: o representante pode escolhê-la ao abrir um contato no portal."),
        "position": _l("Menor primeiro, nas listas do portal e do atendimento."),
    }
    column_formatters = {"subclassifications": _subclassifications}
    column_formatters_export = {"subclassifications": _subclassifications}
    form_columns = ["name", "active", "position", "in_portal"]
    form_args = {
        "name": {"validators": [Length(max=80)], "description": _l("Por exemplo: Financeiro.")},
        "active": {"default": True},
        "position": {"default": 0, "validators": [Optional()]},
        "in_portal": {"default": True},
    }
    inline_models = [SubclassificationInline(ServiceSubclassification)]

    def get_query(self):
        # loaded with the rows: the CSV export formats them after the request's session
        return super().get_query().options(selectinload(ServiceClassification.subclassifications))

    def validate_change(self, form, model, is_created):
        model.company_id = model.company_id or current_company_id()
        catalog.check_classification(model, exclude_id=None if is_created else model.id)
        catalog.check_subclassification_removal(model)

    def validate_delete(self, model):
        catalog.check_classification_delete(model)


# --- Formas de contato -------------------------------------------------------------------------


class ContactMethodView(TenantModelView):
    area = "contact_methods"
    column_list = ["name", "position", "active"]
    column_searchable_list = ["name"]
    column_filters = ["active"]
    column_sortable_list = ["name", "position", "active"]
    column_default_sort = [("position", False), ("name", False)]
    column_labels = {"name": _l("Nome"), "active": _l("Ativa"), "position": _l("Ordem"),
                     "created_at": _l("Criada em")}
    form_columns = ["name", "position", "active"]
    form_args = {
        "name": {"validators": [Length(max=60)],
                 "description": _l("Por exemplo: Telefone, E-mail, WhatsApp.")},
        "active": {"default": True},
        "position": {"default": 0, "validators": [Optional()]},
    }

    def validate_change(self, form, model, is_created):
        model.company_id = model.company_id or current_company_id()
        catalog.check_contact_method(model, exclude_id=None if is_created else model.id)

    def validate_delete(self, model):
        catalog.check_contact_method_delete(model)


# --- Portal Fale Conosco -----------------------------------------------------------------------


class _NotAColumn(FileField):
    def populate_obj(self, obj, name):
        """Read by the view: stored through services/images, never onto the row as is."""


class _RemoveLogo(BooleanField):
    def populate_obj(self, obj, name):
        """Read by the view."""


def _company(model) -> Company | None:
    return db.session.get(Company, model.company_id) if model.company_id else None


def _address(view, context, model, name):
    company = _company(model)
    if not model.enabled or company is None:
        return _("Portal desativado")
    url = service.portal_url(company, request.host_url)
    return Markup('<a href="{0}" target="_blank" rel="noopener">{0}</a>').format(url)


class PortalSettingsView(CompanySettingsView):
    """The company's portal: on/off, title, colour, logo, welcome text, the Novo contato
    options. Turning it on creates the portal's connection (services.portal.channel)."""

    area = "portal"
    can_export = False
    edit_template = "admin/portal_settings_edit.html"
    column_list = ["title", "enabled", "address", "color", "ask_contact_method",
                   "allow_reopen", "updated_at"]
    column_details_list = ["title", "enabled", "address", "color", "welcome_text",
                           "ask_contact_method", "allow_reopen", "updated_at"]
    column_labels = {
        "enabled": _l("Portal ativado"), "title": _l("Título"), "color": _l("Cor"),
        "welcome_text": _l("Texto de boas-vindas"), "address": _l("Endereço do portal"),
        "ask_contact_method": _l("Perguntar a forma de contato"),
        "allow_reopen": _l("Permitir reabrir protocolos finalizados"),
        "logo": _l("Logo do portal"), "remove_logo": _l("Remover logo do portal"),
        "updated_at": _l("Alterado em"),
    }
    column_formatters = {
        "address": _address,
        "enabled": lambda v, c, m, p: _yes_no(m.enabled),
        "ask_contact_method": lambda v, c, m, p: _yes_no(m.ask_contact_method),
        "allow_reopen": lambda v, c, m, p: _yes_no(m.allow_reopen),
    }
    column_formatters_detail = column_formatters
    form_columns = ["enabled", "title", "color", "logo", "remove_logo", "welcome_text",
                    "ask_contact_method", "allow_reopen"]
    form_overrides = {"color": ColorField, "welcome_text": TextAreaField}
    form_args = {
        "enabled": {"description": _l("Marcado: os representantes dos clientes entram no "
                                      "portal pelo endereço mostrado acima.")},
        "title": {"validators": [Length(max=80)], "description": _l(
            "No topo das páginas do portal. Em branco: o nome da empresa.")},
        "color": {"default": service.DEFAULT_COLOR, "render_kw": {"style": "max-width: 6em"},
                  "validators": [InputRequired(message=tag_rules.COLOR_MESSAGE), Length(max=7),
                                 Regexp(tag_rules.COLOR_RE, message=tag_rules.COLOR_MESSAGE)]},
        "welcome_text": {"validators": [Length(max=service.MAX_WELCOME)],
                         "render_kw": {"rows": 4},
                         "description": _l("Mostrado na página inicial do portal, como texto.")},
        "ask_contact_method": {"description": _l(
            "Marcado: o Novo contato pergunta a forma de contato preferida (Formas de contato).")},
        "allow_reopen": {"description": _l(
            "Marcado: uma resposta do representante a um protocolo finalizado o reabre. "
            "Desmarcado: ele é orientado a abrir um novo contato.")},
    }
    form_extra_fields = {
        "logo": _NotAColumn(_l("Logo do portal"),
                            render_kw={"accept": "image/png,image/jpeg,image/webp"},
                            description=_l("PNG, JPEG ou WebP de até %(size)s; ajustado para caber "
                                           "em 400 × 120 pixels. Sem logo próprio, o portal usa "
                                           "o logo da empresa.", size="2 MB")),
        "remove_logo": _RemoveLogo(_l("Remover logo do portal")),
    }

    def default_row(self, company_id):
        return service.read_settings(company_id)

    def validate_change(self, form, model, is_created):
        super().validate_change(form, model, is_created)
        service.check_settings(model)
        connections.check_portal_switch_on(model)  # before the logo is stored

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        picture = images.read_logo(form.logo.data) if "logo" in form else None
        if picture is not None:
            service.set_logo(model, picture)
        elif "remove_logo" in form and form.remove_logo.data and model.logo_key:
            service.set_logo(model, None)
        service.after_save(model)

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        after_commit.commit()  # Flask-Admin committed: the replaced logo file goes now

    def render(self, template, **kwargs):
        model = kwargs.get("model")
        if model is not None and template == self.edit_template:
            company = _company(model)
            saved_on = model.enabled and not inspect(model).transient and company is not None
            kwargs["portal_address"] = (service.portal_url(company, request.host_url)
                                        if saved_on else None)
        return super().render(template, **kwargs)
