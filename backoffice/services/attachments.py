"""Message attachments (MSG-1): checked like template files, stored under instance/.

Files live in instance/uploads/<company>/messages/<random key>; the user's file name is
kept only for display. They are served by the inbox (and the widget) after the same
visibility check as their ticket, never from a static folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import current_app

from ..models import Message
from .templates import Upload, new_file_key, read_upload

DEFAULT_MAX_BYTES = 16 * 1024 * 1024


def max_bytes() -> int:
    return int(current_app.config.get("MESSAGE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def read(storage) -> Upload:
    """A werkzeug FileStorage checked by content, extension and size (RuleError)."""
    return read_upload(storage, limit=max_bytes())


def path(company_id: int, key: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", key or ""):
        raise ValueError("bad file key")
    return Path(current_app.instance_path) / "uploads" / str(int(company_id)) / "messages" / key


def store(message: Message, upload: Upload) -> None:
    """Write the file first (a crash leaves an orphan file, never a row without file)."""
    key = new_file_key()
    target = path(message.company_id, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(upload.data)
    tmp.replace(target)
    message.file_key = key
    message.file_name = upload.name
    message.file_mime = upload.mime
    message.file_size = upload.size


def file_of(message: Message) -> Path | None:
    if not message.file_key:
        return None
    try:
        found = path(message.company_id, message.file_key)
    except ValueError:
        return None
    return found if found.is_file() else None
