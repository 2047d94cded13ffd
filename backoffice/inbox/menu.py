"""The "Atendimento" entry of the admin menu: a link to the inbox for users who may use it.

Its unread badge (UX-1) is filled by static/inbox/menu_badge.js, which finds the link by
LINK_CLASS and reads /inbox/api/counts: Flask-Admin renders a menu item's name as text,
so the badge cannot come from here."""
from __future__ import annotations

from flask_admin.menu import MenuLink
from flask_login import current_user

from ..services import visibility

LINK_CLASS = "atende-inbox-link"


class InboxMenuLink(MenuLink):
    def is_accessible(self) -> bool:
        return visibility.may_use_inbox(current_user)

    def get_class_name(self) -> str:
        return " ".join(c for c in (self.class_name, LINK_CLASS) if c)
