"""The inbox page and the download of a message's attachment."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from ..services import access, attachments, visibility
from ..web.downloads import private_file
from .blueprint import bp
from .common import page


@bp.get("/")
@page
def index():
    # UX-3: the header offers the panel only to who may use it
    return render_template("inbox/index.html", show_panel=access.may_use_panel(current_user))


@bp.get("/attachments/<message_id>")
@page
def attachment(message_id):
    message = visibility.find_message(current_user, message_id)
    found = attachments.file_of(message) if message is not None else None
    if found is None:
        abort(404)
    return private_file(found, message.file_name, message.file_mime)
