"""SaaS operator rules (PLT-5): companies with their first admin, plans and limits."""
from __future__ import annotations

import re
import unicodedata

from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import permissions
from ..extensions import db
from ..models import Company, PermissionGroup, Plan, User
from . import RuleError
from .protocols import ensure_sequence


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "empresa"


def unique_domain(name: str) -> str:
    base = _slug(name)
    domain, n = base, 1
    while db.session.scalar(select(Company.id).where(Company.domain == domain)):
        n += 1
        domain = f"{base}-{n}"
    return domain


def default_groups(company: Company) -> dict[str, PermissionGroup]:
    groups = {
        "admin": PermissionGroup(
            company=company, name="Administrador", kind=permissions.KIND_SYSTEM,
            description="Acesso completo à configuração da empresa",
            rights=permissions.system_rights(),
        ),
        "agent": PermissionGroup(
            company=company, name="Atendente", kind=permissions.KIND_SYSTEM,
            description="Atende na caixa de entrada", rights=list(permissions.AGENT_RIGHTS),
        ),
        "api": PermissionGroup(
            company=company, name="Integração (API)", kind=permissions.KIND_API,
            description="Tokens de integração", rights=list(permissions.API_ACTIONS),
        ),
    }
    db.session.add_all(groups.values())
    return groups


def email_taken(email: str, exclude_id: int | None = None) -> bool:
    q = select(User.id).where(func.lower(User.email) == email.strip().lower())
    if exclude_id is not None:
        q = q.where(User.id != exclude_id)
    return db.session.scalar(q) is not None


def setup_company(company: Company, admin_name: str, admin_email: str, admin_password: str) -> User:
    """Give a new company its domain, protocol sequence, default groups and first admin."""
    # The company may already be in the session without its domain: no autoflush yet.
    with db.session.no_autoflush:
        if email_taken(admin_email):
            raise RuleError(_("Já existe um usuário com o e-mail %(email)s.", email=admin_email))
        if not company.domain:
            company.domain = unique_domain(company.name)
    ensure_sequence(company)
    groups = default_groups(company)
    admin = User(
        company=company, name=admin_name, email=admin_email.strip().lower(),
        group=groups["admin"], active=True,
    )
    admin.set_password(admin_password)
    db.session.add(admin)
    return admin


def create_company(name: str, plan: Plan | None, admin_name: str, admin_email: str,
                   admin_password: str, **fields) -> tuple[Company, User]:
    company = Company(name=name, plan=plan, **fields)
    db.session.add(company)
    admin = setup_company(company, admin_name, admin_email, admin_password)
    db.session.flush()
    return company, admin


def check_user_limit(company: Company, adding: int = 1) -> None:
    plan = company.plan
    if plan is None or not plan.max_users:
        return
    used = db.session.scalar(
        select(func.count(User.id)).where(User.company_id == company.id, User.active.is_(True))
    )
    if used + adding > plan.max_users:
        raise RuleError(
            _("O plano %(plan)s permite %(max)d usuários ativos; a empresa já tem %(used)d.",
              plan=plan.name, max=plan.max_users, used=used)
        )


def company_of_domain(domain: str | None) -> Company | None:
    """The active company whose domain (CO-1) is given, or None: the login page's brand,
    the portal and the help center are found by it; anything else, an unknown or an
    inactive company look the same."""
    domain = (domain or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", domain):
        return None
    return db.session.scalar(select(Company).where(Company.domain == domain,
                                                   Company.active.is_(True)))
