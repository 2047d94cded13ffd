"""What several command groups share: finding the company user a command acts as."""
from __future__ import annotations

import click
from sqlalchemy import func, select

from ..extensions import db
from ..models import User


def user_by_email(email: str) -> User:
    """The active company user with this e-mail (any case); a ClickException in
    Portuguese otherwise, so the command stops with exit code 1."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or user.company_id is None or not user.active:
        raise click.ClickException(f"Nenhum usuário ativo de empresa com o e-mail {email}.")
    return user
