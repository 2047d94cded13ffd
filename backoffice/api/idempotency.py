"""`Idempotency-Key` on the POSTs that create (API-1): a retried request creates nothing
twice and gets the first answer again.

The answer is kept in `IdempotentRequest`, added to the same transaction as what the
request created (api/core.py commits both, or neither). The key is unique per token, so
two retries racing each other cannot both create: the second one's flush fails on the
unique index, it rolls back what it made and answers what the first one stored. A key
sent again with another body is refused (422): it is a client bug, and answering the
first result would hide it. Keys are kept for a day
(services.api_tokens.forget_old_requests, periodic).
"""
from __future__ import annotations

import hashlib
from functools import wraps

from flask import current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models.api import IdempotentRequest
from .problems import ApiError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.path.encode() + b"\n")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _key() -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise ApiError(400, _("Idempotency-Key deve ter de 1 a 255 caracteres ASCII visíveis."))
    return key


def _stored(key: str) -> IdempotentRequest | None:
    return db.session.scalar(select(IdempotentRequest).where(
        IdempotentRequest.token_id == g.api_token.id, IdempotentRequest.key == key))


def _replay(found: IdempotentRequest, fingerprint: str):
    if found.request_hash != fingerprint:
        raise ApiError(422, _("Esta Idempotency-Key já foi usada com outra requisição."))
    response = current_app.response_class(found.response_body, status=found.status_code,
                                          mimetype="application/json")
    response.headers[REPLAYED] = "true"
    return response


def idempotent(fn):
    """Decorate a creating view, above flask-smorest's decorators (it sees the Response)."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        key = _key()
        if key is None:
            return fn(*args, **kwargs)
        fingerprint = _fingerprint()
        found = _stored(key)
        if found is not None:
            return _replay(found, fingerprint)
        response = fn(*args, **kwargs)
        if response.status_code >= 400:
            return response
        db.session.add(IdempotentRequest(
            company_id=g.api_token.company_id, token_id=g.api_token.id, key=key,
            request_hash=fingerprint, status_code=response.status_code,
            response_body=response.get_data(as_text=True)))
        try:
            db.session.flush()
        except IntegrityError:  # a concurrent retry stored it first: answer what it made
            db.session.rollback()
            found = _stored(key)
            if found is None:
                raise
            return _replay(found, fingerprint)
        return response

    return wrapper

