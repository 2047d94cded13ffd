"""lib/pgcursor.py (issue 17, SCL-5): a PostgreSQL cursor's description is psycopg's own,
built only when something reads it, and it describes the result it was asked for."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text
from sqlalchemy.pool import QueuePool

from backoffice.lib import pgcursor
from tests.conftest import PG_URL, _check_postgres, missing_service

# varied types, so every attribute of a Column (sizes, precision, scale) has a value to compare
QUERY = ("SELECT 1::int AS n, 'ação'::varchar(20) AS word, 12.5::numeric(10, 2) AS price, "
         "now()::timestamp(0) AS at, '{\"a\": 1}'::jsonb AS doc, ARRAY[1, 2] AS ids, "
         "NULL::text AS nothing")


@pytest.fixture
def engine():
    problem = _check_postgres()
    if problem:
        missing_service(problem)
    made = create_engine(PG_URL, poolclass=QueuePool, pool_size=1, max_overflow=0)
    pgcursor.install(made)
    yield made
    made.dispose()


@pytest.fixture
def driver(engine):
    """The psycopg connection under one of the engine's pooled connections."""
    raw = engine.raw_connection()
    yield raw.driver_connection
    raw.close()


def _as_psycopg_says(description) -> list[tuple]:
    return [(tuple(c), c.name, c.type_code, c.type_display, repr(c)) for c in description]


def test_SCL_5_a_description_is_the_one_psycopg_gives(driver):
    ours = driver.cursor()
    assert isinstance(ours, pgcursor.Cursor)
    ours.execute(QUERY)
    plain = psycopg.Cursor(driver)
    plain.execute(QUERY)
    assert len(ours.description) == 7
    assert _as_psycopg_says(ours.description) == _as_psycopg_says(plain.description)
    assert [c.name for c in ours.description] == ["n", "word", "price", "at", "doc", "ids",
                                                  "nothing"]
    assert ours.description[-1].name == "nothing"
    assert [c.name for c in ours.description[1:3]] == ["word", "price"]
    assert ours.fetchone()[1] == "ação"


def test_SCL_5_a_description_read_later_still_describes_its_own_result(driver):
    cursor = driver.cursor()
    cursor.execute("SELECT 1 AS first, 'x'::text AS second")
    taken = cursor.description          # kept, not read yet
    cursor.execute("SELECT 2.5::float8 AS other")
    assert [(c.name, c.type_code) for c in taken] == [("first", 23), ("second", 25)]
    assert [c.name for c in cursor.description] == ["other"]


def test_SCL_5_results_without_columns_are_described_as_psycopg_does(driver):
    cursor = driver.cursor()
    cursor.execute("CREATE TEMPORARY TABLE t_pgcursor (id int)")
    assert cursor.description is None
    cursor.execute("INSERT INTO t_pgcursor VALUES (1)")
    assert cursor.description is None
    cursor.execute("SELECT FROM t_pgcursor")   # rows without columns
    assert cursor.description == []
    assert cursor.fetchall() == [()]


def test_SCL_5_a_statement_sqlalchemy_ran_before_builds_no_columns(engine, monkeypatch):
    """SQLAlchemy keeps the column map of a compiled statement: on a second run it only
    checks that there is a description, so no Column is built; a new statement's columns
    are still read, and the rows come back by name either way."""
    built = []
    real = pgcursor.Column

    def counting(state, index):
        built.append(index)
        return real(state, index)

    monkeypatch.setattr(pgcursor, "Column", counting)
    things = Table("t_pgcursor_rows", MetaData(), Column("id", Integer, primary_key=True),
                   Column("name", String(20)), prefixes=["TEMPORARY"])
    statement = select(things.c.id, things.c.name).order_by(things.c.id)
    with engine.connect() as conn:
        things.create(conn)
        conn.execute(things.insert(), [{"id": 1, "name": "Ana"}, {"id": 2, "name": "Bia"}])
        first = conn.execute(statement).mappings().all()
        after_first = len(built)
        second = conn.execute(statement).mappings().all()
        assert len(built) == after_first           # the cached column map served
        assert first == second == [{"id": 1, "name": "Ana"}, {"id": 2, "name": "Bia"}]
        textual = conn.execute(text("SELECT name AS nome FROM t_pgcursor_rows WHERE id = 2"))
        assert textual.keys() == ["nome"] and textual.scalar_one() == "Bia"
        assert len(built) > after_first            # read when SQLAlchemy needed the names


def test_SCL_5_install_leaves_other_databases_alone(tmp_path):
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    pgcursor.install(sqlite)
    with sqlite.connect() as conn:
        assert conn.execute(text("SELECT 1 AS one")).keys() == ["one"]
    sqlite.dispose()


def test_SCL_5_the_apps_own_connections_use_it(app):
    from backoffice.extensions import db
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.driver_connection.cursor()
            expected = pgcursor.Cursor if db.engine.dialect.name == "postgresql" else None
            assert (type(cursor) is pgcursor.Cursor) == (expected is not None)
            cursor.close()
        finally:
            raw.close()
