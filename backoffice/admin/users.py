"""Usuários (PLT-4, SEC-1) and Permissões (PLT-3).

The Usuários screen changes a user only through the form and the row's delete (single
or bulk): no list-editable column, no other action. SEC-1's rule (access.check_user_change
and check_user_delete) guards both."""
from __future__ import annotations

from flask import g, get_template_attribute
from markupsafe import Markup
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import inspect, select
from wtforms import PasswordField, SelectField
from wtforms.validators import Length, Optional, Regexp, StopValidation

from .. import permissions
from ..extensions import db
from ..models import PermissionGroup, User
from ..services import RuleError, access, api_tokens, saas
from ..tenancy import current_company, current_company_id, scope
from .base import TenantModelView
from .images import ImageUploadMixin, avatar_fields
from .widgets import RightsField

EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Informe um e-mail válido."))
LANGUAGES = [("pt_BR", "Português (Brasil)"), ("en", "English")]
# A user may follow the company's language (NULL) instead of choosing one.
USER_LANGUAGES = [("", _l("Idioma da empresa"))] + LANGUAGES


class GroupRequired:
    """UX-5: every company user has a permission group (access.check_has_group); the
    field's own error (a group of another company) is kept rather than replaced."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if field.data is None and not field.errors:
            raise StopValidation(_l("Escolha o grupo de permissão do usuário: todo usuário "
                                    "precisa de um."))


def _system_groups():
    return scope(db.session.query(PermissionGroup), PermissionGroup).filter(
        PermissionGroup.kind == permissions.KIND_SYSTEM
    ).order_by(PermissionGroup.name)


def _name_with_avatar(view, context, model, name):
    """UX-5: the user's picture (or initials) beside the name, drawn by _avatar.html."""
    return get_template_attribute("_avatar.html", "avatar")(model, 28) + Markup(" ") + model.name


class UserView(ImageUploadMixin, TenantModelView):
    area = "users"
    image_kind = "avatar"
    column_list = ["name", "email", "group", "active", "language", "last_login_at"]
    column_searchable_list = ["name", "email"]
    column_filters = ["active", "language"]
    column_sortable_list = ["name", "email", "active", "last_login_at"]
    column_default_sort = "name"
    column_export_exclude_list = ["password_hash"]
    column_choices = {"language": USER_LANGUAGES}
    column_formatters = {"name": _name_with_avatar}
    column_formatters_export = {}  # the plain name in the CSV, no picture
    column_labels = {
        "name": _l("Nome"), "email": _l("E-mail"), "group": _l("Grupo de permissão"),
        "active": _l("Ativo"), "language": _l("Idioma"), "last_login_at": _l("Último acesso"),
        "password": _l("Senha"),
    }
    form_columns = ["name", "email", "password", "group", "active", "language", "avatar",
                    "remove_avatar"]
    form_extra_fields = {
        "password": PasswordField(
            _l("Senha"), validators=[Optional(), Length(min=8, max=128)],
            description=_l("Mínimo de 8 caracteres. Na edição, deixe em branco para manter a atual."),
        ),
        "language": SelectField(_l("Idioma"), choices=USER_LANGUAGES, default=""),
        **avatar_fields(),
    }
    form_args = {
        "email": {"validators": [EMAIL]},
        # UX-5: required (access.check_has_group); the blank option stays so that a new
        # user starts with no group chosen rather than the first of the list
        "group": {"query_factory": _system_groups, "allow_blank": True,
                  "blank_text": "—", "validators": [GroupRequired()]},
    }

    def on_form_prefill(self, form, id):
        form.password.data = ""

    def validate_change(self, form, model, is_created):
        model.language = model.language or None
        model.email = (model.email or "").strip().lower()
        if saas.email_taken(model.email, exclude_id=None if is_created else model.id):
            raise RuleError(_l("Já existe um usuário com este e-mail."))
        # The relationship's history is empty when the old group was never loaded, so
        # the row as stored is read from the database (no autoflush here).
        stored = None if is_created else db.session.execute(
            select(User.email, User.group_id, User.active).where(User.id == model.id)).first()
        old_group_id = stored.group_id if stored is not None else None
        if stored is not None:
            # SEC-1: the fields that let one log in as the user or lock them out.
            new_group_id = model.group.id if model.group is not None else None
            changed = {name for name, differs in (
                ("password", bool(form.password.data)),
                ("email", model.email != (stored.email or "").lower()),
                ("group", new_group_id != old_group_id),
                ("active", bool(model.active) != bool(stored.active))) if differs}
            access.check_user_change(current_user, g.actor_rights, model, changed)
        if form.password.data:
            if is_created:  # SEC-1 asks a new password after a *change* by someone else
                model.set_password(form.password.data)
            else:
                access.set_password(current_user, model, form.password.data)
        elif is_created:
            raise RuleError(_l("Informe a senha do novo usuário."))
        access.check_has_group(model)
        old_group = db.session.get(PermissionGroup, old_group_id) if old_group_id else None
        access.check_group_assignment(g.actor_rights, old_group, model.group)
        was_active = inspect(model).attrs.active.history.deleted
        if model.active and (is_created or (was_active and not was_active[0])):
            saas.check_user_limit(current_company._get_current_object(), adding=1)

    def after_flush_checks(self, model, is_created):
        access.ensure_admin_remains(current_company_id())

    def validate_delete(self, model):
        if model.id == current_user.id:
            raise RuleError(_l("Você não pode excluir o próprio usuário."))
        access.check_user_delete(current_user, g.actor_rights, model)

    def after_delete_checks(self, model):
        access.ensure_admin_remains(current_company_id())


