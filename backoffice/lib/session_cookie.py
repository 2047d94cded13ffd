"""The signed session cookie, re-issued at most once a minute while nothing in it changes.

Flask re-signs and re-sends a permanent session's cookie on every request to slide its
expiry (SESSION_REFRESH_EACH_REQUEST). For the inbox, which polls and pages all day, that
was an HMAC and a Set-Cookie header per request (about 0.15 ms of a 5 ms list, SCL-5). The
cookie's signature already carries the moment it was signed, so an unchanged session is
re-issued only when that moment is older than REFRESH_AFTER: the expiry still slides with
use, a minute late at most. A changed session (login, logout, flash, CSRF token) is always
sent, as before.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER = 60  # seconds


class SignedSession(SecureCookieSession):
    signed_at: datetime | None = None  # when the cookie it came from was signed


class SlidingSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
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
