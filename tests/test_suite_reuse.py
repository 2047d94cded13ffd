"""What tests/conftest.py keeps from one test's app for the next (issue 17 point 8, the
suite's time) must be what each app would have worked out for itself: otherwise the
suite would test something other than what `create_app` serves."""
from __future__ import annotations

import copy
import os

import psycopg
import pytest
from flask_admin.contrib.sqla.view import ModelView
from flask_admin.model.base import BaseModelView
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from werkzeug.routing import Map

from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import Tag
from backoffice.services import audit
from tests.admin_registry import model_views


def _seen(view) -> dict:
    """What a screen shows and accepts, as plain values."""
    filters = [(type(f).__name__, str(f.name), f.operation()) for f in (view._filters or [])]
    return {
        "list": list(view._list_columns),
        "sortable": dict(view._sortable_columns),
        "details": list(getattr(view, "_details_columns", []) or []),
        "export": list(view._export_columns),
        "search": view._search_supported,
        "choices": view._column_choices_map,
        "filters": filters,
        "forms": (view._create_form_class, view._edit_form_class),
    }


def test_suite_admin_screens_kept_for_the_run_are_the_ones_each_app_builds(
        app_config, monkeypatch, tmp_path):
    """Every screen of a later app, built from what the run keeps, shows the columns,
    filters, search and forms that Flask-Admin's own refresh works out for it, and loads
    the relationships its own scaffold_auto_joins finds."""
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    create_app(app_config)
    later = create_app(app_config)  # its screens certainly come from what an earlier app left
    views = model_views(later)
    assert len(views) > 20
    refresh = BaseModelView._refresh_cache.original
    joins = ModelView.scaffold_auto_joins.original
    for view in views:
        fresh = copy.copy(view)
        refresh(fresh)
        assert _seen(view) == _seen(fresh), view.endpoint
        if view.column_auto_select_related:  # the relationships its list loads with it
            assert list(view._auto_joins) == joins(view), view.endpoint
    assert any(view._auto_joins for view in views)


def _registered(view, register) -> list:
    """The screens `register` (a _register_screen) hands to the audit log for `view`."""
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audit, "register_screen",
                      lambda *args, **kwargs: calls.append((args, kwargs)))
        register(view)
    return calls


def test_suite_audit_labels_kept_for_the_run_are_the_ones_each_screen_registers(app):
    """The audit log's table and field names (UX-4) a later app registers for each screen
    (the `app` fixture's screens are registered, so what is kept is replayed here) are
    those the screen's own forms and labels give."""
    audited = [view for view in model_views(app) if view.audited]
    assert len(audited) > 20
    for view in audited:
        kept = _registered(view, type(view)._register_screen)
        built = _registered(view, type(view)._register_screen.original)
        assert kept and kept == built, view.endpoint


def _statements(engine, run) -> list[str]:
    seen = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: seen.append(statement))
    with engine.connect() as conn:
        run(conn)
    return seen


def test_suite_a_statement_kept_for_the_run_is_this_engines_sql(app, tmp_path):
    """A statement compiled for an earlier test's engine runs here as this engine's
    dialect writes it; an engine whose dialect is set otherwise (another parameter style)
    gets its own compilation, not the kept one."""
    stmt = select(Tag.id, Tag.name).where(Tag.company_id == 1, Tag.name == "x")
    with app.app_context():
        engine = db.engine
        expected = str(stmt.compile(dialect=engine.dialect))
        for _ in range(2):  # the second run comes from the cache
            assert _statements(engine, lambda conn: conn.execute(stmt).all()) == [expected]

    other = create_engine(f"sqlite:///{tmp_path / 'named.db'}", paramstyle="named",
                          poolclass=NullPool)
    db.metadata.create_all(other, tables=[Tag.__table__])
    ran = _statements(other, lambda conn: conn.execute(stmt).all())
    other.dispose()
    assert ran == [str(stmt.compile(dialect=other.dialect))]
    assert ":company_id_1" in ran[0]


# --- URL maps shared between the suite's apps (tests/conftest.py, SharedUrlMap) ----------

SAMPLE_VALUE = {"IntegerConverter": 7, "PathConverter": "a/b", "UUIDConverter":
                "2f1c0a52-8c8e-4b43-9a43-5f2f0d3b8b11", "FloatConverter": 1.5}


def _sample_values(rule) -> dict:
    return {name: SAMPLE_VALUE.get(type(converter).__name__, "x1")
            for name, converter in rule._converters.items()}


def test_suite_url_maps_shared_between_apps_match_and_build_as_werkzeug_s_own(
        app_config, monkeypatch, tmp_path):
    """A later app matches every rule's URL to the endpoint and values, and builds every
    endpoint's URL, exactly as an app built with Werkzeug's own map does; its view
    functions are its own."""
    from flask import Flask

    from tests.conftest import SharedUrlMap

    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    first = create_app(app_config)
    later = create_app(app_config)
    assert isinstance(later.url_map, SharedUrlMap)
    assert later.url_map._matcher is first.url_map._matcher  # shared, not built again
    with monkeypatch.context() as plain_maps:
        plain_maps.setattr(Flask, "url_map_class", Map)
        plain = create_app(app_config).url_map
    assert type(plain) is Map
    rules = list(later.url_map.iter_rules())
    assert len(rules) > 300
    assert ([(r.rule, r.endpoint, r.methods) for r in rules]
            == [(r.rule, r.endpoint, r.methods) for r in plain.iter_rules()])
    shared_urls, plain_urls = later.url_map.bind("atende.test"), plain.bind("atende.test")
    for rule in rules:
        values = _sample_values(rule)
        built = shared_urls.build(rule.endpoint, values, method=sorted(rule.methods)[0])
        assert built == plain_urls.build(rule.endpoint, values,
                                         method=sorted(rule.methods)[0]), rule.rule
        for method in sorted(rule.methods):
            found = shared_urls.match(built.split("?")[0], method, return_rule=True)
            expected = plain_urls.match(built.split("?")[0], method, return_rule=True)
            assert (found[0].endpoint, found[1]) == (expected[0].endpoint, expected[1]), built
    # a screen's views are methods of that app's own Flask-Admin view
    assert later.view_functions["admin.index"] is not first.view_functions["admin.index"]


