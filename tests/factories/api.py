"""API tokens for the REST API tests (TOK-1): a token with an API group of given rights,
and a client that sends it."""
from __future__ import annotations

from backoffice import permissions
from backoffice.extensions import db
from backoffice.services import api_tokens

from .companies import gen_group

ALL_API_RIGHTS = tuple(permissions.API_ACTIONS)


def gen_api_token(company, rights=ALL_API_RIGHTS, name: str = "Integração", **kw) -> str:
    """The raw token of a new API token of `company` whose group holds `rights`."""
    group = gen_group(company, f"API {name} {len(rights)}", rights, kind=permissions.KIND_API)
    db.session.flush()
    _token, raw = api_tokens.issue(company.id, name, group.id, **kw)
    db.session.flush()
    return raw


class ApiClient:
    """The Flask test client with `Authorization: Bearer <token>` on every call."""

    def __init__(self, app, token: str | None):
        self.client = app.test_client()
        self.token = token

    def _headers(self, headers):
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        out.update(headers or {})
        return out

    def get(self, url, headers=None, **kw):
        return self.client.get(url, headers=self._headers(headers), **kw)

    def post(self, url, json=None, headers=None, **kw):
        return self.client.post(url, json=json, headers=self._headers(headers), **kw)

    def patch(self, url, json=None, headers=None, **kw):
        return self.client.patch(url, json=json, headers=self._headers(headers), **kw)

    def put(self, url, json=None, headers=None, **kw):
        return self.client.put(url, json=json, headers=self._headers(headers), **kw)

    def delete(self, url, headers=None, **kw):
        return self.client.delete(url, headers=self._headers(headers), **kw)
