"""SEC-8: secrets of connections, webhooks and TOTP are encrypted at rest.

Someone who reads the database (a backup, a dump, an SQL injection elsewhere) finds
Fernet tokens, not the secrets; the app still reads them back, with the key from the
environment or the one generated into instance/, through a key rotation too.
"""
from __future__ import annotations

import os
import stat

import flask_migrate
import pytest
from sqlalchemy import text

from backoffice import config as settings
from backoffice.extensions import db
from backoffice.lib import crypto
from backoffice.models import Connection, User, Webhook
from tests.factories import gen_company, gen_connection, gen_webhook
from tests.test_migrations import database_url, migration_app  # noqa: F401  (fixtures)

ERP_SECRET = "segredo-do-erp"
HOOK_SECRET = "segredo-do-webhook"
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


def _raw(sql: str, **params):
    return db.session.execute(text(sql), params).scalar_one()


@pytest.fixture
def stored(app):
    """A connection, a webhook and a user with a TOTP secret, written through the ORM."""
    with app.app_context():
        company, admin = gen_company("Alfa Comércio", "admin-a@example.com")
        db.session.flush()
        conn = gen_connection(company, "ERP", kind="http_api",
                              endpoint_url="https://api.example.com/atende",
                              endpoint_secret=ERP_SECRET)
        hook = gen_webhook(company, "ERP", "https://hooks.example.com/a", ["ticket.created"],
                           secret=HOOK_SECRET)
        admin.totp_secret = TOTP_SECRET
        db.session.commit()
        return {"connection": conn.id, "webhook": hook.id, "user": admin.id}


def _raw_secrets(ids) -> list[str]:
    return [_raw("SELECT endpoint_secret FROM connection WHERE id = :i", i=ids["connection"]),
            _raw("SELECT secret FROM webhook WHERE id = :i", i=ids["webhook"]),
            _raw('SELECT totp_secret FROM "user" WHERE id = :i', i=ids["user"])]


def _orm_secrets(ids) -> list[str]:
    db.session.expire_all()
    return [db.session.get(Connection, ids["connection"]).endpoint_secret,
            db.session.get(Webhook, ids["webhook"]).secret,
            db.session.get(User, ids["user"]).totp_secret]


def test_SEC_8_secrets_are_not_readable_in_the_database(app, stored):
    """A plain SELECT on the tables shows tokens; the app still reads the secrets."""
    with app.app_context():
        raw = _raw_secrets(stored)
        for value, secret in zip(raw, (ERP_SECRET, HOOK_SECRET, TOTP_SECRET)):
            assert secret not in value
            assert crypto.decrypt(value) == secret  # a Fernet token of the app's key
        assert _orm_secrets(stored) == [ERP_SECRET, HOOK_SECRET, TOTP_SECRET]


def test_SEC_8_key_rotation_and_wrong_key(app, stored):
    """With a new key first and the old one after it, old secrets still open and new
    writes use the new key; with only a key that never wrote them, the app says so
    clearly instead of handing out garbage."""
    new = crypto.new_key()
    with app.app_context():
        old = list(app.config["ENCRYPTION_KEYS"])
        app.config["ENCRYPTION_KEYS"] = [new] + old
        assert _orm_secrets(stored) == [ERP_SECRET, HOOK_SECRET, TOTP_SECRET]
        db.session.get(Webhook, stored["webhook"]).secret = "segredo-novo"
        db.session.commit()
        token = _raw("SELECT secret FROM webhook WHERE id = :i", i=stored["webhook"])
        assert crypto.decrypt(token, keys=[new]) == "segredo-novo"

        app.config["ENCRYPTION_KEYS"] = [crypto.new_key()]
        db.session.expire_all()
        with pytest.raises(crypto.SecretKeyError, match="ENCRYPTION_KEYS"):
            db.session.get(Connection, stored["connection"])
        db.session.rollback()
        app.config["ENCRYPTION_KEYS"] = "not-a-fernet-key"
        with pytest.raises(crypto.SecretKeyError, match="chave inválida"):
            crypto.encrypt("x")


def test_SEC_8_key_from_environment_else_generated_once_into_instance(tmp_path, monkeypatch):
    """Production sets ENCRYPTION_KEYS; the embedded mode keeps one private key file."""
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    first = settings.load(tmp_path)["ENCRYPTION_KEYS"]
    key_file = tmp_path / "encryption_key"
    assert first == [key_file.read_text().strip()]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert settings.load(tmp_path)["ENCRYPTION_KEYS"] == first  # same key at every start
    crypto.encrypt("x", keys=first)

    k1, k2 = crypto.new_key(), crypto.new_key()
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{k1}, {k2}")
    assert settings.load(tmp_path)["ENCRYPTION_KEYS"] == [k1, k2]
    assert crypto.decrypt(crypto.encrypt("x", keys=[k2]), keys=[k1, k2]) == "x"


def test_SEC_8_migration_encrypts_existing_secrets(migration_app):
    """An installation upgraded from 0006 has its plain secrets encrypted in place, and
    a downgrade gives them back."""
    flask_migrate.upgrade(revision="0006")
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO company (id, name, domain, timezone, language, show_agent_name, active,"
            " created_at) VALUES (1, 'X', 'x', 'America/Sao_Paulo', 'pt_BR', true, true,"
            " CURRENT_TIMESTAMP)"))
        conn.execute(text(
            "INSERT INTO connection (id, company_id, name, kind, active, public_key,"
            " widget_color, endpoint_secret, settings, created_at) VALUES (1, 1, 'ERP',"
            " 'http_api', true, 'k', '#3c8dbc', :s, '{}', CURRENT_TIMESTAMP)"), {"s": ERP_SECRET})
        conn.execute(text(
            "INSERT INTO webhook (id, company_id, name, url, events, active, secret, created_at)"
            " VALUES (1, 1, 'ERP', 'https://hooks.example.com/a', '[]', true, :s,"
            " CURRENT_TIMESTAMP)"), {"s": HOOK_SECRET})
        conn.execute(text(
            'INSERT INTO "user" (id, company_id, name, email, password_hash, is_superuser,'
            " active, failed_logins, totp_secret, created_at) VALUES (1, 1, 'Ana',"
            " 'ana@example.com', 'x', false, true, 0, :s, CURRENT_TIMESTAMP)"), {"s": TOTP_SECRET})
    ids = {"connection": 1, "webhook": 1, "user": 1}

    flask_migrate.upgrade()

    raw = _raw_secrets(ids)
    assert not {ERP_SECRET, HOOK_SECRET, TOTP_SECRET} & set(raw)
    assert _orm_secrets(ids) == [ERP_SECRET, HOOK_SECRET, TOTP_SECRET]
    db.session.rollback()

    flask_migrate.downgrade(revision="0006")
    assert _raw_secrets(ids) == [ERP_SECRET, HOOK_SECRET, TOTP_SECRET]
