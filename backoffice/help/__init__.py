"""The public help center of a company (ART-1) at /ajuda/<company domain>/: its
published public articles by category, the search, an article page with "Isso
resolveu?", and a JSON suggestion endpoint for pages that suggest as the customer types.

No login: what it shows is what the company published for everyone. Drafts, portal-only
articles, another company's articles and unknown ids are the same 404.
"""
from __future__ import annotations

from . import views  # noqa: F401  (the routes)
from .blueprint import bp  # noqa: F401
