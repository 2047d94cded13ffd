"""Templates de mensagens (TPL-1..TPL-3) and Parâmetros (PAR-1)."""
from __future__ import annotations

from flask import abort, g, url_for
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from markupsafe import Markup
from wtforms import SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..web.downloads import private_file
from ..models import Company, MessageTemplate
from ..models.templates import TEMPLATE_KINDS
from ..services import settings as settings_service
from ..services import templates as service
from ..tenancy import current_company_id
from .base import CompanySettingsView, TenantModelView

FONT_AWESOME = "vendor/fontawesome-free-5.1.0-web/css/all.css"  # bundled with Flask-Admin

KIND_ICONS = {
    "text": "fas fa-comment-alt",
    "attachment": "fas fa-paperclip",
    "instagram": "fab fa-instagram",
    "facebook": "fab fa-facebook",
    "telegram": "fab fa-telegram-plane",
}
KIND_CHOICES = list(TEMPLATE_KINDS.items())


def kind_badge(model: MessageTemplate) -> Markup:
    return Markup('<span class="template-kind" data-kind="{kind}" title="{label}">'
                  '<i class="{icon} fa-fw" aria-hidden="true"></i> {label}</span>').format(
        kind=model.kind, label=model.kind_label, icon=KIND_ICONS.get(model.kind, "fas fa-question"))


def _yes_no(value: bool) -> str:
    return _("Sim") if value else _("Não")


class UploadField(FileField):
    """The attachment; the view reads it, it is never written onto the row."""

    def populate_obj(self, obj, name):
        pass


class MessageTemplateView(TenantModelView):
    """TPL-1..TPL-3. An attachment is checked by content and extension, stored with a
    random name under instance/uploads/<company>/templates/, and served only through
    `file/<id>` to users of the same company who may see this screen."""

    area = "templates"
    can_view_details = True
    column_list = ["kind", "shortcut", "title", "can_open_ticket", "active"]
    column_searchable_list = ["shortcut", "title", "body"]
    column_sortable_list = ["kind", "shortcut", "title", "active"]
    column_default_sort = "shortcut"
    column_filters = [FilterEqual(MessageTemplate.kind, _l("Tipo"), options=KIND_CHOICES)]
    column_labels = {
        "kind": _l("Tipo"), "shortcut": _l("Atalho"), "title": _l("Título"),
        "body": _l("Mensagem"), "active": _l("Ativo"), "upload": _l("Arquivo"),
        "can_open_ticket": _l("Pode abrir atendimento"), "file_name": _l("Arquivo"),
        "created_at": _l("Criado em"),
    }
    column_formatters = {
        "kind": lambda v, c, m, p: kind_badge(m),
        "can_open_ticket": lambda v, c, m, p: _yes_no(m.can_open_ticket),
    }
    column_formatters_export = {
        "kind": lambda v, c, m, p: m.kind_label,
        "can_open_ticket": lambda v, c, m, p: _yes_no(m.can_open_ticket),
        "active": lambda v, c, m, p: _yes_no(m.active),
    }
    column_details_list = ["kind", "shortcut", "title", "body", "file_name", "can_open_ticket",
                           "active", "created_at"]
    column_formatters_detail = {
        "kind": lambda v, c, m, p: kind_badge(m),
        "can_open_ticket": lambda v, c, m, p: _yes_no(m.can_open_ticket),
        "file_name": lambda v, c, m, p: _file_link(m),
    }
    column_export_list = ["kind", "shortcut", "title", "body", "can_open_ticket", "active"]
    form_columns = ["kind", "shortcut", "title", "body", "upload", "active"]
    form_overrides = {"kind": SelectField, "body": TextAreaField}
    form_args = {
        "kind": {"choices": KIND_CHOICES, "default": "text",
                 "description": _l("Texto e Anexo são atalhos na barra de mensagens. Instagram, "
                                   "Facebook e Telegram também podem abrir ou reabrir um "
                                   "atendimento após a janela de 24 horas do canal.")},
        "shortcut": {"validators": [InputRequired(), Length(max=40)],
                     "description": _l("Digitado na barra de mensagens, por exemplo /bomdia.")},
        "title": {"validators": [InputRequired(), Length(max=120)]},
        "body": {"validators": [Length(max=service.MAX_BODY)],
                 "render_kw": {"rows": 5},
                 "description": _l("Obrigatória, exceto no tipo Anexo (legenda opcional).")},
        "active": {"default": True},
    }
    form_extra_fields = {
        "upload": UploadField(_l("Arquivo"), description=_l(
            "Só no tipo Anexo: imagem (JPEG, PNG, GIF, WebP), vídeo MP4, áudio MP3 ou OGG, "
            "documento PDF, DOCX ou XLSX; até 16 MB.")),
    }

    @property
    def extra_css(self):
        return [url_for("admin.static", filename=FONT_AWESOME)]

    # -- the file -------------------------------------------------------------------
    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None and obj.file_key:
            form.upload.description = Markup("{} {} ({}). {}").format(
                _("Arquivo atual:"), _file_link(obj), service.human_size(obj.file_size or 0),
                _("Envie outro para substituí-lo."))
        return form

    def validate_change(self, form, model, is_created):
        storage = form.upload.data if "upload" in form else None
        upload = service.read_upload(storage) if storage else None
        model.company_id = model.company_id or current_company_id()
        service.check_template(model, upload, exclude_id=None if is_created else model.id)
        ops = g.setdefault("template_files", {"new": None, "old": []})
        if upload is not None:
            if model.file_key:
                ops["old"].append(model.file_key)
            ops["new"] = (service.attach(model, upload), upload.data)
        elif model.kind != "attachment" and model.file_key:
            ops["old"].append(model.file_key)
            service.detach(model)

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        new = g.get("template_files", {}).get("new")
        if new:  # written before the commit; removed again if the commit fails
            service.write_file(model.company_id, *new)

    def _save(self, model, result):
        ops = g.pop("template_files", None) or {"new": None, "old": []}
        company_id = current_company_id()
        if result:
            for key in ops["old"]:
                service.remove_file(company_id, key)
        elif ops["new"]:
            service.remove_file(company_id, ops["new"][0])
        return result

    def create_model(self, form):
        g.pop("template_files", None)
        return self._save(None, super().create_model(form))

    def update_model(self, form, model):
        g.pop("template_files", None)
        return self._save(model, super().update_model(form, model))

    def after_model_delete(self, model):
        service.remove_file(model.company_id, model.file_key)

    @expose("/file/<int:template_id>")
    def file_view(self, template_id):
        template = self.get_one(str(template_id))
        if template is None or not template.file_key:
            abort(404)
        path = service.file_path(template.company_id, template.file_key)
        if not path.is_file():
            abort(404)
        return private_file(path, template.file_name, template.file_mime)


