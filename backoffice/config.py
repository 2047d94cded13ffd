"""Settings from the environment, with embedded defaults.

Nothing here needs a server: with no environment at all the app runs on a SQLite file and
an in-process queue, which is what `make run` uses. Production sets DATABASE_URL and
REDIS_URL.
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/.

    Generating a new key on every start would log everybody out at each restart.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return f"sqlite:///{instance_path / 'atende.db'}"
    # Heroku-style URLs; SQLAlchemy wants an explicit driver for psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load(instance_path: str | Path, overrides: dict | None = None) -> dict:
    instance_path = Path(instance_path)
    redis_url = os.environ.get("REDIS_URL") or None
    cfg = {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        # Several web instances and the RQ workers share Socket.IO events through Redis.
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        # redis: real Redis + `rq worker`; embedded: fakeredis + worker thread; eager: tests.
        "TASK_MODE": os.environ.get("TASK_MODE") or ("redis" if redis_url else "embedded"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "true",
        "PASSWORD_HASH_METHOD": "scrypt",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": timedelta(
            minutes=int(os.environ.get("SESSION_MINUTES", "480"))
        ),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "pt_BR",
        "BABEL_DEFAULT_TIMEZONE": "America/Sao_Paulo",
        "LOGIN_MAX_ATTEMPTS": 5,
        "LOGIN_LOCK_MINUTES": 15,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        # Importar registros: the upload limit (its own, above MAX_CONTENT_LENGTH) and the
        # rows written per transaction.
        "IMPORT_MAX_BYTES": int(os.environ.get("IMPORT_MAX_MB", "100")) * 1024 * 1024,
        "IMPORT_BATCH_SIZE": int(os.environ.get("IMPORT_BATCH_SIZE", "1000")),
        "FLASK_ADMIN_SWATCH": "cerulean",
    }
    cfg.update(overrides or {})
    return cfg
