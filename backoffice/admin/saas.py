"""SaaS screens of the super user (PLT-5): companies with their first admin, and plans."""
from __future__ import annotations

from flask import flash
from flask_admin.actions import action
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, StringField
from wtforms.validators import Length, Optional

from ..extensions import db
from ..models import Company
from ..models.company import MODULES
from ..services import RuleError, audit, saas
from .base import SaasModelView
from .company import CNPJ_FORM, COMPANY_LABELS, format_cnpj, normalise_cnpj, normalise_phone
from .users import EMAIL
from .widgets import CheckboxList


class SaasCompanyView(SaasModelView):
    column_list = ["name", "cnpj", "domain", "plan", "active", "created_at"]
    column_searchable_list = ["name", "domain", "cnpj"]
    column_filters = ["active"]
    column_labels = {**COMPANY_LABELS, "admin_name": _l("Nome do primeiro administrador"),
                     "admin_email": _l("E-mail do primeiro administrador"),
                     "admin_password": _l("Senha do primeiro administrador")}
    column_formatters = {"cnpj": lambda v, c, m, p: format_cnpj(m.cnpj)}
    form_columns = ["name", "cnpj", "email", "phone", "plan", "active",
                    "admin_name", "admin_email", "admin_password"]
    form_overrides = CNPJ_FORM["form_overrides"]
    form_args = CNPJ_FORM["form_args"]
    form_extra_fields = {
        "admin_name": StringField(_l("Nome do primeiro administrador"),
                                  validators=[Optional(), Length(max=120)]),
        "admin_email": StringField(_l("E-mail do primeiro administrador"),
                                   validators=[Optional(), EMAIL, Length(max=254)]),
        "admin_password": PasswordField(_l("Senha do primeiro administrador"),
                                        validators=[Optional(), Length(min=8, max=128)]),
    }

    @property
    def can_delete(self):
        return False  # a company is disabled, never deleted from the panel

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for name in ("admin_name", "admin_email", "admin_password"):
            delattr(form, name)
        return form

    def validate_change(self, form, model, is_created):
        model.cnpj = normalise_cnpj(model.cnpj)
        model.phone = normalise_phone(model.phone)
        if is_created:
            if not (form.admin_name.data and form.admin_email.data and form.admin_password.data):
                raise RuleError(_l("Informe nome, e-mail e senha do primeiro administrador."))
            saas.setup_company(model, form.admin_name.data, form.admin_email.data,
                               form.admin_password.data)

    def _set_active(self, ids, active: bool):
        # Forged ids ("abc") select nothing instead of raising a 500.
        wanted = [int(i) for i in ids if str(i).isdigit()]
        companies = db.session.query(Company).filter(Company.id.in_(wanted)).all()
        for company in companies:
            if company.active != active:
                company.active = active
                audit.record(current_user, "update", company, {"active": [not active, active]},
                             self.audit_company_id(company))
        db.session.commit()
        flash(_("%(n)d empresa(s) atualizada(s).", n=len(companies)), "success")

    @action("disable", _l("Desativar"), _l("Desativar as empresas selecionadas? Os usuários delas não poderão entrar."))
    def action_disable(self, ids):
        self._set_active(ids, False)

    @action("enable", _l("Ativar"), _l("Ativar as empresas selecionadas?"))
    def action_enable(self, ids):
        self._set_active(ids, True)


class PlanView(SaasModelView):
    column_list = ["name", "max_users", "max_channels", "modules", "active"]
    column_searchable_list = ["name"]
    column_labels = {"name": _l("Nome"), "max_users": _l("Máximo de usuários"),
                     "max_channels": _l("Máximo de canais"), "modules": _l("Módulos"),
                     "active": _l("Ativo")}
    column_formatters = {"modules": lambda v, c, m, p: ", ".join(str(MODULES.get(k, k)) for k in m.modules or ())}
    form_columns = ["name", "max_users", "max_channels", "modules", "active"]
    form_extra_fields = {"modules": CheckboxList(_l("Módulos"), choices=list(MODULES.items()))}
    form_args = {"max_users": {"validators": []}, "max_channels": {"validators": []}}

    def validate_change(self, form, model, is_created):
        if (model.max_users or 0) < 1 or (model.max_channels or 0) < 0:
            raise RuleError(_l("O plano precisa permitir ao menos 1 usuário; canais não pode ser negativo."))

    @property
    def can_delete(self):
        return True