def test_suite_url_maps_share_only_the_same_rules_with_the_same_settings():
    """Maps share their rules only when every rule is the same in everything it is
    matched and built by, in the same order, under the same map settings."""
    from werkzeug.routing import Rule

    from tests.conftest import SharedUrlMap

    def rule(path="/r/<int:id>", **changes):
        options = {"endpoint": "r", "methods": ["GET"], **changes}
        automatic = options.pop("provide_automatic_options", True)
        made = Rule(path, **options)
        made.provide_automatic_options = automatic
        return made

    def matcher(*rules, **settings):
        url_map = SharedUrlMap(**settings)
        for made in rules:
            url_map.add(made)
        return url_map._matcher

    base = matcher(rule(), rule("/s", endpoint="s"))
    assert matcher(rule(), rule("/s", endpoint="s")) is base
    for different in (
            matcher(rule(methods=["POST"]), rule("/s", endpoint="s")),
            matcher(rule(endpoint="other"), rule("/s", endpoint="s")),
            matcher(rule(defaults={"page": 1}), rule("/s", endpoint="s")),
            matcher(rule(strict_slashes=False), rule("/s", endpoint="s")),
            matcher(rule(provide_automatic_options=False), rule("/s", endpoint="s")),
            matcher(rule("/r/<id>"), rule("/s", endpoint="s")),
            matcher(rule("/s", endpoint="s"), rule()),  # another order
            matcher(rule(), rule("/s", endpoint="s"), strict_slashes=False)):
        assert different is not base


def test_suite_a_rule_added_to_one_app_never_reaches_another(app_config, monkeypatch, tmp_path):
    """An app that gets a route of its own after sharing its map takes a private copy:
    it serves the new route and every other one; apps built before and after it do not
    know the new route."""
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    before = create_app(app_config)
    changed = create_app(app_config)
    changed.url_map.iter_rules()  # settled: its rules come from `before`
    changed.add_url_rule("/so-neste-app", "so_neste_app", lambda: "só neste app")
    after = create_app(app_config)

    assert changed.test_client().get("/so-neste-app").get_data(as_text=True) == "só neste app"
    assert changed.test_client().get("/login").status_code == 200
    for other in (before, after):
        assert other.test_client().get("/so-neste-app").status_code == 404
        assert other.test_client().get("/login").status_code == 200
    assert after.url_map._matcher is before.url_map._matcher
    assert changed.url_map._matcher is not before.url_map._matcher


# --- PostgreSQL connections kept between tests (tests/pg_connections.py) -----------------

def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


@pytest.mark.postgresql
def test_suite_a_kept_connection_carries_nothing_of_the_test_before(pg_schema):
    """The next test's engine gets the same server process, without the settings,
    listeners, session locks, temporary tables or open transaction the last one left."""
    first = create_engine(pg_schema)
    conn = first.connect()
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    conn.execute(text("SET statement_timeout = '1234s'"))
    conn.execute(text("LISTEN atende_test_channel"))
    conn.execute(text("SELECT pg_advisory_lock(7263999)"))
    conn.execute(text("CREATE TEMP TABLE left_behind (n int)"))
    conn.execute(text("INSERT INTO left_behind VALUES (1)"))  # never committed
    conn.connection.dbapi_connection.cursor_factory = psycopg.ClientCursor  # as an app's may
    conn.close()
    first.dispose()

    later = create_engine(pg_schema)
    with later.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
        assert conn.execute(text("SELECT count(*) FROM pg_listening_channels()")).scalar() == 0
        assert conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"),
            {"pid": pid}).scalar() == 0
        assert conn.execute(text("SELECT to_regclass('pg_temp.left_behind')")).scalar() is None
        assert raw.autocommit is False and raw.cursor_factory is psycopg.Cursor
    later.dispose()


@pytest.mark.postgresql
def test_suite_a_connection_to_another_database_is_really_closed(pg_schema):
    """Tests that make a database of their own can drop it once their engine is gone."""
    name = f"test_reuse_{os.getpid()}"
    admin = create_engine(pg_schema, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        own = create_engine(make_url(pg_schema).set(database=name))
        _pid(own)
        own.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}"'))  # refused while a connection is open
    finally:  # a failed check leaves no database behind
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgresql
def test_suite_a_kept_connection_whose_server_process_ended_is_not_handed_out(pg_schema):
    first = create_engine(pg_schema)
    pid = _pid(first)
    first.dispose()
    url = make_url(pg_schema)
    with psycopg.connect(host=url.host, port=url.port, user=url.username,
                         dbname=url.database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    later = create_engine(pg_schema)
    assert _pid(later) != pid
    later.dispose()
