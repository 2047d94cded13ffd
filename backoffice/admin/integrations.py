"""Integrações (INT-1): the company's named HTTP endpoints, called by name by the chatbot's
HTTP node and the automation rules.

Header values (API keys, tokens) never reach a page: the list, details and export show
the names only ("Authorization: ••••"), the edit form shows the same mask and a line
sent back with the mask keeps the stored value. The audit log records that the headers
changed, not what they hold (services.audit.MASKED).
"""
from __future__ import annotations

from flask import flash, redirect
from flask_admin.actions import action
from flask_admin.contrib.sqla.tools import get_query_for_ids
from flask_admin.helpers import get_redirect_target
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from ..services import RuleError
from ..services import integrations as rules
from ..services import webhooks as url_rules
from .base import TenantModelView


RENAME_USED = _l("Não é possível renomear a integração: ela é chamada por %(names)s.")
DELETE_USED = _l("Não é possível excluir a integração: ela é chamada por %(names)s.")


def _valid_url(form, field):
    try:
        field.data = url_rules.check_url(field.data)
    except RuleError as exc:
        raise ValidationError(str(exc))


def _header_names(view, context, model, name):
    return ", ".join(f"{header}: {rules.MASK}" for header in rules.header_names(model))


class IntegrationView(TenantModelView):
    area = "integrations"
    can_view_details = True
    column_list = ["name", "method", "url", "timeout", "active", "headers"]
    column_details_list = ["name", "method", "url", "timeout", "active", "headers", "created_at"]
    column_export_list = column_details_list
    column_searchable_list = ["name", "url"]
    column_filters = ["active"]
    column_sortable_list = ["name", "method", "url", "timeout", "active"]
    column_default_sort = "name"
    column_labels = {
        "name": _l("Nome"), "method": _l("Método"), "url": _l("URL"),
        "timeout": _l("Tempo limite (s)"), "active": _l("Ativa"), "headers": _l("Cabeçalhos"),
        "header_lines": _l("Cabeçalhos"), "created_at": _l("Criada em"),
    }
    column_formatters = {"headers": _header_names}
    column_formatters_detail = column_formatters
    column_formatters_export = column_formatters
    form_columns = ["name", "method", "url", "timeout", "active", "header_lines"]
    form_overrides = {"method": SelectField, "timeout": IntegerField}
    form_args = {
        "name": {"validators": [InputRequired()],
                 "description": _l("O nome pelo qual o chatbot e as automações chamam a "
                                   "integração. Por exemplo: ERP.")},
        "method": {"choices": [(m, m) for m in rules.METHODS], "default": "POST"},
        "url": {"validators": [_valid_url],
                "description": _l("Endereço chamado, http:// ou https://, na internet pública.")},
        "timeout": {"default": rules.DEFAULT_TIMEOUT,
                    "validators": [InputRequired(),
                                   NumberRange(min=rules.MIN_TIMEOUT, max=rules.MAX_TIMEOUT)],
                    "description": _l("Segundos de espera pela resposta, de 1 a 30.")},
        "active": {"default": True,
                   "description": _l("Desmarque para suspender as chamadas sem excluir a "
                                     "integração.")},
    }
    form_extra_fields = {
        "header_lines": TextAreaField(
            _l("Cabeçalhos"), render_kw={"rows": 4, "autocomplete": "off"},
            description=_l("Um por linha, no formato Nome: valor (por exemplo: Authorization: "
                           "Bearer abc123). Os valores são guardados cifrados e não são "
                           "mostrados de novo: deixe •••• para manter o valor guardado.")),
    }

    def on_form_prefill(self, form, id):
        form.header_lines.data = rules.masked(self.get_one(id))

    def validate_change(self, form, model, is_created):
        if not is_created and (model.name or "").strip() != self._old_name(model):
            self._refuse_if_used(model, self._old_name(model), RENAME_USED)
        rules.check(model)
        stored = {} if is_created else rules.headers_of(model)
        rules.set_headers(model, rules.from_lines(form.header_lines.data, stored))

    def validate_delete(self, model):
        self._refuse_if_used(model, model.name, DELETE_USED)

    @staticmethod
    def _old_name(model) -> str:
        changed = inspect(model).attrs.name.history
        return changed.deleted[0] if changed.deleted else model.name

    @staticmethod
    def _refuse_if_used(model, name, message):
        users = rules.used_by(model.company_id, name)
        if users:
            raise RuleError(str(message) % {"names": ", ".join(users[:5])})

    def is_action_allowed(self, name):
        if name == "test":
            return self.can_edit
        return super().is_action_allowed(name)

    @action("test", _l("Testar"),
            _l("Enviar agora uma requisição de teste às integrações selecionadas?"))
    def action_test(self, ids):
        if not self.can_edit:  # also checked by handle_action; kept next to the request
            return redirect(self.get_url(".index_view"))
        found = get_query_for_ids(self.get_query(), self.model, ids).all()
        if not found:
            flash(_("Nenhuma integração selecionada."), "error")
        for integration in found:
            flash(_("%(name)s: %(result)s", name=integration.name,
                    result=rules.test(integration)), "info")
        return redirect(get_redirect_target() or self.get_url(".index_view"))
