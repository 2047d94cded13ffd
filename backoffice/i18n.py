"""Locale and time zone per request: the user's choice, else the company's, else pt-BR."""
from __future__ import annotations

from flask_login import current_user

SUPPORTED = ("pt_BR", "en")


def select_locale() -> str:
    user = current_user
    if getattr(user, "is_authenticated", False):
        if user.language in SUPPORTED:
            return user.language
        company = user.company
        if company is not None and company.language in SUPPORTED:
            return company.language
    return "pt_BR"


def select_timezone() -> str:
    user = current_user
    if getattr(user, "is_authenticated", False) and user.company is not None:
        return user.company.timezone or "America/Sao_Paulo"
    return "America/Sao_Paulo"
