"""Fale Conosco (POR-1): the portal of one company at /portal/<company domain>/.

Its users are representatives (`PortalAccount`), never panel users: the portal keeps its
own key in the session (portal/guard.py) and never calls flask-login, so a portal login
opens no panel or inbox route, and a panel login opens no portal page.

- guard.py: who is logged in, `account_required`, sign in / out;
- accounts.py: login, logout, the single-use links (invitation, reset), throttling;
- protocols.py: Novo contato, the lists (todos / em aberto / finalizados), a protocol.
"""
from __future__ import annotations

from .blueprint import bp  # noqa: F401

from . import guard  # noqa: E402,F401  (url defaults and the company lookup)
from . import protocols  # noqa: E402,F401
from . import accounts  # noqa: E402,F401
from . import help  # noqa: E402,F401
