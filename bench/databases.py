"""Database set-up shared by the benchmarks (each script keeps its own rules on top)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import sqlalchemy
from sqlalchemy import create_engine, event, make_url, text


def create_missing_database(url: str) -> bool:
    """Create the PostgreSQL database of `url` through the `postgres` one when it is
    missing; True when it was created. Nothing for SQLite."""
    u = make_url(url.replace("postgresql://", "postgresql+psycopg://"))
    if u.get_backend_name() != "postgresql":
        return False
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                           {"n": u.database}):
                return False
            conn.exec_driver_sql(f'CREATE DATABASE "{u.database}"')
            print(f"created database {u.database}")
            return True
    finally:
        admin.dispose()


def remove_sqlite_file(url: str) -> None:
    """Start a SQLite benchmark from an empty file (its folder created when missing)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        Path(u.database).unlink(missing_ok=True)


def ensure_database(url: str) -> None:
    """Create a missing PostgreSQL database; remove an old SQLite file."""
    remove_sqlite_file(url)
    create_missing_database(url)


def rebuild_schema(db) -> None:
    """An empty schema of the app's models in the app's database (Flask-SQLAlchemy `db`):
    PostgreSQL's public schema dropped and made again, SQLite's tables dropped."""
    db.session.remove()
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    else:
        db.drop_all()
    db.create_all()


class StatementCounter:
    """Counts the SQL statements an engine runs (`.n`)."""

    def __init__(self, engine):
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args):
        self.n += 1


def machine(db) -> str:
    """Print the machine, the versions and the database the figures come from; returns the
    database's name and version."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            backend = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar()
        else:
            backend = "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cpus, {platform.platform()}, Python "
          f"{platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, load average {load}")
    print(f"backend: {backend}")
    return backend