class PermissionGroupView(TenantModelView):
    area = "groups"
    column_list = ["name", "kind", "description"]
    column_searchable_list = ["name", "description"]
    column_filters = ["kind"]
    column_labels = {
        "name": _l("Nome"), "kind": _l("Tipo"), "description": _l("Descrição"),
        "rights": _l("Permissões"),
    }
    column_formatters = {"kind": lambda v, c, m, p: permissions.GROUP_KINDS.get(m.kind, m.kind)}
    audit_choices = {"rights": permissions.right_label}  # UX-4: "Contatos: Ver", not contacts.view
    form_columns = ["name", "kind", "description", "rights"]
    form_extra_fields = {
        "kind": SelectField(_l("Tipo"), choices=list(permissions.GROUP_KINDS.items()),
                            default=permissions.KIND_SYSTEM),
        "rights": RightsField(_l("Permissões")),
    }

    def validate_change(self, form, model, is_created):
        rights = list(dict.fromkeys(model.rights or ()))
        allowed = set(permissions.all_rights(model.kind))
        if any(r not in allowed for r in rights):
            raise RuleError(_l("Marque apenas permissões do tipo escolhido (Sistema ou API)."))
        model.rights = rights
        hist = inspect(model).attrs.rights.history
        old = [] if is_created else (hist.deleted[0] if hist.deleted else rights)
        access.check_grant(g.actor_rights, old, rights)
        if not is_created and model.kind != permissions.KIND_SYSTEM and model.users:
            raise RuleError(_l("Um grupo com usuários não pode virar do tipo API."))
        if not is_created and model.kind != permissions.KIND_API and api_tokens.tokens_of(model):
            raise RuleError(_l("Um grupo usado por tokens de API não pode virar do tipo Sistema."))

    def after_flush_checks(self, model, is_created):
        access.ensure_admin_remains(current_company_id())

    def validate_delete(self, model):
        if model.users:
            raise RuleError(_l("Este grupo tem usuários. Mova-os para outro grupo antes de excluí-lo."))
        if api_tokens.tokens_of(model):
            raise RuleError(_l("Este grupo é usado por tokens de API. Troque o grupo deles ou "
                               "revogue-os antes de excluí-lo."))
