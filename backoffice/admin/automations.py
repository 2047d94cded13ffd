"""Automações (AUT-8): rules "when (trigger) + if (conditions) + then (actions)".

Conditions and actions are edited by a small editor (static/automations/editor.js) that
writes two hidden JSON fields; the page gives it the company's choices (departments,
agents, tags, ...) as JSON. The server never trusts what comes back: each condition and
action goes through conditions.check / actions.check, which verify every id belongs to
the company, and the reason is shown in Portuguese with the form kept.
"""
from __future__ import annotations

import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..automation import actions, conditions, rules, timers
from ..extensions import db
from ..models import (
    Connection,
    Department,
    MessageTemplate,
    Period,
    ProviderTemplate,
    Reason,
    Tag,
)
from ..models.automation import TRIGGERS, AutomationRule, Flow
from ..models.channels import CONNECTION_KINDS
from ..services import RuleError, integrations, visibility
from ..tenancy import current_company_id
from .base import TenantModelView

MATCHES = {"all": _l("Todas as condições"), "any": _l("Qualquer uma das condições")}
MAX_ITEMS = 30  # conditions or actions of one rule


class JsonListField(HiddenField):
    """A hidden field holding a JSON list (written by the editor)."""

    def _value(self):
        return json.dumps(self.data if isinstance(self.data, list) else [], ensure_ascii=False)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            data = json.loads(valuelist[0] or "[]")
        except ValueError:
            self.data = []
            raise ValueError(_("Dados do editor inválidos."))
        if not isinstance(data, list):
            self.data = []
            raise ValueError(_("Dados do editor inválidos."))
        self.data = data


def _trigger_label(view, context, model, name):
    return str(TRIGGERS.get(model.trigger, model.trigger))


def _summary(view, context, model, name):
    text = rules.summary(model)
    if model.trigger == "idle" and model.idle_minutes:
        text = _("Após %(n)s min: ", n=model.idle_minutes) + text
    return text


def editor_options(company_id: int) -> dict:
    """Everything the editor's selects offer: the company's rows only."""

    def rows(model, label, *where, order=None):
        q = model.owned(company_id, model.id, label)
        for clause in where:
            q = q.where(clause)
        return [[i, str(n)] for i, n in db.session.execute(q.order_by(order or label)).all()]

    return {
        "condition_types": {k: str(v) for k, v in conditions.CONDITION_TYPES.items()},
        "action_types": {k: str(v) for k, v in actions.ACTION_TYPES.items()},
        "departments": rows(Department, Department.name),
        "agents": [[u.id, u.name] for u in visibility.agents_of(company_id)],
        "tags": rows(Tag, Tag.name, Tag.owner_id.is_(None)),
        "reasons": rows(Reason, Reason.name),
        "periods": rows(Period, Period.name),
        "connections": rows(Connection, Connection.name),
        "kinds": [[k, str(v)] for k, v in CONNECTION_KINDS.items()],
        "fields": [[k, str(v)] for k, v in conditions.field_choices(company_id)],
        "operators": [[k, str(v)] for k, v in conditions.OPERATORS.items()],
        "templates": rows(MessageTemplate, MessageTemplate.title,
                          MessageTemplate.active.is_(True)),
        "provider_templates": [[i, f"{n} ({lang})"] for i, n, lang in db.session.execute(
            ProviderTemplate.owned(company_id, ProviderTemplate.id, ProviderTemplate.name,
                                   ProviderTemplate.language)
            .where(ProviderTemplate.status == "APPROVED").order_by(ProviderTemplate.name))],
        "flows": rows(Flow, Flow.name),
        "methods": list(actions.HTTP_METHODS),
        "integrations": [[n, n] for n in integrations.names(company_id)],
    }


def check_rule(company_id: int, rule: AutomationRule) -> list[str]:
    """Why the rule cannot be saved (Portuguese), each reason with its row number."""
    errors = []
    conds, acts = rule.conditions or [], rule.actions or []
    if len(conds) > MAX_ITEMS or len(acts) > MAX_ITEMS:
        errors.append(_("Use no máximo %(n)s condições e %(n)s ações.", n=MAX_ITEMS))
        return errors
    for n, cond in enumerate(conds, 1):
        for reason in conditions.check(company_id, cond):
            errors.append(_("Condição %(n)s: %(reason)s", n=n, reason=reason))
    if not acts:
        errors.append(_("Inclua ao menos uma ação."))
    for n, action in enumerate(acts, 1):
        for reason in actions.check(company_id, action):
            errors.append(_("Ação %(n)s: %(reason)s", n=n, reason=reason))
    return errors


