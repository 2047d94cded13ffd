"""Secrets the system generates and shows once (webhook signing secrets, API tokens).

The secret is rendered straight into the page that answers the save: never flashed, since
a flash travels in the session cookie, and never cached by the browser or a proxy
(Cache-Control: no-store). After that page only a hash or nothing is shown.
"""
from __future__ import annotations

from flask import make_response
from markupsafe import Markup, escape


def once_notice(text: str, secret: str) -> Markup:
    """`text` (translated, with a `%(secret)s` placeholder) escaped, the secret in <code>."""
    code = Markup("<code>{}</code>").format(secret)
    return Markup(str(escape(text)).replace("%(secret)s", str(code)))


def once_page(view, template: str, **context):
    """The view's `template` rendered as a response no cache keeps."""
    response = make_response(view.render(template, **context))
    response.headers["Cache-Control"] = "no-store"
    return response
