"""What tests/conftest.py keeps from one test's app for the next (issue 17 point 8, the
suite's time) must be what each app would have worked out for itself: otherwise the
suite would test something other than what `create_app` serves."""
from __future__ import annotations

import copy

from flask_admin.model.base import BaseModelView
from sqlalchemy import create_engine, event, select
from sqlalchemy.pool import NullPool

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


def test_PLT_8_admin_screens_kept_for_the_run_are_the_ones_each_app_builds(app_config, monkeypatch,
                                                                         tmp_path):
    """Every screen of a later app, built from what the run keeps, shows the columns,
    filters, search and forms that Flask-Admin's own refresh works out for it."""
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    create_app(app_config)
    later = create_app(app_config)  # its screens certainly come from what an earlier app left
    views = model_views(later)
    assert len(views) > 20
    refresh = BaseModelView._refresh_cache.original
    for view in views:
        fresh = copy.copy(view)
        refresh(fresh)
        assert _seen(view) == _seen(fresh), view.endpoint


def _registered(view, register) -> list:
    """The screens `register` (a _register_screen) hands to the audit log for `view`."""
    calls = []
    real = audit.register_screen
    audit.register_screen = lambda *args, **kwargs: calls.append((args, kwargs))
    try:
        register(view)
    finally:
        audit.register_screen = real
    return calls


def test_PLT_8_audit_labels_kept_for_the_run_are_the_ones_each_screen_registers(app, app_config):
    """The audit log's table and field names (UX-4) a later app registers for each screen
    are those the screen's own forms and labels give."""
    create_app(app_config)
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


def test_PLT_8_a_statement_kept_for_the_run_is_this_engines_sql(app, tmp_path):
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
