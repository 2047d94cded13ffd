"""Which pauses may an agent start now? (PAU-3, used by the inbox's "Iniciar Pausa")."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Company, DepartmentMember, Pause, User
from ..models.pauses import pause_department
from ..lib import clock
from . import RuleError
from .hours import local_time, schedule_covers


def check_windows(windows) -> None:
    """The rules of the admin form, kept here so any other writer obeys them too."""
    if not windows:
        raise RuleError(_("Cadastre ao menos um horário de disponibilidade para a pausa."))
    for window in windows:
        days = window.weekdays or []
        if not days:
            raise RuleError(_("Marque ao menos um dia da semana."))
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
            raise RuleError(_("Dia da semana inválido."))
        window.weekdays = sorted(set(days))
        if window.start_time is None or window.end_time is None:
            raise RuleError(_("Informe o início e o fim do horário."))
        if window.start_time == window.end_time:
            raise RuleError(_("O fim deve ser diferente do início."))


def available_pauses(user: User, at: datetime | None = None) -> list[Pause]:
    """Active pauses of the user's departments with a window containing `at` (default
    now) on the company's wall clock, by name."""
    company = db.session.get(Company, user.company_id)
    local = local_time(at or clock.aware_now(), company.timezone)
    weekday, wall = local.weekday(), local.time()
    my_departments = select(DepartmentMember.department_id).where(
        DepartmentMember.user_id == user.id)
    pauses = db.session.scalars(
        Pause.owned(user.company_id)
        .join(pause_department, pause_department.c.pause_id == Pause.id)
        .where(Pause.active.is_(True),
               pause_department.c.department_id.in_(my_departments))
        .distinct()
        .order_by(Pause.name)
    )
    return [p for p in pauses if any(schedule_covers(w, weekday, wall) for w in p.windows)]
