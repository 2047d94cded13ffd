"""The website chat widget (CHN-5): the loader script, the chat frame, its JSON API and
the visitors' Socket.IO namespace "/webchat". Public: no login anywhere here.

A site embeds `<script src="https://HOST/widget.js" data-key="PUBLIC_KEY" async></script>`;
the loader draws a bubble and an iframe on /widget/<key>/ (this server's origin, so the
site's CSS cannot break it and the site's scripts cannot read the conversation).
"""
from flask import Blueprint

from ..extensions import csrf

bp = Blueprint("webchat", __name__)

# CSRF protects cookie-authenticated forms. Nothing here uses a cookie: a visitor is
# identified by the random token the frame sends in the X-Visitor-Token header, which
# another site can neither read nor make a browser send, so a forged cross-site POST
# carries no identity to abuse. (CSRF tokens would also need a session cookie, which a
# third-party iframe often does not get.)
csrf.exempt(bp)

from . import sockets, views  # noqa: E402,F401  (routes and socket handlers)

# Once per app, when create_app registers the blueprint (after socketio.init_app).
bp.record_once(lambda _state: sockets.register())
