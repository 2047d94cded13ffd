"""Password hashes (werkzeug's), made and checked in one place: with the app's method
(PASSWORD_HASH_METHOD, scrypt; the test suite sets a cheap one) and off gevent's loop
(lib/offload.py: scrypt takes about 75 ms, which on a gevent web process would stop every
other connection). The panel's users, the portal's representatives and the unknown-e-mail
dummy check all come here."""
from __future__ import annotations

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

from .offload import off_loop

DEFAULT_METHOD = "scrypt"


def method() -> str:
    """The hash method of the app in context (scrypt outside one)."""
    if not has_app_context():
        return DEFAULT_METHOD
    return current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_METHOD)


def make(password: str, how: str | None = None) -> str:
    """The stored hash of `password`, by `how` or the app's method."""
    return off_loop(generate_password_hash, password, method=how or method())


def matches(stored: str, password: str) -> bool:
    return off_loop(check_password_hash, stored, password)
