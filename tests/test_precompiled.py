"""lib/precompiled.py (issue 17, SCL-5): the login of every request and the inbox list's
page SELECT run on the driver's cursor, compiled once, and give exactly what SQLAlchemy's
execution gives: the same names and rows (decrypted secrets included), the same
listeners called, the same exceptions. Both backends: PostgreSQL runs them directly,
SQLite (positional parameters) through SQLAlchemy."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import JSON, String, bindparam, cast, event, exc, literal_column, select, text

from backoffice.extensions import db
from backoffice.lib import precompiled
from backoffice.models import Tag, User, UserSession
from backoffice.services import inbox, sessions
from tests.conftest import BACKEND, client_as, sql_statements
from tests.test_inbox_api import World, listed, make_ticket, world  # noqa: F401 (fixture)

PG = BACKEND == "services"


def _through_sqlalchemy(statement, values):
    result = db.session.connection().execute(statement, values)
    return tuple(result.keys()), [tuple(row) for row in result.all()]


def _entry(statement):
    return precompiled._precompiled(statement, db.session.connection().dialect)


def test_SCL_5_the_login_statement_gives_the_row_sqlalchemy_gives_secret_decrypted(app, world):
    """The login's 47 columns, the encrypted TOTP secret among them (SEC-8: stored
    encrypted, read back through its type's result processor)."""
    client_as(app, world.ana)
    with app.app_context():
        ana = db.session.get(User, world.ids["ana"])
        ana.totp_secret = "JBSWY3DPEHPK3PXP"
        db.session.commit()
        stored = db.session.execute(text('SELECT totp_secret FROM "user" WHERE id = :id'),
                                    {"id": ana.id}).scalar()
        assert stored and "JBSWY3DPEHPK3PXP" not in stored
        token_hash = db.session.scalar(select(UserSession.token_hash)
                                       .where(UserSession.user_id == ana.id))
        values = {"user_id": ana.id, "token_hash": token_hash}
        statement = sessions._find_statement()
        for _ in range(2):  # the first run learns the result's columns, the second uses them
            keys, rows = precompiled.rows(db.session.connection(), statement, values)
            assert (keys, rows) == _through_sqlalchemy(statement, values)
        assert len(rows) == 1 and len(rows[0]) == len(statement.selected_columns) > 40
        assert "JBSWY3DPEHPK3PXP" in rows[0]
        assert _entry(statement).direct is PG
        assert precompiled.rows(db.session.connection(), statement,
                                {**values, "token_hash": "0" * 64}) == (keys, [])


def test_SCL_5_the_inbox_page_gives_the_names_and_rows_sqlalchemy_gives(app, world):
    for i in range(3):
        make_ticket(app, world, text=f"Olá {i}", tag_names=("VIP",))
    make_ticket(app, world, department="support")
    with app.app_context():
        admin = db.session.get(User, world.ids["admin"])
        statement, values = inbox.page_query(admin, inbox.Filters.from_args({}))
        for _ in range(2):
            keys, rows = precompiled.rows(db.session.connection(), statement, values)
            assert (keys, rows) == _through_sqlalchemy(statement, values)
        assert len(rows) == 4 and "contact_name" in keys and "tags" in keys
        assert _entry(statement).direct is PG
    # and the endpoint lists them, tags and all
    got = client_as(app, world.admin).get("/inbox/api/tickets").json["tickets"]
    assert len(got) == 4 and sum(t["tags"] == [{"id": world.ids["tag"], "name": "VIP",
                                                "color": "#aa0000", "personal": False}]
                                 for t in got) == 3


def test_SCL_5_statement_listeners_see_a_precompiled_statement(app, world):
    """The suite's and the benches' statement counters (before_cursor_execute) count it,
    and an after_cursor_execute listener is called once too."""
    statement = select(Tag.name).where(Tag.company_id == bindparam("company_id"))
    after = []
    with sql_statements(app) as seen, app.app_context():
        listener = lambda *args: after.append(args[2])  # noqa: E731
        event.listen(db.engine, "after_cursor_execute", listener)
        try:
            connection = db.session.connection()
            del seen[:]
            keys, rows = precompiled.rows(connection, statement, {"company_id": world.company_id})
        finally:
            event.remove(db.engine, "after_cursor_execute", listener)
    assert keys == ("name",) and sorted(rows) == [("Só da Ana",), ("VIP",)]
    assert len(seen) == 1 and "FROM tag" in seen[0] and after == seen


