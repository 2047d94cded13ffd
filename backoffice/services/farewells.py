"""Rules for Mensagens de despedida (AUT-6): offered to the agent when closing a ticket."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import FarewellMessage
from . import RuleError
from .messages import unknown_variables_message, validate_template

MAX_BODY = 4096


def check_farewell(farewell: FarewellMessage, exclude_id: int | None = None) -> FarewellMessage:
    """Tidy and check a farewell message; RuleError with the reason.

    The title is unique per company (case- and accent-exact, case-insensitive), the body
    is required and may only hold the variables of services.messages."""
    farewell.title = (farewell.title or "").strip()
    if not farewell.title:
        raise RuleError(_l("Informe o título da mensagem de despedida."))
    if len(farewell.title) > 80:
        raise RuleError(_l("O título pode ter no máximo 80 caracteres."))
    q = FarewellMessage.owned(farewell.company_id, FarewellMessage.title)
    if exclude_id is not None:
        q = q.where(FarewellMessage.id != exclude_id)
    wanted = farewell.title.casefold()
    if any((t or "").strip().casefold() == wanted for t in db.session.scalars(q)):
        raise RuleError(_l("Já existe uma mensagem de despedida com este título."))
    farewell.body = (farewell.body or "").strip()
    if not farewell.body:
        raise RuleError(_l("Escreva a mensagem de despedida."))
    if len(farewell.body) > MAX_BODY:
        raise RuleError(_l("A mensagem pode ter no máximo %(max)d caracteres.", max=MAX_BODY))
    unknown = validate_template(farewell.body)
    if unknown:
        raise RuleError(unknown_variables_message(unknown))
    return farewell


def active_farewells(company_id: int) -> list[FarewellMessage]:
    """What the agent may pick when closing a ticket, by title."""
    return list(db.session.scalars(
        FarewellMessage.owned(company_id).where(FarewellMessage.active.is_(True))
        .order_by(FarewellMessage.title)))
