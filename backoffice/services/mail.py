"""Outgoing mail (SEC-6: password reset links).

With MAIL_SERVER set, mail goes through that SMTP server (MAIL_PORT, MAIL_USERNAME,
MAIL_PASSWORD, MAIL_USE_TLS for STARTTLS or MAIL_USE_SSL, MAIL_FROM). Without it — the
embedded default of `make run` — each mail is written as an .eml file to instance/mail/,
where the super user reads it on "E-mails enviados", so nothing needs a mail server.
"""
from __future__ import annotations

import re
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parsedate_to_datetime
from pathlib import Path

from flask import current_app

SMTP_TIMEOUT = 10  # seconds: a slow server must not hold a worker for long
_NAME = re.compile(r"^[0-9A-Za-z_-]{1,80}\.eml$")


@dataclass
class StoredMail:
    name: str
    date: datetime | None  # UTC, naive like the database's; shown in the reader's time zone
    to: str
    subject: str
    body: str


def outbox_dir() -> Path:
    return Path(current_app.instance_path) / "mail"


def keeps_files() -> bool:
    """True in the embedded mode: mails are files, not SMTP deliveries."""
    return not current_app.config.get("MAIL_SERVER")


def send(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    msg = EmailMessage()
    msg["From"] = cfg.get("MAIL_FROM") or "Atende <nao-responda@localhost>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="atende")
    msg.set_content(body)
    if keeps_files():
        _write(msg)
    else:
        _smtp(msg, cfg)


def _write(msg: EmailMessage) -> Path:
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    # Sortable by name = by time; the random part keeps two mails of one instant apart.
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(bytes(msg))
    path.chmod(0o600)  # the files hold live reset links
    return path


def _smtp(msg: EmailMessage, cfg) -> None:
    host, port = cfg["MAIL_SERVER"], cfg.get("MAIL_PORT")
    if cfg.get("MAIL_USE_SSL"):
        server = smtplib.SMTP_SSL(host, port or 465, timeout=SMTP_TIMEOUT)
    else:
        server = smtplib.SMTP(host, port or 25, timeout=SMTP_TIMEOUT)
    with server:
        if cfg.get("MAIL_USE_TLS") and not cfg.get("MAIL_USE_SSL"):
            server.starttls()
        if cfg.get("MAIL_USERNAME"):
            server.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        server.send_message(msg)


def _utc(header) -> datetime | None:
    try:
        sent = parsedate_to_datetime(str(header))
    except (TypeError, ValueError):
        return None
    if sent.tzinfo is not None:
        sent = sent.astimezone(timezone.utc).replace(tzinfo=None)
    return sent


def _read(path: Path) -> StoredMail:
    with path.open("rb") as f:
        msg = BytesParser(policy=policy.default).parse(f)
    body = msg.get_body(preferencelist=("plain",))
    return StoredMail(name=path.name, date=_utc(msg.get("Date")), to=str(msg.get("To", "")),
                      subject=str(msg.get("Subject", "")),
                      body=body.get_content() if body is not None else "")


def stored(limit: int = 200) -> list[StoredMail]:
    """The newest mails written in the embedded mode."""
    folder = outbox_dir()
    if not folder.is_dir():
        return []
    paths = sorted((p for p in folder.iterdir() if _NAME.match(p.name)), reverse=True)
    return [_read(p) for p in paths[:limit]]


def stored_one(name: str | None) -> StoredMail | None:
    """One mail by file name; names come from the URL, so only our own pattern is read."""
    if not name or not _NAME.match(name):
        return None
    path = outbox_dir() / name
    return _read(path) if path.is_file() else None
