"""Serving a stored upload (template file, message attachment) to whoever was allowed.

Always as a download with the user's file name, never rendered from our origin: a type
outside a short list of media goes out as an opaque file, and nosniff + a sandbox CSP
keep a disguised HTML or SVG from running even if a browser opened it.
"""
from __future__ import annotations

from pathlib import Path

from flask import Response, send_file

SAFE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "audio/mpeg",
                        "audio/ogg", "video/mp4", "application/pdf"})


def private_file(path: Path, name: str | None, mime: str | None) -> Response:
    response = send_file(path, mimetype=mime if mime in SAFE_TYPES else "application/octet-stream",
                         as_attachment=True, download_name=name or "arquivo", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
