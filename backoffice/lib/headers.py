"""Security headers on every response (SEC-8).

Every answer (pages, JSON, files, error pages) says nosniff, sends the referrer only to
this origin in full, and carries a Content-Security-Policy allowing this origin alone:
an injected `<script>` or `<img onerror>` does not run, a form cannot post elsewhere,
and no other site may frame the page (clickjacking), in the CSP and in X-Frame-Options
for older browsers.

Two exceptions:
- the webchat widget (`/widget.js`, `/widget/<key>/...`) is embedded by the customers'
  sites, so it may be framed by any of them; the frame page sets its own, stricter CSP
  (backoffice.channels.webchat.views.FRAME_CSP), which is kept;
- Flask-Admin's pages (/admin) keep 'unsafe-inline' scripts: Flask-Admin's own templates
  put handlers in attributes (`onclick="return faHelpers.safeConfirm(...)"` on delete,
  the list actions, "Add" of inline forms), which no nonce can allow. Everything else
  (the inbox, the login pages, the widget) runs scripts from static files only.

A page that shows a help article's body (ART-1) also allows images from other sites
(`allow_external_images`): an author may put in an image hosted elsewhere, which the
Markdown renderer keeps (http and https only), and the reader would otherwise get a broken
image. An image runs no code; only those pages widen `img-src`.

A response that already has one of these headers keeps its own (downloads send a
sandbox CSP, the widget frame its own).
"""
from __future__ import annotations

import functools
import re

from flask import Flask, current_app, g, request

# A Host header is the client's to choose: only a plain host[:port] goes into the policy.
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
WIDGET_PREFIXES = ("/widget/", "/widget.js")
_ADMIN_PREFIXES = "atende.admin_prefixes"  # app.extensions key, set by install()

# Inline styles stay allowed: Bootstrap's markup and ours use style attributes, and a
# style cannot run code.
_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


def allow_external_images() -> None:
    """This request's page shows images from other sites too (see the module)."""
    g.atende_external_images = True


def policy(*, framable: bool = False, inline_scripts: bool = False,
           external_images: bool = False) -> str:
    return _policy(request.host, framable, inline_scripts, external_images)


# Worked out once per host and kind of page (SCL-5: the same few strings on every
# response). The Host header is the client's, so the cache is bounded.
@functools.lru_cache(maxsize=256)
def _policy(host: str, framable: bool, inline_scripts: bool, external_images: bool) -> str:
    directives = dict(_BASE)
    # 'self' covers ws:/wss: of this host in CSP 3, older Safari wants them named.
    directives["connect-src"] = ("'self'" + (f" ws://{host} wss://{host}"
                                             if _HOST.fullmatch(host) else ""))
    if inline_scripts:
        directives["script-src"] = "'self' 'unsafe-inline'"
    if external_images:  # the schemes the article renderer keeps
        directives["img-src"] = "'self' data: blob: https: http:"
    if not framable:
        directives["frame-ancestors"] = "'none'"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def secure(response):
    """`response` with the headers above, in a request context; what a response already
    has is kept. Also for an answer built outside the app's dispatch (web/admission.py)."""
    path = request.path
    framable = path.startswith(WIDGET_PREFIXES)
    admin_prefixes = current_app.extensions.get(_ADMIN_PREFIXES, ("/admin",))
    admin = any(path == p or path.startswith(p + "/") for p in admin_prefixes)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Content-Security-Policy",
                       policy(framable=framable, inline_scripts=admin,
                              external_images=g.get("atende_external_images", False)))
    if not framable:
        headers.setdefault("X-Frame-Options", "DENY")
    return response


def install(app: Flask) -> None:
    app.extensions[_ADMIN_PREFIXES] = (tuple(a.url for a in app.extensions.get("admin", []))
                                       or ("/admin",))
    app.after_request(secure)