def test_SCL_5_bound_values_go_through_their_types(app, world):
    """A JSON value is serialised by its type's bind processor, as SQLAlchemy does (psycopg
    cannot send a dict as it is)."""
    with app.app_context():
        statement = select(cast(bindparam("doc", type_=JSON), String).label("doc"))
        keys, rows = precompiled.rows(db.session.connection(), statement, {"doc": {"a": [1]}})
        assert keys == ("doc",) and rows == [('{"a": [1]}',)]


def test_SCL_5_an_expanding_in_goes_through_sqlalchemy(app, world):
    with app.app_context():
        statement = select(Tag.name).where(Tag.id.in_(bindparam("ids", expanding=True)))
        keys, rows = precompiled.rows(db.session.connection(), statement,
                                      {"ids": [world.ids["tag"], world.ids["b_tag"]]})
        assert sorted(rows) == [("Delta",), ("VIP",)]
        assert _entry(statement).direct is False


def test_SCL_5_a_driver_error_is_sqlalchemys_exception(app, world):
    """A failing statement raises what Connection.execute raises (the request's error
    handling and the 503 of a busy database catch SQLAlchemy's classes), and the
    connection goes on after the rollback."""
    with app.app_context():
        statement = select(literal_column("1").label("q")).select_from(
            text("sem_tal_tabela")).where(literal_column("1") == bindparam("one"))
        with pytest.raises(exc.DBAPIError) as caught:
            precompiled.rows(db.session.connection(), statement, {"one": 1})
        expected = exc.ProgrammingError if PG else exc.OperationalError
        assert isinstance(caught.value, expected) and "sem_tal_tabela" in str(caught.value)
        db.session.rollback()
        fine = select(literal_column("1").label("q")).where(literal_column("1") == bindparam("one"))
        assert precompiled.rows(db.session.connection(), fine, {"one": 1}) == (("q",), [(1,)])


def test_SCL_5_the_list_and_the_login_still_obey_an_ended_session(app, world):
    """The login read this way still ends at a logged-out session (SEC-4)."""
    make_ticket(app, world)
    ana = client_as(app, world.ana)
    assert len(listed(ana)) == 1
    with app.app_context():
        db.session.execute(UserSession.__table__.delete()
                           .where(UserSession.user_id == world.ids["ana"]))
        db.session.commit()
    assert ana.get("/inbox/api/tickets").status_code == 401


def test_SCL_3_an_insert_and_an_update_give_what_sqlalchemy_gives(app, world):
    """`written`: an INSERT's RETURNING and an UPDATE's rows matched, as Connection.execute
    gives them, with each value through its column's type (a JSON column, a tenant's
    tag), seen by the statement listeners; on PostgreSQL on the driver's cursor."""
    table = Tag.__table__
    insert = table.insert().values(
        company_id=bindparam("v_company"), name=bindparam("v_name"), color=bindparam("v_color"),
        owner_id=bindparam("v_owner"), created_at=bindparam("v_at")).returning(
        table.c.id, table.c.name, table.c.created_at)
    at = datetime(2026, 12, 7, 18, 30, tzinfo=timezone.utc)
    update = table.update().where(table.c.id == bindparam("v_id")).values(
        name=bindparam("v_name"))
    with sql_statements(app) as seen, app.app_context():
        connection = db.session.connection()
        del seen[:]
        count, rows = precompiled.written(connection, insert, {
            "v_company": world.company_id, "v_name": "Urgente", "v_color": "#ff0000",
            "v_owner": None, "v_at": at})
        (new_id, name, created_at), = rows
        assert count == 1 and name == "Urgente"
        assert created_at.replace(tzinfo=timezone.utc) == at  # through the column's type
        assert precompiled.written(connection, update, {"v_id": new_id, "v_name": "Muito urgente"}) \
            == (1, [])
        assert precompiled.written(connection, update, {"v_id": new_id + 1000, "v_name": "x"}) \
            == (0, [])
        assert [s.split()[0] for s in seen] == ["INSERT", "UPDATE", "UPDATE"]
        assert db.session.scalar(select(Tag.name).where(Tag.id == new_id)) == "Muito urgente"
        assert _entry(insert).direct is PG and _entry(update).direct is PG

        # a column left out that has a Python default (created_at): SQLAlchemy fills it
        short = table.insert().values(company_id=bindparam("v_company"),
                                      name=bindparam("v_name")).returning(table.c.created_at)
        count, ((filled,),) = precompiled.written(connection, short, {
            "v_company": world.company_id, "v_name": "Sem data"})
        assert count == 1 and filled is not None and _entry(short).direct is False
        db.session.rollback()
