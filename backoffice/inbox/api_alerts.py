"""What the inbox's alerts read and write (UX-1): the unread counts of the three views
(the badges on Todos / Meus / Sem atendente, the tab title and favicon, the admin menu's
"Atendimento") and the user's own alert preference (the sound on or off).

The counts come from services.inbox.unread_counts, the list's own query, so a ticket the
user may not see is never counted. The preference is the logged-in user's: the route
takes no user id, so nobody can change another user's.
"""
from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _
from flask_login import current_user

from ..lib import after_commit
from ..lib.readonly import read_only
from ..services import RuleError, inbox
from ..web.api import flag, read_body
from .blueprint import bp
from .common import api


@bp.get("/api/counts")
@read_only
@api
def unread_counts():
    """{"all": n, "mine": n, "unassigned": n}: open tickets with unread messages."""
    return jsonify(inbox.unread_counts(current_user))


@bp.post("/api/me/preferences")
@api
def my_preferences():
    """Body {"sound": bool}: the alert sound of the inbox on or off, for this user only."""
    body = read_body()
    if "sound" not in body:
        raise RuleError(_("Informe se o som dos alertas fica ligado (sound)."))
    user = current_user._get_current_object()
    user.sound_enabled = flag(body.get("sound"))
    after_commit.commit()
    return jsonify({"sound": user.sound_enabled})
