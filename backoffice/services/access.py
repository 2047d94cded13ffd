"""Permission rules (PLT-3, PLT-4, SEC-1): nobody grants what they do not hold, nobody
takes over (or removes) a user holding rights they lack, and a company never loses its
last administrator. Where a user lands after logging in (UX-3)."""
from __future__ import annotations

from flask import url_for
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


def check_has_group(user) -> None:
    """UX-5: a company's user always has a permission group (without one they could log
    in to nothing, and no screen would say why); the SaaS super user has none."""
    if user.is_superuser or user.group is not None or user.group_id is not None:
        return
    raise RuleError(_("Escolha o grupo de permissão do usuário: todo usuário precisa de um."))


# SEC-1: what lets someone log in as a user, or lock them out of the company.
SENSITIVE_FIELDS = frozenset({"password", "email", "group", "active"})


def _stored_user(target) -> tuple[bool, frozenset[str]]:
    """(is super user, rights) of `target` as saved, before the change being checked:
    the form has already written the new group and flag into the object."""
    row = db.session.execute(
        select(User.is_superuser, PermissionGroup.rights, PermissionGroup.kind)
        .outerjoin(PermissionGroup, User.group_id == PermissionGroup.id)
        .where(User.id == target.id)
    ).first()
    if row is None:
        return bool(target.is_superuser), frozenset()
    superuser, rights, kind = row
    held = frozenset(rights or ()) if kind == permissions.KIND_SYSTEM else frozenset()
    return bool(superuser), held


def _refuse_superuser(superuser: bool) -> None:
    if superuser:
        raise RuleError(_("O super usuário não pode ser alterado nem excluído por uma empresa."))


def _missing_labels(actor_rights: frozenset[str], held: frozenset[str]) -> str:
    labels = sorted(permissions.right_label(r) for r in held - set(actor_rights))
    return ", ".join(labels[:5]) + (", …" if len(labels) > 5 else "")


def check_user_change(actor, actor_rights: frozenset[str], target, changed) -> None:
    """Refuse changing another user's password, e-mail, group or active flag unless the
    actor holds every right the target holds: setting the password or e-mail of someone
    stronger is logging in as them. `changed` names the fields the save changes;
    actor_rights as held when the request began. A super user is never changed here."""
    if target.id is None:  # a new user: their group is checked as a grant
        return
    superuser, held = _stored_user(target)
    _refuse_superuser(superuser or target.is_superuser)
    if not set(changed or ()) & SENSITIVE_FIELDS:
        return
    if actor is not None and actor.id == target.id:
        return  # one's own group is checked as a grant (check_group_assignment)
    if not held <= set(actor_rights):
        raise RuleError(_("Você não pode alterar a senha, o e-mail, o grupo ou o status de um "
                          "usuário que tem permissões que você não possui: %(rights)s.",
                          rights=_missing_labels(actor_rights, held)))


def check_user_delete(actor, actor_rights: frozenset[str], target) -> None:
    """Removing a user is the same takeover class as deactivating them."""
    superuser, held = _stored_user(target)
    _refuse_superuser(superuser or target.is_superuser)
    if not held <= set(actor_rights):
        raise RuleError(_("Você não pode excluir um usuário que tem permissões que você não "
                          "possui: %(rights)s.", rights=_missing_labels(actor_rights, held)))


def set_password(actor, target, password: str) -> None:
    """A password someone else chose is known to them: the owner must replace it at the
    next login. Setting one's own clears that demand."""
    target.set_password(password)
    target.must_change_password = actor is None or actor.id != target.id


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


# -- where a user lands (UX-3) ----------------------------------------------------------
# An agent's day is the inbox: a user whose group works there and holds nothing beyond
# the agent's own work (the inbox, contacts, scheduled messages) lands on /inbox/ and is
# not offered the panel; anyone with a configuration or administration right lands on the
# panel, where those screens are.

WORK_AREAS = frozenset({"inbox", "contacts", "scheduled"})


def inbox_only(user) -> bool:
    """A user who works in the inbox and has no configuration rights."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser \
            or user.company_id is None or not user.can("inbox", "view"):
        return False
    return all(right.partition(".")[0] in WORK_AREAS for right in user.rights)


def may_use_panel(user) -> bool:
    """Whether the inbox links to the panel: for whoever holds a right to a panel screen
    (Contatos and Agendamentos included, which an agent may hold while landing in the
    inbox); a user with the inbox alone has nothing there."""
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or any(right.partition(".")[0] != "inbox" for right in user.rights)


def home_url(user) -> str:
    """Where `user` goes after logging in when no `next` page was asked for."""
    return url_for("inbox.index") if inbox_only(user) else url_for("admin.index")
