"""The portal's own settings (POR-1): one PortalSettings row per company.

A GET never writes (SEC-8): readers get an unsaved row with the defaults until the first
save. Turning the portal on makes sure the company has its `portal` connection, so the
first protocol has a channel to arrive through. The uploaded logo goes through the same
checks as the company logo (services/images: decoded, re-encoded as PNG, size-capped)
and lives in the company's logo folder under a new random key per upload.
"""
from __future__ import annotations

from flask import current_app, has_request_context, request
from flask_babel import lazy_gettext as _l

from ...extensions import db
from ...models import Company
from ...models.portal import PortalSettings
from .. import RuleError, images
from ..catalog import COLOR_MESSAGE, is_color
from . import channel

DEFAULT_COLOR = "#3c8dbc"
MAX_WELCOME = 4000


def read_settings(company_id: int) -> PortalSettings:
    """The company's row, or an unsaved one with the defaults (not in the session)."""
    row = db.session.scalar(PortalSettings.owned(company_id))
    return row or PortalSettings(company_id=company_id, enabled=False, color=DEFAULT_COLOR,
                                 ask_contact_method=True, allow_reopen=True)


def check_settings(row: PortalSettings) -> None:
    """Tidy in place; RuleError for a bad colour or an oversized text. (The plan's channel
    limit: services.connections.check_portal_switch_on.)"""
    row.title = (row.title or "").strip() or None
    if row.title is not None and len(row.title) > 80:
        raise RuleError(_l("O título pode ter até 80 caracteres."))
    color = (row.color or "").strip()
    if not is_color(color):
        raise RuleError(COLOR_MESSAGE)
    row.color = color.lower()
    row.welcome_text = (row.welcome_text or "").strip() or None
    if row.welcome_text is not None and len(row.welcome_text) > MAX_WELCOME:
        raise RuleError(_l("O texto de boas-vindas pode ter até %(n)d caracteres.", n=MAX_WELCOME))
    for flag in ("enabled", "ask_contact_method", "allow_reopen"):
        setattr(row, flag, bool(getattr(row, flag)))


def after_save(row: PortalSettings) -> None:
    """What a save brings along: an enabled portal has its connection."""
    if row.enabled:
        channel.ensure_connection(row.company_id)


def set_logo(row: PortalSettings, picture: images.Picture | None) -> None:
    """Replace (picture) or remove (None) the portal's own logo; the old file is deleted
    after the commit."""
    images.replace_file(row, row.company_id, "logo", picture)


def logo_file(row: PortalSettings | None):
    """(path, mime) of the portal's uploaded logo, or None."""
    if row is None or not row.logo_key:
        return None
    try:
        found = images.path(row.company_id, "logo", row.logo_key)
    except ValueError:
        return None
    return (found, row.logo_mime or images.STORED_MIME) if found.is_file() else None


def portal_path(company: Company) -> str:
    """The portal's address on this site (/portal/<domain>/)."""
    return f"/portal/{company.domain}/"


def portal_url(company: Company, base_url: str) -> str:
    """The portal's absolute address on the site at `base_url` (the screen's host, or
    MAIL_BASE_URL in e-mails)."""
    return base_url.rstrip("/") + portal_path(company)


EMBEDDED_BASE_URL = "http://127.0.0.1:5000"


def base_url() -> str:
    """Where this site is, for the links in e-mails: MAIL_BASE_URL when set (a worker or an
    import job has no request to take a host from), else the request's own address, else
    the embedded server's."""
    found = current_app.config.get("MAIL_BASE_URL")
    if found:
        return found
    if has_request_context():
        return request.url_root
    return EMBEDDED_BASE_URL
