"""Companies and the people in them: plans, companies (with their admin), permission
groups, users and departments."""
from __future__ import annotations

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import Department, DepartmentMember, PermissionGroup, Plan, User
from backoffice.models.company import MODULES
from backoffice.services import saas
from backoffice.services.departments import next_order

PASSWORD = "senha-segura-1"


def gen_plan(name="Plano Teste", max_users=50, **kw) -> Plan:
    """A plan with every module unless `modules` says otherwise (UX-7 hides the screens of
    modules a plan lacks)."""
    kw.setdefault("modules", list(MODULES))
    plan = Plan(name=name, max_users=max_users, max_channels=5, **kw)
    db.session.add(plan)
    return plan


def gen_company(name: str, admin_email: str, plan: Plan | None = None):
    company, admin = saas.create_company(
        name=name, plan=plan, admin_name=f"Admin {name}", admin_email=admin_email,
        admin_password=PASSWORD,
    )
    return company, admin


def gen_group(company, name: str, rights, kind=permissions.KIND_SYSTEM) -> PermissionGroup:
    group = PermissionGroup(company=company, name=name, kind=kind, rights=list(rights))
    db.session.add(group)
    return group


def gen_user(company, email: str, group=None, name: str | None = None, active=True) -> User:
    user = User(company=company, email=email, name=name or email.split("@")[0].title(),
                group=group, active=active)
    user.set_password(PASSWORD)
    db.session.add(user)
    return user


def gen_department(company, name: str, order: int | None = None, members=(), **fields) -> Department:
    """A department; members are (user, receives_tickets, responsible). Without an order,
    the next one of the company (DEP-1)."""
    department = Department(company_id=company.id, name=name,
                            order=order if order is not None else next_order(company.id), **fields)
    for user, receives, responsible in members:
        department.members.append(DepartmentMember(company_id=company.id, user=user,
                                                   receives_tickets=receives,
                                                   responsible=responsible))
    db.session.add(department)
    return department