def _file_link(model: MessageTemplate) -> Markup:
    if not model.file_key:
        return Markup("")
    return Markup('<a href="{}">{}</a>').format(
        url_for("templates.file_view", template_id=model.id), model.file_name)


# --- Parâmetros ----------------------------------------------------------------------------

SETTINGS_LABELS = {
    "company": _l("Empresa"),
    "cpf_required_pf": _l("CPF obrigatório no cadastro manual de pessoa física"),
    "cnpj_required_pj": _l("CNPJ obrigatório no cadastro manual de pessoa jurídica"),
    "support_access_allowed": _l("Permitir acesso do usuário de suporte"),
    "wallet_enabled": _l("Carteira de clientes (cada atendente vê só seus contatos)"),
    "sla_minutes": _l("Meta de primeira resposta (minutos)"),
    "updated_at": _l("Alterado em"),
}
SLA_DEFAULT_MINUTES, SLA_MAX_MINUTES = 15, 1440


def _sla_minutes(form, field):
    if field.data is not None and not 1 <= field.data <= SLA_MAX_MINUTES:
        raise ValidationError(_("Informe um número inteiro de minutos entre 1 e %(max)d.",
                                max=SLA_MAX_MINUTES))


class SettingsView(CompanySettingsView):
    """PAR-1: the company's single settings row; made at its first save, never created
    or deleted through the screen."""

    area = "parameters"
    can_export = False
    column_list = ["company", "cpf_required_pf", "cnpj_required_pj", "support_access_allowed",
                   "wallet_enabled", "updated_at"]
    column_details_list = column_list
    column_labels = SETTINGS_LABELS
    column_formatters = {
        "company": lambda v, c, m, p: m.company.name,
        "cpf_required_pf": lambda v, c, m, p: _yes_no(m.cpf_required_pf),
        "cnpj_required_pj": lambda v, c, m, p: _yes_no(m.cnpj_required_pj),
        "support_access_allowed": lambda v, c, m, p: _yes_no(m.support_access_allowed),
        "wallet_enabled": lambda v, c, m, p: _yes_no(m.wallet_enabled),
    }
    form_columns = ["cpf_required_pf", "cnpj_required_pj", "support_access_allowed",
                    "wallet_enabled", "sla_minutes"]
    form_args = {
        "sla_minutes": {"validators": [Optional(), _sla_minutes], "description": _l(
            "Os relatórios contam a parcela dos atendimentos respondidos dentro deste tempo "
            "(SLA); sem alerta de espera próprio, o departamento usa este tempo no painel. "
            "De 1 a 1440.")},
        "support_access_allowed": {"description": _l(
            "Marcado: a equipe de suporte do Atende pode entrar na sua empresa para ajudar.")},
        "wallet_enabled": {"description": _l(
            "Marcado: cada atendente vê só os contatos da própria carteira.")},
    }

    def validate_change(self, form, model, is_created):
        super().validate_change(form, model, is_created)
        if model.sla_minutes is None:  # left empty: the default target
            model.sla_minutes = SLA_DEFAULT_MINUTES

    def default_row(self, company_id):
        row = settings_service.read_settings(company_id)
        if row.company is None:  # unsaved: the list shows the company's name
            row.company = self.session.get(Company, company_id)
        return row
