"""The signed session cookie, re-issued at most once a minute while nothing in it changes.

Flask re-signs and re-sends a permanent session's cookie on every request to slide its
expiry (SESSION_REFRESH_EACH_REQUEST). For the inbox, which polls and pages all day, that
was an HMAC and a Set-Cookie header per request (about 0.15 ms of a 5 ms list, SCL-5). The
cookie's signature already carries the moment it was signed, so an unchanged session is
re-issued only when that moment is older than REFRESH_AFTER: the expiry still slides with
use, a minute late at most. A changed session (login, logout, flash, CSRF token) is always
sent, as before.

Reading the cookie is cheaper too. Flask builds a new serializer for every request and
checks the cookie's signature and decodes its payload every time: about 0.12 ms of a list
request, for the same few hundred bytes the browser sends again and again. Here the
serializer is made once per secret key, and a cookie string already verified is not
verified again: its decoded content is kept by the exact string (a string differing by one
byte is another key, so nothing unsigned is ever read). Its age is checked on every
request as itsdangerous checks it (whole seconds; expired, or signed in the future, is no
session). What is kept is never handed out: each request gets its own copy (a deep one
when a value is not a plain scalar, such as the list of flashed messages, which Flask
changes in place).
"""
from __future__ import annotations

import copy
import functools
from datetime import datetime, timezone

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER = 60  # seconds
VERIFIED_COOKIES = 4096  # cookie strings kept per process (a few hundred bytes each)
_SCALARS = (str, int, float, bool, type(None))


@functools.lru_cache(maxsize=VERIFIED_COOKIES)
def _verified(serializer, value: str) -> tuple[dict, datetime]:
    """(content, moment signed) of a cookie whose signature is good; raises BadSignature."""
    return serializer.loads(value, return_timestamp=True)


def _read(serializer, value: str, max_age: int) -> tuple[dict, datetime]:
    data, signed_at = _verified(serializer, value)
    # the signer's own clock (whole seconds), as itsdangerous's max_age check reads it
    age = serializer.make_signer(serializer.salt).get_timestamp() - int(signed_at.timestamp())
    if age > max_age or age < 0:
        raise BadSignature("session cookie expired")
    if all(isinstance(v, _SCALARS) for v in data.values()):
        return dict(data), signed_at
    return copy.deepcopy(data), signed_at


class SignedSession(SecureCookieSession):
    signed_at: datetime | None = None  # when the cookie it came from was signed


class SlidingSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def __init__(self):
        self._signing: tuple = (None, None)  # (the keys, their serializer)

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made_for, serializer = self._signing
        if made_for != keys:
            serializer = super().get_signing_serializer(app)
            self._signing = (keys, serializer)
        return serializer

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = _read(serializer, value, max_age)
        except BadSignature:
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or \
            (datetime.now(timezone.utc) - signed_at).total_seconds() >= REFRESH_AFTER
