"""The address a public request came from, for rate limits of anonymous visitors (the
webchat widget, the help center's suggestions)."""
from __future__ import annotations

from flask import current_app, request


def client_address() -> str:
    """The visitor's address. Behind N reverse proxies (WEBCHAT_PROXY_HOPS=N) it is the
    N-th address from the right of X-Forwarded-For, the one our own proxy wrote; the
    header is never trusted without proxies (anyone can send one)."""
    hops = int(current_app.config.get("WEBCHAT_PROXY_HOPS") or 0)
    if hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")
                     if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return request.remote_addr or "-"
