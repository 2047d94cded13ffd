"""Settings from the environment, with embedded defaults.

Nothing here needs a server: with no environment at all the app runs on a SQLite file and
an in-process queue, which is what `make run` uses. Production sets DATABASE_URL and
REDIS_URL.
"""
from __future__ import annotations

import math
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


def _encryption_keys(instance_path: Path) -> list[str]:
    """SEC-8: the Fernet keys of the secrets at rest (backoffice.lib.crypto).

    ENCRYPTION_KEYS from the environment (comma-separated; the first encrypts, all
    decrypt), else one key generated once and kept in instance/, like the secret key:
    a new key at each start would leave every stored secret unreadable.
    """
    if os.environ.get("ENCRYPTION_KEYS", "").strip():
        return [k.strip() for k in os.environ["ENCRYPTION_KEYS"].split(",") if k.strip()]
    key_file = instance_path / "encryption_key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


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


class SettingError(ValueError):
    """A setting of the environment that cannot be used: the message names it, says what
    it must be and what was given, so the process stops with that line instead of a bare
    ValueError."""


def env_number(name: str, default, kind=int, minimum=0):
    """The environment variable `name` as a number of `kind` (int or float), at least
    `minimum`; `default` when it is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    what = "um número inteiro" if kind is int else "um número"
    try:
        value = kind(raw)
    except ValueError:
        raise SettingError(f"{name} deve ser {what} (recebido: {raw!r})") from None
    if value < minimum or (kind is float and not math.isfinite(value)):  # nan, inf
        raise SettingError(f"{name} deve ser {what} maior ou igual a {minimum} "
                           f"(recebido: {raw!r})")
    return value


def env_numbers(name: str, default: str) -> tuple[int, ...]:
    """A comma-separated list of whole numbers of seconds (WEBHOOK_RETRY_DELAYS)."""
    raw = os.environ.get(name, "").strip() or default
    try:
        values = tuple(int(x) for x in raw.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 0:
        raise SettingError(f"{name} deve ser uma lista de números inteiros de segundos "
                           f"separados por vírgula, como {default} (recebido: {raw!r})")
    return values


def _pool_options() -> dict:
    """The database connections each process keeps (DB_POOL_SIZE) and may open beyond them
    under a burst (DB_MAX_OVERFLOW); unset, SQLAlchemy's 5 and 10. A connection opened
    beyond the kept ones is closed as soon as it is returned, so a process whose
    concurrent requests often exceed DB_POOL_SIZE opens and closes a PostgreSQL
    connection (a server process, its authentication, statements prepared again) per
    burst: keep DB_POOL_SIZE at what a busy process uses. DB_POOL_TIMEOUT: the seconds a
    request waits for a free connection (SQLAlchemy's 30 unset) before it is answered 503
    to retry (web/errors.py)."""
    options = {}
    # SQLAlchemy reads a max_overflow of -1 as "no limit"
    for key, option, kind, minimum in (("DB_POOL_SIZE", "pool_size", int, 1),
                                       ("DB_MAX_OVERFLOW", "max_overflow", int, -1),
                                       ("DB_POOL_TIMEOUT", "pool_timeout", float, 0.1)):
        value = env_number(key, None, kind, minimum=minimum)
        if value is not None:
            options[option] = value
    return options


def load(instance_path: str | Path, overrides: dict | None = None) -> dict:
    instance_path = Path(instance_path)
    redis_url = os.environ.get("REDIS_URL") or None
    cfg = {
        "SECRET_KEY": _secret_key(instance_path),
        "ENCRYPTION_KEYS": _encryption_keys(instance_path),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        # No pool_pre_ping: lib/pool.py pings only connections that sat idle.
        "SQLALCHEMY_ENGINE_OPTIONS": _pool_options(),
        "DB_PING_IDLE_SECONDS": env_number("DB_PING_IDLE_SECONDS", 10.0, float),
        # requests one web process works on at once (unset: as many as the database
        # connections its pool keeps; 0: no limit), and how long the next wait for one of
        # them before a 503 to retry (web/admission.py)
        "WEB_MAX_REQUESTS": env_number("WEB_MAX_REQUESTS", None),
        "WEB_QUEUE_SECONDS": env_number("WEB_QUEUE_SECONDS", 5.0, float),
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
            minutes=env_number("SESSION_MINUTES", 480, minimum=1)
        ),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "pt_BR",
        "BABEL_DEFAULT_TIMEZONE": "America/Sao_Paulo",
        # SEC-5: failed logins are throttled with growing delays (1, 2, 4 ... s, at most
        # LOGIN_MAX_DELAY) per e-mail typed and per address, never with a hard lock.
        "LOGIN_FREE_ATTEMPTS": 5,
        "LOGIN_IP_FREE_ATTEMPTS": 20,
        "LOGIN_MAX_DELAY": 600,
        "LOGIN_DEVICE_DAYS": 180,      # the "known device" cookie of a successful login
        "LOGIN_2FA_MINUTES": 5,        # SEC-6: time to type the second factor
        "PASSWORD_RESET_MINUTES": 60,  # SEC-6: life of an "Esqueci minha senha" link
        "PASSWORD_RESET_LIMIT": "5/600,20/86400",  # requests per address
        # SEC-6 mail: SMTP when MAIL_SERVER is set; otherwise every mail is written to
        # instance/mail/ and shown to the super user ("E-mails enviados").
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": env_number("MAIL_PORT", 0) or None,
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": os.environ.get("MAIL_USE_TLS", "") == "true",
        "MAIL_USE_SSL": os.environ.get("MAIL_USE_SSL", "") == "true",
        "MAIL_FROM": os.environ.get("MAIL_FROM") or "Atende <nao-responda@localhost>",
        # The address links in mails point to (https://atende.example.com); without it
        # the host of the request is used, which a forged Host header could change.
        "MAIL_BASE_URL": os.environ.get("MAIL_BASE_URL") or None,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        # Importar registros: the upload limit (its own, above MAX_CONTENT_LENGTH) and the
        # rows written per transaction.
        "IMPORT_MAX_BYTES": env_number("IMPORT_MAX_MB", 100, minimum=1) * 1024 * 1024,
        # empty: services.importer's default for the database (5000 PostgreSQL, 1000 SQLite)
        "IMPORT_BATCH_SIZE": env_number("IMPORT_BATCH_SIZE", 0) or None,
        # companies whose automation configuration each process keeps
        # (services/company_config.py): above the number of companies that get messages
        # in a busy hour, or each of their messages reads it again
        "COMPANY_CONFIG_CACHE_SIZE": env_number("COMPANY_CONFIG_CACHE_SIZE", 2000, minimum=1),
        # SEC-2: requests to addresses a company chose (lib/outbound.py). Private and
        # loopback targets only for on-premises installs (ALLOW_PRIVATE_URLS=true).
        "ALLOW_PRIVATE_URLS": os.environ.get("ALLOW_PRIVATE_URLS", "").lower()
        in ("1", "true", "yes"),
        "OUTBOUND_TIMEOUT": env_number("OUTBOUND_TIMEOUT", 5.0, float, minimum=0.1),
        # Issue 12: the providers' API base URLs; tests and staging point them at a local
        # fake provider. Unset means the public endpoints (channels/provider.py).
        "WHATSAPP_API_URL": os.environ.get("WHATSAPP_API_URL") or None,
        "META_GRAPH_URL": os.environ.get("META_GRAPH_URL") or None,
        "TELEGRAM_API_URL": os.environ.get("TELEGRAM_API_URL") or None,
        # API-1: requests per token ("count/seconds" pairs, services.ratelimit) and the
        # largest JSON body (media uploads take MAX_CONTENT_LENGTH).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT") or "600/60",
        "API_MAX_JSON_BYTES": env_number("API_MAX_JSON_KB", 1024, minimum=1) * 1024,
        # WHK-1: seconds before each retry of a failed webhook delivery, and the time a
        # receiver has to answer one attempt.
        "WEBHOOK_RETRY_DELAYS": env_numbers("WEBHOOK_RETRY_DELAYS", "60,300,1800,7200,43200"),
        "WEBHOOK_TIMEOUT": env_number("WEBHOOK_TIMEOUT", 10.0, float, minimum=0.1),
        # CHN-3: a message "sending" for this long belongs to a worker that died mid-send
        # (killed, machine lost); the sweep queues it again. Unset: 15 minutes. Shorter
        # resends sooner, at the risk of a second copy when a provider was merely slow.
        "SEND_STUCK_SECONDS": env_number("SEND_STUCK_SECONDS", 0) or None,
        # CHN-5: the website chat's limits ("count/seconds" pairs; unset: the defaults of
        # channels/webchat/views.py) and the reverse proxies in front of the app, whose
        # X-Forwarded-For tells the visitor's address
        "WEBCHAT_RATE_LIMIT": os.environ.get("WEBCHAT_RATE_LIMIT") or None,
        "WEBCHAT_START_RATE_LIMIT": os.environ.get("WEBCHAT_START_RATE_LIMIT") or None,
        "WEBCHAT_ADDRESS_START_RATE_LIMIT": os.environ.get("WEBCHAT_ADDRESS_START_RATE_LIMIT") or None,
        "WEBCHAT_PROXY_HOPS": env_number("WEBCHAT_PROXY_HOPS", 0),
        "FLASK_ADMIN_SWATCH": "cerulean",
    }
    cfg.update(overrides or {})
    return cfg
