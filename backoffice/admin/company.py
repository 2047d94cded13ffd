"""Empresa (CO-1, CO-2): the company's own data and preferences."""
from __future__ import annotations

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Length

from ..models import Company
from ..services import RuleError, protocols
from ..lib.documents import format_document, normalise_cnpj  # noqa: F401 (saas)
from ..lib.phones import normalise_phone  # noqa: F401 (saas)
from ..tenancy import current_company_id
from .base import SecureModelView, SingleRowMixin
from .users import LANGUAGES

TIMEZONES = sorted(tz for tz in available_timezones() if tz.startswith(("America/", "Europe/", "UTC")))


def format_cnpj(value: str | None) -> str:
    return format_document(value)


# The CNPJ column holds 14 digits, but people type it formatted ("11.444.777/0001-61"):
# the field must not inherit the column's 14-character limit; normalise_cnpj validates it.
CNPJ_FORM = {"form_overrides": {"cnpj": StringField},
             "form_args": {"cnpj": {"validators": [Length(max=32)]}}}

COMPANY_LABELS = {
    "name": _l("Nome"), "cnpj": _l("CNPJ"), "email": _l("E-mail"), "phone": _l("Telefone"),
    "address": _l("Endereço"), "logo_url": _l("Logo (URL da imagem)"), "domain": _l("Domínio"),
    "timezone": _l("Fuso horário"), "language": _l("Idioma padrão"),
    "show_agent_name": _l("Mostrar o nome do atendente nas mensagens enviadas"),
    "plan": _l("Plano"), "active": _l("Ativa"), "created_at": _l("Criada em"),
    "require_2fa_admins": _l("Exigir verificação em duas etapas dos administradores"),
}


class CompanyView(SingleRowMixin, SecureModelView):
    """A company edits its own row only; it never creates or deletes companies."""

    area = "company"
    can_export = False
    edit_template = "admin/company_edit.html"
    column_list = ["name", "cnpj", "email", "phone", "domain", "timezone"]
    column_labels = COMPANY_LABELS
    column_formatters = {"cnpj": lambda v, c, m, p: format_cnpj(m.cnpj)}
    form_columns = ["name", "cnpj", "email", "phone", "address", "logo_url",
                    "timezone", "language", "show_agent_name", "require_2fa_admins"]
    form_overrides = CNPJ_FORM["form_overrides"]
    form_args = CNPJ_FORM["form_args"]
    form_extra_fields = {
        "timezone": SelectField(_l("Fuso horário"), choices=TIMEZONES, default="America/Sao_Paulo"),
        "language": SelectField(_l("Idioma padrão"), choices=LANGUAGES, default="pt_BR"),
    }

    def get_query(self):
        return super().get_query().filter(Company.id == current_company_id())

    def get_count_query(self):
        return super().get_count_query().filter(Company.id == current_company_id())

    def get_one(self, id):
        obj = super().get_one(id)
        return obj if obj is not None and obj.id == current_company_id() else None

    def validate_change(self, form, model, is_created):
        model.cnpj = normalise_cnpj(model.cnpj)
        model.phone = normalise_phone(model.phone)

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        if obj is not None:
            form.cnpj.data = form.cnpj.data if form.cnpj.raw_data else format_cnpj(obj.cnpj)
        return form

    def render(self, template, **kwargs):
        model = kwargs.get("model")
        if model is not None and template == self.edit_template:
            kwargs["last_protocol"] = protocols.last_protocol(model)
        return super().render(template, **kwargs)