class AutomationRuleView(TenantModelView):
    area = "automations"
    create_template = "admin/automations/create.html"
    edit_template = "admin/automations/edit.html"
    column_list = ["position", "name", "trigger", "active", "summary"]
    column_export_list = ["position", "name", "trigger", "idle_minutes", "active", "summary",
                          "updated_at"]
    column_searchable_list = ["name"]
    column_filters = ["active"]
    column_sortable_list = ["position", "name", "trigger", "active"]
    column_default_sort = [("position", False), ("id", False)]
    column_labels = {
        "position": _l("Ordem"), "name": _l("Nome"), "trigger": _l("Quando"),
        "active": _l("Ativa"), "summary": _l("Resumo"), "idle_minutes": _l("Minutos parado"),
        "match": _l("Condições"), "updated_at": _l("Alterada em"),
        "conditions": _l("Condições"), "actions": _l("Ações"),
    }
    column_formatters = {
        "trigger": _trigger_label,
        "summary": _summary,
    }
    column_formatters_export = column_formatters
    form_columns = ["name", "active", "trigger", "idle_minutes", "match", "position",
                    "conditions", "actions"]
    form_overrides = {
        "trigger": SelectField, "match": SelectField, "idle_minutes": IntegerField,
        "position": IntegerField, "conditions": JsonListField, "actions": JsonListField,
    }
    form_args = {
        "name": {"validators": [InputRequired(), Length(max=80)],
                 "description": _l("Para você reconhecer a automação. Por exemplo: Boas-vindas "
                                   "fora do horário.")},
        "active": {"default": True,
                   "description": _l("Desmarque para desligar a automação sem excluí-la.")},
        "trigger": {"choices": [(k, v) for k, v in TRIGGERS.items()],
                    "validators": [InputRequired()],
                    "description": _l("Quando a automação é executada.")},
        "idle_minutes": {"validators": [Optional(), NumberRange(min=1, max=rules.IDLE_MAX_MINUTES)],
                         "description": _l("Só para \"Atendimento parado por N minutos\": de 1 "
                                           "a 43200 minutos sem nenhuma mensagem.")},
        "match": {"choices": [(k, v) for k, v in MATCHES.items()], "default": "all",
                  "description": _l("Se a automação exige todas as condições ou basta uma.")},
        "position": {"default": 0, "validators": [Optional(), NumberRange(min=0, max=9999)],
                     "description": _l("Automações do mesmo gatilho são executadas em ordem "
                                       "crescente.")},
        "conditions": {"default": list},
        "actions": {"default": list},
    }

    def _render_editor(self, template, **kwargs):
        kwargs["automation_options"] = editor_options(current_company_id())
        return super().render(template, **kwargs)

    def render(self, template, **kwargs):
        if template in (self.create_template, self.edit_template):
            return self._render_editor(template, **kwargs)
        return super().render(template, **kwargs)

    def validate_change(self, form, model, is_created):
        company_id = current_company_id()
        model.company_id = model.company_id or company_id
        model.name = (model.name or "").strip()
        if not model.name:
            raise RuleError(_("Informe o nome da automação."))
        if model.trigger not in TRIGGERS:
            raise RuleError(_("Escolha quando a automação é executada."))
        if model.match not in MATCHES:
            model.match = "all"
        if model.trigger == "idle":
            if not model.idle_minutes or not 1 <= model.idle_minutes <= rules.IDLE_MAX_MINUTES:
                raise RuleError(_("Informe os minutos parado (de 1 a 43200)."))
        else:
            model.idle_minutes = None
        model.position = model.position or 0
        taken = db.session.scalar(AutomationRule.owned(company_id, AutomationRule.id).where(
            AutomationRule.name == model.name, AutomationRule.id != (model.id or 0)))
        if taken is not None:
            raise RuleError(_("Já existe uma automação com esse nome."))
        errors = check_rule(company_id, model)
        if errors:
            raise RuleError(" ".join(errors))

    def after_model_change(self, form, model, is_created):
        super().after_model_change(form, model, is_created)
        if model.trigger == "idle" and model.active:
            # tickets already idle are counted from now on, not from their next message
            timers.reschedule_open_soon(model.company_id)
