"""The Alembic migrations build exactly the schema the models describe (PLT).

`make run` and production build the database with `flask db upgrade`, while the rest of
the suite uses `create_all`; these tests keep the two from drifting apart. They run on
the current test backend: a fresh SQLite file (embedded) or a scratch PostgreSQL
database created and dropped here (services).
"""
from __future__ import annotations

import pprint
import uuid

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, make_url, select, text
from sqlalchemy.exc import IntegrityError

from backoffice import create_app
from backoffice.extensions import db
from backoffice.jobs import tasks
from backoffice.models.articles import FTS_TABLES
from tests.conftest import BACKEND, PG_URL, _check_postgres, missing_service


@pytest.fixture
def database_url(tmp_path):
    """An empty database for the current backend, removed afterwards."""
    if BACKEND != "services":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return

    problem = _check_postgres()
    if problem:
        missing_service(problem)
    name = f"atende_migtest_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migration_app(database_url, tmp_path, monkeypatch):
    """The real app on the empty database: no create_all, only migrations."""
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url,
                      "TASK_MODE": "eager", "SECRET_KEY": "x"})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()  # PostgreSQL refuses to drop a database still in use
    tasks.stop()


def _modelled(name, type_, _parent) -> bool:
    """Leave out the embedded mode's FTS5 search table (ART-1), which no model describes."""
    return not (type_ == "table" and name in FTS_TABLES)


def schema_diff() -> list:
    """What autogenerate would still have to do to reach the models (empty = in sync)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True,
                        "include_name": _modelled})
        return compare_metadata(context, db.metadata)


def assert_schema_matches_models():
    diff = schema_diff()
    assert not diff, ("migrations and models disagree; run `flask db migrate` and review "
                      "the revision:\n" + pprint.pformat(diff, width=100))


def table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - FTS_TABLES


def test_PLT_migrations_build_schema_matching_models(migration_app):
    assert table_names() == set()

    flask_migrate.upgrade()

    assert table_names() == set(db.metadata.tables) | {"alembic_version"}
    assert_schema_matches_models()


def test_PLT_migrations_downgrade_to_base_and_upgrade_again(migration_app):
    flask_migrate.upgrade()

    flask_migrate.downgrade(revision="base")
    assert table_names() == {"alembic_version"}

    flask_migrate.upgrade()
    assert_schema_matches_models()


def test_PLT_migrations_have_a_single_head(migration_app):
    """Two engineers adding revisions in parallel leave two heads; merge them."""
    script = ScriptDirectory.from_config(
        migration_app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}"


def test_PLT_demo_seed_loads_on_migrated_schema(migration_app):
    """What `make run` does on first start: upgrade, then `flask seed demo`."""
    from backoffice.models import Company, User
    from backoffice.seed import load_demo

    flask_migrate.upgrade()

    assert load_demo() is True
    assert db.session.scalar(select(func.count(Company.id))) == 1
    root = db.session.scalar(select(User).where(User.is_superuser.is_(True)))
    assert root is not None and root.check_password("root12345")
    assert load_demo() is False  # the second run leaves the data alone


def test_PLT_3_upgrade_gives_new_screens_to_existing_administrators(migration_app):
    """After an upgrade that adds screens, a company's admin group (which held every right)
    sees them; a group with fewer rights gets nothing new."""
    import json

    from sqlalchemy import text

    from backoffice import permissions

    flask_migrate.upgrade(revision="0002")
    old_full = [f"{a}.{x}" for a in ("users", "groups", "periods", "holidays", "tags", "reasons")
                for x in ("view", "create", "edit", "delete")] + ["company.view", "company.edit",
                                                                "audit.view"]
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO company (name, domain, timezone, language, show_agent_name,"
                          " active, created_at) VALUES ('X', 'x', 'America/Sao_Paulo', 'pt_BR',"
                          " true, true, CURRENT_TIMESTAMP)"))
        for name, rights in (("Administrador", old_full), ("Supervisor", ["users.view"]),
                             ("Atendente", [])):
            conn.execute(text("INSERT INTO permission_group (company_id, name, kind, rights) "
                              "VALUES (1, :n, 'system', :r)"), {"n": name, "r": json.dumps(rights)})

    flask_migrate.upgrade()

    with db.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT name, rights FROM permission_group")).all())
    rights = {k: set(json.loads(v) if isinstance(v, str) else v) for k, v in rows.items()}
    assert rights["Administrador"] == set(permissions.system_rights())
    assert rights["Supervisor"] == {"users.view"}
    # 0004: the default agents' group keeps working in the inbox after the upgrade
    assert rights["Atendente"] == set(permissions.AGENT_RIGHTS)


def test_0005_existing_contacts_keep_working_after_the_upgrade(migration_app):
    """Contacts made by the inbox before 0005 get `updated_at` from `created_at`, and the
    new duplicate rules (one contact per phone and per CPF/CNPJ) hold on the table."""
    flask_migrate.upgrade(revision="0004")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO company (name, domain, timezone, language, show_agent_name,"
                          " active, created_at) VALUES ('X', 'x', 'America/Sao_Paulo', 'pt_BR',"
                          " true, true, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO contact (company_id, name, phone, created_at) VALUES "
                          "(1, 'Visitante', NULL, '2026-01-02 03:04:05'), "
                          "(1, 'Maria', '+5511987654321', '2026-01-02 03:04:05')"))
    flask_migrate.upgrade()
    with db.engine.connect() as conn:
        stamps = conn.execute(text("SELECT created_at, updated_at FROM contact")).all()
    assert stamps and all(created == updated for created, updated in stamps)
    uniques = {u["name"] for u in inspect(db.engine).get_unique_constraints("contact")}
    assert {"uq_contact_company_phone", "uq_contact_company_document"} <= uniques
    with pytest.raises(IntegrityError):
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO contact (company_id, name, phone, created_at, "
                              "updated_at) VALUES (1, 'Outra', '+5511987654321', "
                              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
