"""The "Atendimento" entry of the admin menu: a link to the inbox for users who may use it."""
from __future__ import annotations

from flask_admin.menu import MenuLink
from flask_login import current_user

from ..services import visibility


class InboxMenuLink(MenuLink):
    def is_accessible(self) -> bool:
        return visibility.may_use_inbox(current_user)
