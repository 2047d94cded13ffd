"""Atende: back office de multiatendimento."""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from . import config as settings
from .lib.heap import collection_paused
from .version import VERSION

__version__ = VERSION
ROOT = Path(__file__).resolve().parent.parent


def enforce_sqlite_foreign_keys(engine) -> None:
    """SQLite ignores foreign keys (and ON DELETE) unless each connection asks."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _fk_on(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA foreign_keys=ON")


def create_app(config: dict | None = None) -> Flask:
    """The app, with every extension, blueprint and admin screen. The cyclic collector
    waits until it is built (lib/heap.py)."""
    with collection_paused():
        return _build_app(config)


def _build_app(config: dict | None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("ATENDE_INSTANCE") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    from .web.uploads import AtendeRequest

    app.request_class = AtendeRequest
    from .lib.session_cookie import SlidingSessionInterface

    app.session_interface = SlidingSessionInterface()  # SCL-5: no Set-Cookie per request
    app.config.from_mapping(settings.load(app.instance_path, config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from . import models  # noqa: F401  (register every table before migrations look)
    # Before socketio.init_app: @socketio.on handlers imported after it would attach to
    # that one server only, and every later app (each test's) would have none.
    from . import realtime  # socket handlers, and the socket listener of backoffice.events
    from .automation import listeners as _automation  # noqa: F401  (events and timers)
    from .webhooks import outbox as _webhooks  # noqa: F401  (WHK-1: events to webhooks)
    from .reports import facts as _reports  # noqa: F401  (REP-1: the facts of the reports)
    from .admin import init_admin
    from .auth import bp as auth_bp
    from .cli import init_cli
    from .web.errors import init_errors
    from .extensions import babel, csrf, db, login_manager, migrate, socketio
    from .i18n import compile_catalogues, select_locale, select_timezone
    from .jobs import tasks
    from .tenancy import install_guard
    from flask_babel import lazy_gettext as _l

    compile_catalogues()
    db.init_app(app)
    from .lib import readonly

    readonly.install(app)  # SCL-5: @read_only views run without BEGIN/ROLLBACK
    with app.app_context():
        enforce_sqlite_foreign_keys(db.engine)
        from .lib import pgcursor, pool

        pool.install(db.engine, app.config["DB_PING_IDLE_SECONDS"])
        pgcursor.install(db.engine)  # SCL-5: result columns described only when read
    migrate.init_app(app, db, directory=str(ROOT / "migrations"),
                     render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone,
                   default_translation_directories=str(Path(__file__).parent / "translations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Faça login para acessar esta página.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    socketio.init_app(app, async_mode="threading",
                      message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"))
    tasks.init_app(app)
    install_guard()
    from .lib import after_commit, rowwrite

    after_commit.install()
    rowwrite.install()  # SCL-3: an inbound message's rows without the unit of work
    realtime.rooms.install()  # sockets follow access changes (RTM-1)
    realtime.listeners.install()  # sockets of ended sessions close after the commit (SEC-4)
    from .realtime import sticky

    sticky.install(app)  # SCL-1: a warning when the proxy is not sticky
    from .auth import init_sessions

    init_sessions(app)  # SEC-4 server-side sessions; SEC-1 password due first

    app.register_blueprint(auth_bp)
    from .inbox import bp as inbox_bp

    app.register_blueprint(inbox_bp)
    from .presence_views import bp as presence_bp

    app.register_blueprint(presence_bp)
    from .webchat import bp as webchat_bp  # CHN-5: widget, its API and the /webchat sockets

    app.register_blueprint(webchat_bp)
    from .channels.hooks import bp as hooks_bp  # CHN-2: provider webhooks

    app.register_blueprint(hooks_bp)
    from .reports.panel_views import bp as tv_bp  # PNL-1: the TV panel (/tv/<key>) and /panel sockets

    app.register_blueprint(tv_bp)
    from .portal import bp as portal_bp  # POR-1: the Fale Conosco portal (/portal/<domain>)

    app.register_blueprint(portal_bp)
    from .help import bp as help_bp  # ART-1: the public help center (/ajuda/<domain>)

    app.register_blueprint(help_bp)
    from .web.media import init_media  # UX-5: logo and avatars, and their page helpers

    init_media(app)
    from .api import init_api  # API-1: /api/v1, its OpenAPI document and /api/docs

    init_api(app)
    init_admin(app)
    init_errors(app)
    from .lib import headers

    headers.install(app)  # SEC-8: security headers on every response
    from .web import admission

    admission.install(app)  # overload: a bounded number of requests at once, the rest wait
    init_cli(app)

    @app.context_processor
    def inject_globals():
        from flask_babel import get_locale

        return {"atende_version": VERSION, "get_locale": get_locale}

    return app
