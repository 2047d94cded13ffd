"""Database set-up shared by the benchmarks (each script keeps its own rules on top)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, make_url, text


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
