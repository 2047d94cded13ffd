"""Rules for Departamentos (DEP-1..DEP-7)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import lazyload

from ..extensions import db
from ..models import Department
from . import RuleError

MAX_MINUTES = 525_600  # one year: beyond it a "close after" makes no sense
MAX_ORDER = 1_000_000


def next_order(company_id: int) -> int:
    """DEP-1: the order given to a department saved without one (max + 1 in the company)."""
    current = db.session.scalar(
        Department.owned(company_id, func.max(Department.order)))
    return (current or 0) + 1


def check_name(company_id: int, name: str | None, exclude_id: int | None = None) -> str:
    """The tidied name, or RuleError when empty or already used in the company (any case)."""
    name = (name or "").strip()
    if not name:
        raise RuleError(_l("Informe o nome do departamento."))
    q = Department.owned(company_id, Department.name)
    if exclude_id is not None:
        q = q.where(Department.id != exclude_id)
    wanted = name.casefold()  # in Python: SQLite's lower() folds ASCII only
    if any((n or "").strip().casefold() == wanted for n in db.session.scalars(q)):
        raise RuleError(_l("Já existe um departamento com este nome."))
    return name


def check_overflow(department: Department) -> None:
    """DEP-7: with overflow on, a routing department of the same company, not itself."""
    if not department.overflow_enabled:
        department.overflow_department = None
        return
    target = department.overflow_department
    if target is None:
        raise RuleError(_l("Com o transbordo ativo, informe o departamento para roteamento "
                           "de chamadas."))
    if target is department or (department.id is not None and target.id == department.id):
        raise RuleError(_l("O departamento para roteamento de chamadas deve ser outro "
                           "departamento."))
    if target.company_id != department.company_id:
        raise RuleError(_l("Escolha inválida: o registro não existe ou não pertence à sua "
                           "empresa."))


def check_members(department: Department, kept) -> None:
    """DEP-4: each user at most once, and only users of the department's company."""
    seen = set()
    for member in kept:
        user = member.user
        if user is None:
            raise RuleError(_l("Escolha o usuário de cada membro."))
        if user.company_id != department.company_id:
            raise RuleError(_l("Escolha inválida: o registro não existe ou não pertence à sua "
                               "empresa."))
        if user.id in seen:
            raise RuleError(_l("O usuário %(name)s foi adicionado mais de uma vez aos membros.",
                               name=user.name))
        seen.add(user.id)


def overflow_sources(department: Department) -> list[str]:
    """Names of the departments that route their overflow calls to this one."""
    return list(db.session.scalars(
        Department.owned(department.company_id, Department.name)
        .where(Department.overflow_department_id == department.id,
               Department.id != department.id)
        .order_by(Department.name)))


def ordered(company_id: int, active_only: bool = True, receiving_only: bool = False,
            with_members: bool = False):
    """DEP-1/DEP-2: the company's departments as offered when opening or transferring a
    ticket: by order, then name; `receiving_only` leaves out those not receiving tickets.
    Department.members is "selectin": without `with_members` it is left unloaded (no
    caller lists members: the widget's start and the inbox's meta read names and ids only,
    and the one department a ticket goes to loads its own members if routing needs them),
    so a company with many agents does not read every membership per call (SCL-3)."""
    q = Department.owned(company_id)
    if not with_members:
        q = q.options(lazyload(Department.members))
    if active_only:
        q = q.where(Department.active.is_(True))
    if receiving_only:
        q = q.where(Department.receives_tickets.is_(True))
    return list(db.session.scalars(q.order_by(Department.order, Department.name)))
