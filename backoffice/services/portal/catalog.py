"""Rules of "Classificações de atendimento" (with their sub-classifications) and "Formas
de contato" (POR-1): names unique per company (per classification for a
sub-classification), compared without case; a sub-classification routes only to a
department of the same company; a classification or form of contact that protocols
use is deactivated, never deleted (the history would lose it)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ...extensions import db
from ...models import Department, PortalRequest, Ticket
from ...models.portal import ContactMethod, ServiceClassification, ServiceSubclassification
from .. import RuleError

MAX_POSITION = 10_000


def _same(a: str | None, b: str | None) -> bool:
    # in Python: SQLite's lower() folds ASCII only ("AÇÃO" would differ from "ação")
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _position(value) -> int:
    if value is None:
        return 0
    if not -MAX_POSITION <= value <= MAX_POSITION:
        raise RuleError(_l("Ordem inválida: use um número entre -10000 e 10000."))
    return value


def _check_named(row, exclude_id: int | None, missing, taken) -> None:
    """A company's named, ordered row: name required and unique in the company (whatever
    the case), order within range; tidied in place."""
    model = type(row)
    row.name = (row.name or "").strip()
    if not row.name:
        raise RuleError(missing)
    row.position = _position(row.position)
    q = model.owned(row.company_id, model.name)
    if exclude_id is not None:
        q = q.where(model.id != exclude_id)
    if any(_same(n, row.name) for n in db.session.scalars(q)):
        raise RuleError(taken)


def check_classification(row: ServiceClassification, exclude_id: int | None = None) -> None:
    """Tidy the classification and its sub-classifications in place; RuleError for what
    must be fixed. `row.subclassifications` holds what the form will keep."""
    _check_named(row, exclude_id, _l("Informe o nome da classificação."),
                 _l("Já existe uma classificação com este nome."))
    seen: list[str] = []
    for sub in kept_subclassifications(row):
        check_subclassification(sub, row.company_id)
        if any(_same(n, sub.name) for n in seen):
            raise RuleError(_l("Sub-classificação repetida: %(name)s.", name=sub.name))
        seen.append(sub.name)


def kept_subclassifications(row: ServiceClassification) -> list[ServiceSubclassification]:
    return [s for s in row.subclassifications if s not in db.session.deleted]


def check_subclassification(sub: ServiceSubclassification, company_id: int) -> None:
    sub.company_id = company_id
    sub.name = (sub.name or "").strip()
    if not sub.name:
        raise RuleError(_l("Informe o nome da sub-classificação."))
    sub.position = _position(sub.position)
    department_id = sub.department.id if sub.department is not None else sub.department_id
    if department_id is not None:
        department = db.session.get(Department, department_id)
        if department is None or department.company_id != company_id:
            raise RuleError(_l("Departamento não encontrado."))


def check_classification_delete(row: ServiceClassification) -> None:
    sub_ids = [s.id for s in row.subclassifications if s.id is not None]
    named = [Ticket.classification_id == row.id]
    if sub_ids:
        named.append(Ticket.subclassification_id.in_(sub_ids))
    used = select(Ticket.id).where(Ticket.company_id == row.company_id, or_(*named)).limit(1)
    if db.session.scalar(used) is not None:
        raise RuleError(_l("Há protocolos com esta classificação: desative-a em vez de "
                           "excluir, para não perder o histórico."))


def check_subclassification_removal(row: ServiceClassification) -> None:
    """A sub-classification removed from the form must not be one protocols use."""
    removed = [s.id for s in row.subclassifications if s in db.session.deleted and s.id]
    removed += [s.id for s in db.session.deleted
                if isinstance(s, ServiceSubclassification) and s.id and s.id not in removed]
    if not removed:
        return
    used = select(Ticket.id).where(Ticket.company_id == row.company_id,
                                   Ticket.subclassification_id.in_(removed)).limit(1)
    if db.session.scalar(used) is not None:
        raise RuleError(_l("Há protocolos com uma das sub-classificações removidas: desative-a "
                           "em vez de excluir."))


def check_contact_method(row: ContactMethod, exclude_id: int | None = None) -> None:
    _check_named(row, exclude_id, _l("Informe o nome da forma de contato."),
                 _l("Já existe uma forma de contato com este nome."))


def check_contact_method_delete(row: ContactMethod) -> None:
    used = select(PortalRequest.id).where(PortalRequest.company_id == row.company_id,
                                          PortalRequest.contact_method_id == row.id).limit(1)
    if db.session.scalar(used) is not None:
        raise RuleError(_l("Há protocolos com esta forma de contato: desative-a em vez de "
                           "excluir."))
