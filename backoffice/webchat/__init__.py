"""The website chat widget's blueprint as the app registers it (CHN-5); the code is in
backoffice.channels.webchat (the loader script, the chat frame, its JSON API and the
visitors' Socket.IO namespace "/webchat"). Public: no login anywhere there.

A site embeds `<script src="https://HOST/widget.js" data-key="PUBLIC_KEY" async></script>`;
the loader draws a bubble and an iframe on /widget/<key>/ (this server's origin, so the
site's CSS cannot break it and the site's scripts cannot read the conversation).
"""
from ..channels.webchat import sockets, views  # noqa: F401  (routes and socket handlers)
from ..channels.webchat.blueprint import bp

# Once per app, when create_app registers the blueprint (after socketio.init_app).
bp.record_once(lambda _state: sockets.register())

__all__ = ["bp", "sockets", "views"]
