"""The inbox's selection mode runs a manual automation rule (AUT-8, BLK-1): the list of
the company's active manual rules, and running one on the selected tickets (each ticket
the user may see and act on, in its own transaction)."""
from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from ..automation import rules
from ..extensions import db
from ..models.automation import AutomationRule
from ..services import RuleError
from ..services.inbox import MAX_BULK
from ..services.inputs import ids, list_field, opt_id
from ..web.api import ApiError, read_body
from .blueprint import bp
from .common import api


@bp.get("/api/automations")
@api
def manual_automations():
    return jsonify({"automations": [{"id": r.id, "name": r.name}
                                    for r in rules.manual_rules(current_user.company_id)]})


@bp.post("/api/tickets/bulk/automation")
@api
def bulk_automation():
    """Run the manual rule `rule_id` on `ticket_ids` (at most MAX_BULK)."""
    user = current_user
    body = read_body()
    rule_id = opt_id(body.get("rule_id"), _("Automação inválida."))
    ticket_ids = ids(list_field(body, "ticket_ids", "ids"), _("Lista de atendimentos inválida."))
    if not ticket_ids:
        raise RuleError(_("Selecione ao menos um atendimento."))
    if len(ticket_ids) > MAX_BULK:
        raise RuleError(_("Selecione no máximo %(n)s atendimentos por vez.", n=MAX_BULK))
    rule = AutomationRule.get_owned(user.company_id, rule_id) if rule_id else None
    if rule is None or rule.trigger != "manual" or not rule.active:
        raise ApiError(404, _("Automação não encontrada."))
    name = rule.name
    done, errors = rules.run_manual(rule, ticket_ids, user)
    db.session.rollback()  # nothing half-done stays in the session
    return jsonify({"done": done, "errors": errors,
                    "message": _("Automação %(name)s executada em %(n)s atendimento(s).",
                                 name=name, n=done)})
