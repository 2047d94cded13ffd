"""Mail jobs (SEC-6): sent in the background, so a slow mail server never holds a request
and the answer to "Esqueci minha senha" takes as long for unknown e-mails as for known."""
from __future__ import annotations

from ..services import auth
from ..services.portal import accounts as portal_accounts
from ..tenancy import acting_for
from .runner import app_job


@app_job
def password_reset(email: str, base_url: str) -> None:
    user = auth.find_user(email)
    with acting_for(user.company_id if user is not None else None):
        auth.send_password_reset(email, base_url)


@app_job
def portal_reset(company_id: int, email: str, base_url: str) -> None:
    """The portal's "Esqueci minha senha" (POR-1), in the background like the panel's."""
    with acting_for(company_id):
        portal_accounts.send_reset(company_id, email, base_url)
