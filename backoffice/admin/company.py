"""Empresa (CO-1, CO-2): the company's own data and preferences."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from babel.core import get_global
from babel.dates import get_timezone_location
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import Length

from ..models import Company
from ..services import RuleError, protocols
from ..lib.documents import format_document, normalise_cnpj  # noqa: F401 (saas)
from ..lib.phones import normalise_phone  # noqa: F401 (saas)
from ..tenancy import current_company_id
from .base import SecureModelView, SingleRowMixin
from .images import ImageUploadMixin, logo_fields
from .users import LANGUAGES

# UX-5: Brazil's zones first (most companies are there), labelled by the city people know
# the hour by; Brasília and Manaus lead, the rest of Brazil follows by name.
BRAZIL_LABELS = {
    "America/Sao_Paulo": "Brasília", "America/Manaus": "Manaus",
    "America/Araguaina": "Araguaína", "America/Bahia": "Salvador",
    "America/Belem": "Belém", "America/Boa_Vista": "Boa Vista",
    "America/Campo_Grande": "Campo Grande", "America/Cuiaba": "Cuiabá",
    "America/Eirunepe": "Eirunepé", "America/Fortaleza": "Fortaleza",
    "America/Maceio": "Maceió", "America/Noronha": "Fernando de Noronha",
    "America/Porto_Velho": "Porto Velho", "America/Recife": "Recife",
    "America/Rio_Branco": "Rio Branco", "America/Santarem": "Santarém",
}
# The tz database's regions; its aliases ("Brazil/East", "US/Pacific", "Etc/GMT+3") would
# list the same clocks twice under names nobody picks.
REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/",
           "Indian/", "Pacific/")
_ZONES = available_timezones()
BRAZIL_ZONES = ["America/Sao_Paulo", "America/Manaus"] + sorted(
    (tz for tz, land in get_global("zone_territories").items()
     if land == "BR" and tz in _ZONES and tz not in ("America/Sao_Paulo", "America/Manaus")),
    key=lambda tz: BRAZIL_LABELS.get(tz, tz))
OTHER_ZONES = sorted(tz for tz in _ZONES if tz.startswith(REGIONS) and tz not in BRAZIL_ZONES)
TIMEZONES = BRAZIL_ZONES + OTHER_ZONES + ["UTC"]


@lru_cache(maxsize=4)
def _zone_labels(locale: str) -> tuple[tuple[str, str], ...]:
    def label(tz: str) -> str:
        city = BRAZIL_LABELS.get(tz)
        if city is None:
            try:
                city = get_timezone_location(tz, locale=locale, return_city=True)
            except LookupError:
                city = tz.rsplit("/", 1)[-1].replace("_", " ")
        return f"{city} ({tz})"

    return tuple((tz, label(tz)) for tz in TIMEZONES[:-1]) + (("UTC", "UTC"),)


def timezone_label(tz: str | None) -> str:
    """"Brasília (America/Sao_Paulo)": the picker's label of a stored zone."""
    return dict(_zone_labels(str(get_locale() or "pt_BR"))).get(tz, tz or "")


def timezone_choices() -> dict:
    """The picker's choices, grouped: Brasil, then every other zone (searchable)."""
    labels = _zone_labels(str(get_locale() or "pt_BR"))
    count = len(BRAZIL_ZONES)
    return {str(_l("Brasil")): list(labels[:count]), str(_l("Outros fusos")): list(labels[count:])}


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


class CompanyView(ImageUploadMixin, SingleRowMixin, SecureModelView):
    """A company edits its own row only; it never creates or deletes companies."""

    area = "company"
    can_export = False
    edit_template = "admin/company_edit.html"
    column_list = ["name", "cnpj", "email", "phone", "domain", "timezone"]
    column_labels = COMPANY_LABELS
    column_formatters = {"cnpj": lambda v, c, m, p: format_cnpj(m.cnpj),
                         "timezone": lambda v, c, m, p: timezone_label(m.timezone)}
    # UX-5: what a user who may only look sees instead of the form
    column_details_list = ["name", "cnpj", "email", "phone", "address", "domain", "timezone"]
    # UX-5: an uploaded logo replaces the old "Logo (URL da imagem)", which the pages'
    # CSP (img-src 'self') would never show.
    form_columns = ["name", "cnpj", "email", "phone", "address", "logo", "remove_logo",
                    "timezone", "language", "show_agent_name", "require_2fa_admins"]
    form_overrides = CNPJ_FORM["form_overrides"]
    form_args = CNPJ_FORM["form_args"]
    form_extra_fields = {
        "timezone": SelectField(_l("Fuso horário"), choices=TIMEZONES, default="America/Sao_Paulo",
                                render_kw={"data-role": "select2", "data-testid": "timezone",
                                           "style": "width: 100%"}),
        "language": SelectField(_l("Idioma padrão"), choices=LANGUAGES, default="pt_BR"),
        **logo_fields(),
    }

    def get_query(self):
        return super().get_query().filter(Company.id == current_company_id())

    def get_count_query(self):
        return super().get_count_query().filter(Company.id == current_company_id())

    def get_one(self, id):
        obj = super().get_one(id)
        return obj if obj is not None and obj.id == current_company_id() else None

    def row_id(self):
        return current_company_id()

    def validate_change(self, form, model, is_created):
        model.cnpj = normalise_cnpj(model.cnpj)
        model.phone = normalise_phone(model.phone)

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.timezone.choices = timezone_choices()
        if obj is not None:
            form.cnpj.data = form.cnpj.data if form.cnpj.raw_data else format_cnpj(obj.cnpj)
        return form

    def render(self, template, **kwargs):
        model = kwargs.get("model")
        if model is not None and template == self.edit_template:
            kwargs["last_protocol"] = protocols.last_protocol(model)
        return super().render(template, **kwargs)
