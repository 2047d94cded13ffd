"""lib/pool.py: only connections that sat idle pay a round trip before use (issue 17,
SCL-5: pool_pre_ping cost every request one), and a connection cut while idle (a
database restart) is replaced before the request sees it."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, exc, text
from sqlalchemy.pool import QueuePool

from backoffice.lib import pool
from tests.conftest import PG_URL, _check_postgres, cut_pg_connection, missing_service


@pytest.fixture
def engines():
    problem = _check_postgres()
    if problem:
        missing_service(problem)
    made = []

    def make(idle_seconds: float):
        engine = create_engine(PG_URL, poolclass=QueuePool, pool_size=1, max_overflow=0)
        pool.install(engine, idle_seconds)
        made.append(engine)
        return engine
    yield make
    for engine in made:
        engine.dispose()


def test_SCL_5_a_connection_cut_while_idle_is_replaced_before_use(engines):
    engine = engines(idle_seconds=0.1)
    with engine.connect() as conn:
        first = conn.scalar(text("SELECT pg_backend_pid()"))
    cut_pg_connection(first)
    with engine.connect() as conn:  # no error: pinged, found dead, replaced
        assert conn.scalar(text("SELECT pg_backend_pid()")) != first


def test_SCL_5_a_connection_used_a_moment_ago_is_not_pinged(engines):
    """The other side of the rule: within the idle window there is no ping, so a cut
    that fresh reaches the statement (SQLAlchemy then drops the pool's connections)."""
    engine = engines(idle_seconds=60)
    with engine.connect() as conn:
        first = conn.scalar(text("SELECT pg_backend_pid()"))
    cut_pg_connection(first)
    with pytest.raises(exc.OperationalError):
        with engine.connect() as conn:
            conn.scalar(text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != first


@pytest.mark.parametrize("env, size, overflow", [
    ({}, 5, 10),                                           # SQLAlchemy's own
    ({"DB_POOL_SIZE": "20", "DB_MAX_OVERFLOW": "4"}, 20, 4),
])
def test_SCL_3_connections_kept_per_process_come_from_the_environment(
        monkeypatch, tmp_path, env, size, overflow):
    """SCL-3: DB_POOL_SIZE and DB_MAX_OVERFLOW size the pool of the app's engine: a web
    process whose concurrent requests exceed the kept connections opens and closes a
    PostgreSQL connection per burst, so a busy cluster keeps more."""
    from backoffice import create_app
    from backoffice.extensions import db

    for key in ("DB_POOL_SIZE", "DB_MAX_OVERFLOW"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'pool.db'}",
                      "TASK_MODE": "eager", "REDIS_URL": None})
    with app.app_context():
        engine = db.engine
        assert isinstance(engine.pool, QueuePool) and engine.pool.size() == size
        held = [engine.connect() for _ in range(size + overflow)]  # all it may open
        assert engine.pool.checkedout() == size + overflow
        assert engine.pool.overflow() == overflow  # opened beyond the kept ones
        for conn in held:
            conn.close()
        assert engine.pool.checkedin() == size  # the extra ones were closed on return
        engine.dispose()
