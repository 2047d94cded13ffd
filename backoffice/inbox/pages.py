"""The inbox page and the download of a message's attachment."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user

from ..services import attachments, visibility
from ..web.downloads import private_file
from .blueprint import bp
from .common import page


@bp.get("/")
@page
def index():
    return render_template("inbox/index.html")


@bp.get("/attachments/<message_id>")
@page
def attachment(message_id):
    message = visibility.find_message(current_user, message_id)
    found = attachments.file_of(message) if message is not None else None
    if found is None:
        abort(404)
    return private_file(found, message.file_name, message.file_mime)
