"""Permission rules (PLT-3, PLT-4): nobody grants what they do not hold, and a company
never loses its last administrator."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from .. import permissions
from ..extensions import db
from ..models import PermissionGroup, User
from . import RuleError


def check_grant(actor_rights: frozenset[str], old_rights, new_rights) -> None:
    """Refuse adding rights the actor does not hold (removing is always allowed).

    actor_rights must be what the actor held before the change being checked.
    """
    added = set(new_rights or ()) - set(old_rights or ())
    if added.issubset(actor_rights):
        return
    missing = sorted(permissions.right_label(r) for r in added - actor_rights)
    raise RuleError(
        _("Você não pode conceder permissões que não possui: %(rights)s.",
          rights=", ".join(missing))
    )


def check_group_assignment(actor_rights: frozenset[str], old_group, new_group) -> None:
    """Putting a user in a group grants that group's rights: same rule as editing it."""
    if new_group is None or (old_group is not None and old_group.id == new_group.id):
        return
    if new_group.kind != permissions.KIND_SYSTEM:
        raise RuleError(_("Usuários só podem pertencer a grupos do tipo Sistema."))
    old_rights = old_group.rights if old_group is not None and old_group.kind == permissions.KIND_SYSTEM else ()
    check_grant(actor_rights, old_rights, new_group.rights)


def admin_count(company_id: int) -> int:
    """Active users of the company whose group holds every administration right."""
    db.session.flush()
    rows = db.session.execute(
        select(User.id, PermissionGroup.rights, PermissionGroup.kind)
        .join(PermissionGroup, User.group_id == PermissionGroup.id)
        .where(User.company_id == company_id, User.active.is_(True))
    ).all()
    return sum(
        1
        for _id, rights, kind in rows
        if kind == permissions.KIND_SYSTEM and permissions.ADMIN_RIGHTS <= set(rights or ())
    )


def ensure_admin_remains(company_id: int) -> None:
    if admin_count(company_id) == 0:
        raise RuleError(
            _("A empresa precisa de ao menos um administrador ativo (com acesso a "
              "Usuários e Permissões). A alteração foi cancelada.")
        )
