"""Test fixtures. Two backends, chosen with ATENDE_TEST_BACKEND:

- embedded (default): a SQLite file per test, the same database `make run` uses;
- services: the real PostgreSQL (database `test`) and Redis on 127.0.0.1.

`make test` runs the suite once per backend. Under CI=true a missing service is a
failure, never a skip.
"""
from __future__ import annotations

import gc
import os
from contextlib import contextmanager
import re
import shutil
import threading
import weakref
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from flask_socketio.test_client import SocketIOTestClient
from itsdangerous import URLSafeTimedSerializer
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from werkzeug.routing import Map
from werkzeug.routing.matcher import StateMachineMatcher
from werkzeug.routing.rules import Rule

from backoffice import create_app
from backoffice.extensions import db
from backoffice.jobs import tasks
from tests import pg_connections
from tests.world_snapshot import Snapshot, capture_postgres, restore_postgres

# Every test builds an app (a few hundred thousand objects, in reference cycles) and drops
# it. With the default thresholds those objects outlive the young collections, reach the
# oldest generation and make Python walk the whole heap every few tests: a quarter of the
# suite's time went to full collections. Young collections every 100,000 allocations free
# most of a test's cycles before they grow old (about 250 MB more peak memory per pass).
gc.set_threshold(100_000, 50, 100)


def _reuse_url_builders() -> None:
    """Every test builds its own app, and create_app adds ~900 URL rules, for each of which
    Werkzeug compiles two small Python functions from an AST: over half of create_app's
    time. The functions depend only on the rule's text and parts (the rule itself is
    their first argument), so the suite compiles each distinct rule once and reuses it.
    Rules with defaults fold those values into the code and are always compiled."""
    original = getattr(Rule, "_compile_builder", None)
    if original is None:  # a Werkzeug without it: nothing to reuse
        return
    compiled: dict = {}

    def compile_builder(self, append_unknown: bool = True):
        if self.defaults:
            return original(self, append_unknown)
        key = (self.rule, tuple(self._trace), append_unknown)
        if key not in compiled:
            compiled[key] = original(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = compile_builder


_reuse_url_builders()


def _reuse_rule_parsing() -> None:
    """The other half of a rule's compile (a fifth of create_app): parsing its text into the
    matcher's parts. The parts depend on the rule's text and the map's converter classes
    only; the converters themselves are bound to a map, so each app still gets its own,
    made with the arguments the first parse saw."""
    original = getattr(Rule, "_parse_rule", None)
    if original is None or getattr(original, "reused", False):  # conftest imported twice
        return
    parsed: dict = {}

    def parse_rule(self, rule: str):
        key = (rule, tuple(self.map.converters.items()))
        found = parsed.get(key)
        if found is None:
            calls, start, make = [], len(self._trace), self.get_converter

            def recording(variable, name, args, kwargs):
                calls.append((variable, name, args, dict(kwargs)))
                return make(variable, name, args, kwargs)

            self.get_converter = recording
            try:
                parts = list(original(self, rule))
            finally:
                del self.get_converter
            parsed[key] = (parts, self._trace[start:], calls)
            return parts
        parts, trace, calls = found
        self._trace.extend(trace)
        for variable, name, args, kwargs in calls:
            self._converters[variable] = self.get_converter(variable, name, args, kwargs)
            self.arguments.add(variable)
        return list(parts)

    parse_rule.reused = True
    Rule._parse_rule = parse_rule


_reuse_rule_parsing()


def _reuse_action_lookup() -> None:
    """Flask-Admin finds a view's list actions by walking dir() of every view it builds
    (~10 ms an app); the actions are the class's methods, so the walk is done once per
    view class and each view still gets its own bound methods."""
    from flask_admin.actions import ActionsMixin

    if getattr(ActionsMixin.init_actions, "reused", False):  # conftest imported twice
        return
    names_of: dict[type, list[str]] = {}

    def class_attr(cls, name):  # flask_admin.tools.get_dict_attr without the instance
        return next((c.__dict__[name] for c in cls.mro() if name in c.__dict__), None)

    def init_actions(self) -> None:
        cls = type(self)
        if cls not in names_of:
            names_of[cls] = [p for p in dir(cls) if hasattr(class_attr(cls, p), "_action")]
        self._actions, self._actions_data = [], {}
        for p in names_of[cls]:
            name, text, desc = class_attr(cls, p)._action
            self._actions.append((name, text))
            self._actions_data[name] = (getattr(self, p), text, desc)

    init_actions.reused = True
    ActionsMixin.init_actions = init_actions


_reuse_action_lookup()


def _reuse_admin_forms() -> None:
    """Flask-Admin scaffolds a create and an edit form class for every screen of every app
    (a quarter of create_app). The class depends on the view's class, model and settings,
    all fixed at import; forms are instantiated per request from it. So each screen's two
    classes are built once per run and handed to every later app's view."""
    from flask_admin.model.base import BaseModelView

    for name in ("get_create_form", "get_edit_form"):
        original = getattr(BaseModelView, name)
        if getattr(original, "reused", False):  # conftest imported twice
            continue
        built: dict = {}

        def cached(self, _original=original, _built=built):
            key = (type(self), self.model, self.endpoint)
            if key not in _built:
                _built[key] = _original(self)
            return _built[key]

        cached.reused = True
        setattr(BaseModelView, name, cached)


_reuse_admin_forms()


def _refers_to(value, target, depth: int = 3) -> bool:
    """Whether `value`, or what it holds a few containers deep, is `target` or one of its
    bound methods."""
    if value is target or getattr(value, "__self__", None) is target:
        return True
    if depth == 0:
        return False
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = list(vars(value).values()) if hasattr(value, "__dict__") else []
    return any(_refers_to(item, target, depth - 1) for item in items)


def _reuse_admin_view_caches() -> None:
    """Flask-Admin's _refresh_cache (list, export and detail columns, filters, search,
    form rules) and our audit labels of each screen were worked out again for every
    screen of every test's app, a tenth of the embedded pass: both depend only on the
    view's class, model and names, fixed at import. The attributes the first view of
    each kind sets are handed to later views of that kind, unless one of them holds
    the first view itself (a bound method, a loader that calls back into it): that
    kind is then refreshed every time."""
    from flask_admin.model.base import BaseModelView

    from backoffice.admin.base import SecureModelView

    original = BaseModelView._refresh_cache
    if getattr(original, "reused", False):  # conftest imported twice
        return
    kept: dict = {}
    each_time: set = set()  # kinds whose attributes hold the view: not looked into again

    def refresh_cache(self):
        key = (type(self), self.model, self.endpoint, self.url, self.name)
        found = kept.get(key)
        if found is not None:
            vars(self).update(found)
            return
        if key in each_time:
            original(self)
            return
        before = dict(vars(self))
        original(self)
        changed = {name: value for name, value in vars(self).items()
                   if name not in before or before[name] is not value}
        if any(_refers_to(value, self) for value in changed.values()):
            each_time.add(key)
        else:
            kept[key] = changed

    refresh_cache.reused = True
    refresh_cache.original = original  # tests/test_suite_reuse.py compares the two
    BaseModelView._refresh_cache = refresh_cache

    register = SecureModelView._register_screen
    screens: dict = {}

    def register_screen(self):
        from backoffice.services import audit

        key = (type(self), self.model, self.endpoint, self.name)
        if key not in screens:
            calls = []
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(audit, "register_screen",
                              lambda *args, **kwargs: calls.append((args, kwargs)))
                register(self)
            screens[key] = calls
        for args, kwargs in screens[key]:
            audit.register_screen(*args, **kwargs)

    register_screen.original = register
    SecureModelView._register_screen = register_screen


_reuse_admin_view_caches()


def _reuse_auto_joins() -> None:
    """Flask-Admin works out each list screen's joined relationships (scaffold_auto_joins)
    from the model's mapper for every view of every app: a list of the model's class
    attributes, the same for every view of a class and model, so kept once per run."""
    from flask_admin.contrib.sqla.view import ModelView

    original = ModelView.scaffold_auto_joins
    if getattr(original, "reused", False):  # conftest imported twice
        return
    kept: dict = {}

    def scaffold_auto_joins(self):
        key = (type(self), self.model, self.column_auto_select_related)
        if key not in kept:
            kept[key] = original(self)
        return list(kept[key])

    scaffold_auto_joins.reused = True
    scaffold_auto_joins.original = original  # tests/test_suite_reuse.py compares the two
    ModelView.scaffold_auto_joins = scaffold_auto_joins


_reuse_auto_joins()


def _dialect_signature(dialect) -> tuple:
    """What makes two dialects compile a statement alike: their class and every setting
    of a plain value (server version, parameter style, identifier lengths...). Objects
    each dialect makes for itself (its DBAPI module, identifier preparer) are not settings."""
    plain = (str, int, float, bool, type(None), tuple)
    return (type(dialect),
            tuple(sorted((k, v) for k, v in vars(dialect).items() if isinstance(v, plain))))


def _reuse_compiled_statements() -> None:
    """Every test's app makes its own engine, and with it its own dialect object, which is
    part of SQLAlchemy's compiled-statement cache key (the engine's cache and each
    mapper's, for the flush's INSERTs and UPDATEs): each test compiled again every
    statement it ran, about a tenth of the suite's time. Here the statement is compiled
    for the first dialect of its signature and kept in one cache for the run; each
    engine still executes it with its own dialect and connections, as a served process
    runs the statements it compiled for its first request. A test that turns caching
    off (compiled_cache=None) still gets a fresh compile."""
    from sqlalchemy.sql.elements import ClauseElement
    from sqlalchemy.util import LRUCache

    original = ClauseElement._compile_w_cache
    if getattr(original, "reused", False):  # conftest imported twice
        return
    firsts: dict = {}
    # a dialect's settings are read once (it compiles after its first connection, which
    # sets the server's version and the rest)
    first_of = weakref.WeakKeyDictionary()
    shared = LRUCache(20_000)

    def compile_w_cache(self, dialect, *, compiled_cache, **kw):
        if compiled_cache is not None and dialect._supports_statement_cache:
            first = first_of.get(dialect)
            if first is None:
                first = first_of[dialect] = firsts.setdefault(_dialect_signature(dialect),
                                                              dialect)
            dialect, compiled_cache = first, shared
        return original(self, dialect, compiled_cache=compiled_cache, **kw)

    compile_w_cache.reused = True
    ClauseElement._compile_w_cache = compile_w_cache


_reuse_compiled_statements()


def _rule_signature(rule: Rule) -> tuple:
    """Everything a rule is matched and built by (Flask adds provide_automatic_options)."""
    methods = frozenset(rule.methods) if rule.methods is not None else None
    defaults = repr(sorted(rule.defaults.items())) if rule.defaults else None
    redirect = rule.redirect_to if isinstance(rule.redirect_to, (str, type(None))) else id(rule)
    return (type(rule), rule.rule, rule.endpoint, methods, defaults, rule.subdomain, rule.host,
            rule.strict_slashes, rule.merge_slashes, redirect, rule.alias, rule.build_only,
            rule.websocket, getattr(rule, "provide_automatic_options", None))


class SharedUrlMap(Map):
    """The URL map of the suite's apps (issue 17 point 8). Each test's app adds the same
    ~470 rules; binding each rule to its map and adding it to the matcher was a third of
    create_app, and some 10,000 objects per app for the collector. Here the rules an app
    adds wait until its map is first used; if an earlier map of the run had the same
    settings and the same rules in the same order, this map matches and builds with that
    map's (read-only) rules and matcher; otherwise it binds its own and offers them to
    later maps. A map that gets a rule after that (a test's own route) first takes a
    private copy of what it shared, so no app ever sees another's later rules.
    tests/test_suite_reuse.py compares the result with Werkzeug's own map."""

    _states: dict = {}  # (settings, signatures) -> (matcher, rules by endpoint, rules in order)
    # a live server's threads and the test's may use a new map at once
    _settling = threading.RLock()

    def __init__(self, *args, **kwargs):
        self._pending: list[Rule] | None = []
        self._shared = False
        self._in_order: list[Rule] = []
        super().__init__(*args, **kwargs)

    # Map keeps its state in these two attributes; reading either settles the map first
    @property
    def _matcher(self):
        self._settle()
        return self.__dict__["_matcher_state"]

    @_matcher.setter
    def _matcher(self, value):
        self.__dict__["_matcher_state"] = value

    @property
    def _rules_by_endpoint(self):
        self._settle()
        return self.__dict__["_rules_by_endpoint_state"]

    @_rules_by_endpoint.setter
    def _rules_by_endpoint(self, value):
        self.__dict__["_rules_by_endpoint_state"] = value

    @property
    def merge_slashes(self) -> bool:  # a setting, read without settling
        return self.__dict__["_matcher_state"].merge_slashes

    @merge_slashes.setter
    def merge_slashes(self, value: bool) -> None:
        self.__dict__["_matcher_state"].merge_slashes = value

    def _settings(self) -> tuple:
        return (self.default_subdomain, self.strict_slashes, self.merge_slashes,
                self.redirect_defaults, self.host_matching, self.sort_parameters,
                self.sort_key, tuple(sorted(self.converters.items())))

    def _settle(self) -> None:
        if not self.__dict__.get("_pending"):
            return
        with self._settling:
            pending = self.__dict__.get("_pending")
            # settled by another thread meanwhile, or this thread is settling it (Map.add
            # below reads the matcher)
            if not pending or self.__dict__.get("_settling_now"):
                return
            self._settling_now = True
            try:
                self._settle_now(pending)
            finally:
                self._settling_now = False
                self._pending = None  # last: until here, other threads wait for the lock

    def _settle_now(self, pending: list[Rule]) -> None:
        key = (self._settings(), tuple(_rule_signature(rule) for rule in pending))
        found = self._states.get(key)
        if found is None:
            for rule in pending:
                Map.add(self, rule)
            Map.update(self)
            found = self._states[key] = (self.__dict__["_matcher_state"],
                                         self.__dict__["_rules_by_endpoint_state"], pending)
        self._matcher, self._rules_by_endpoint, self._in_order = found
        self._shared, self._remap = True, False

    def _own(self) -> None:
        """A private copy of the shared rules, in their order, to change."""
        shared, self._shared = self._in_order, False
        self._matcher = StateMachineMatcher(self.merge_slashes)
        self._rules_by_endpoint = {}
        self._in_order = []
        for rule in shared:
            copy = rule.empty()
            copy.provide_automatic_options = getattr(rule, "provide_automatic_options", False)
            self.add(copy)

    def add(self, rulefactory) -> None:
        if self._pending is not None:
            self._pending.extend(rulefactory.get_rules(self))
            self._remap = True
            return
        if self._shared:
            self._own()
        rules = list(rulefactory.get_rules(self))
        for rule in rules:
            Map.add(self, rule)
        self._in_order.extend(rules)

    def update(self) -> None:
        self._settle()
        super().update()


def _share_url_maps() -> None:
    from flask import Flask

    if Flask.url_map_class is not SharedUrlMap:
        Flask.url_map_class = SharedUrlMap


_share_url_maps()

BACKEND = os.environ.get("ATENDE_TEST_BACKEND", "embedded")
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI") == "true"
RUN_LOCK_KEY = 7_263_101  # pg_advisory_lock key of a services test run
# services: a connection to the run's database goes from one test's engine to the next,
# cleaned, instead of a new server process per test (tests/pg_connections.py)
PG_STASH = (pg_connections.install(make_url(PG_URL).database, _dialect_signature)
            if BACKEND == "services" else None)


@pytest.hookimpl(trylast=True)  # after the session's fixtures have returned theirs
def pytest_sessionfinish(session):
    if PG_STASH is not None:
        PG_STASH.close_all()


PLAYWRIGHT_FIXTURES = {"page", "context", "browser", "browser_name", "playwright"}


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgresql` assert what only the PostgreSQL path does (COPY, plan
    modes, ANALYZE): they belong to the services pass and are deselected from the embedded
    one, never skipped.

    Only browser tests (tests/e2e, tests/*/test_*_browser.py) may reach pytest-playwright's
    fixtures: a test with a parameter named like one of them (`page`) had pytest-playwright
    set up its fixtures (the Playwright driver, 9.5 s) in the pass without browsers."""
    strays = [item.nodeid for item in items
              if PLAYWRIGHT_FIXTURES & set(getattr(item, "fixturenames", ()))
              and "e2e" not in Path(str(item.path)).parts
              and not Path(str(item.path)).stem.endswith("_browser")]
    if strays:
        raise pytest.UsageError("tests outside the browser tests use pytest-playwright's "
                                f"fixtures (rename the parameter): {strays}")
    if BACKEND == "services":
        return
    deselected = [item for item in items if item.get_closest_marker("postgresql")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]


def missing_service(message: str):
    """Fail under CI, skip on a developer machine without the service."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)  # reached only outside CI: under CI=true the line above fails


def cut_pg_connection(pid: int) -> None:
    """End one PostgreSQL server connection, as a database restart would (ours only:
    other test runs share this server)."""
    import time

    from sqlalchemy.pool import NullPool

    killer = create_engine(PG_URL, poolclass=NullPool)
    with killer.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()
    time.sleep(0.2)  # the backend exits asynchronously


def lose_the_pools_connections(engine) -> int:
    """What a database restart does to the connections a web process keeps: on
    PostgreSQL their server processes are ended; SQLite has none, so its handles are
    closed under the pool. The next statement on each fails as after a real restart.
    Returns how many were lost."""
    held = [engine.connect() for _ in range(max(engine.pool.checkedin(), 2))]
    handles = [conn.connection.dbapi_connection for conn in held]
    for conn in held:
        conn.close()  # back in the pool, which will hand them out again
    if engine.dialect.name == "postgresql":
        for handle in handles:
            cut_pg_connection(handle.info.backend_pid)
    else:
        for handle in handles:
            handle.close()
    return len(handles)


def _check_postgres() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver error means "not usable here"
        return f"PostgreSQL not reachable at {PG_URL}: {exc}"


def _check_redis(url: str = REDIS_URL) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        return f"Redis not reachable at {url}: {exc}"


@pytest.fixture(scope="session")
def pg_schema():
    """Build the schema once per session on PostgreSQL; tests truncate between them."""
    problem = _check_postgres()
    if problem:
        missing_service(problem)
    # Two test runs on one database would drop and truncate each other's tables: a run
    # holds this advisory lock from the schema build to its end, so a second run waits.
    lock_engine = create_engine(PG_URL, poolclass=NullPool)
    lock = lock_engine.connect()
    lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": RUN_LOCK_KEY})
    lock.commit()
    engine = create_engine(PG_URL)
    from backoffice import models  # noqa: F401

    db.metadata.drop_all(engine)
    db.metadata.create_all(engine)
    engine.dispose()
    yield PG_URL
    lock.close()
    lock_engine.dispose()


@pytest.fixture
def real_redis():
    problem = _check_redis()
    if problem:
        missing_service(problem)
    conn = redis.Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def app_config(tmp_path, request):
    if BACKEND == "services":
        problem = _check_redis()
        if problem:
            missing_service(problem)
    return _default_config(request, tmp_path / "test.db")


def _default_config(request, sqlite_file: Path) -> dict:
    """The tests' settings (the services backend's Redis is checked by `app_config`)."""
    cfg = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "TASK_MODE": "eager",
        "REDIS_URL": None,
        "SERVER_NAME": None,
        # Hashing cost is not what these tests are about; test_auth checks the real default.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # Provider tests talk to local servers; test_sec_ssrf.py switches this off (SEC-2).
        "ALLOW_PRIVATE_URLS": True,
        # Rate-limit and login-throttle counters of one test never meet another's in the
        # shared Redis of the services backend (SEC-5).
        "RATE_LIMIT_PREFIX": f"test:{os.urandom(8).hex()}:",
    }
    if BACKEND == "services":
        cfg["SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("pg_schema")
        cfg["REDIS_URL"] = REDIS_URL
    else:
        cfg["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{sqlite_file}"
    return cfg


def _empty_postgres(snapshot: Snapshot | None = None) -> None:
    """Leave the PostgreSQL tables empty and every id sequence at 1, as the previous test
    may not, then write `snapshot`'s rows if one is given. TRUNCATE of every table took
    0.3-0.5 s per test (it swaps each table's files); a test writes to a few tables, so
    find those with one query and DELETE their rows, with the foreign-key triggers off
    for the moment (rows point at each other both ways, and everything goes anyway)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    probe = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in tables)
    written = {row[0] for row in db.session.execute(text(probe))}
    try:
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:  # not a superuser: the slow way
        db.session.rollback()
        listed = ", ".join(f'"{name}"' for name in tables)
        db.session.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
        if snapshot is not None:  # captured parents first; checked row by row
            restore_postgres(db.session, snapshot)
        db.session.commit()
        return
    for name in tables:
        if name in written:
            db.session.execute(text(f'DELETE FROM "{name}"'))
    # a rolled-back insert moves a sequence too: every table's ids start at 1 again
    db.session.execute(text("SELECT setval(seqrelid, 1, false) FROM pg_sequence"))
    if snapshot is not None:
        restore_postgres(db.session, snapshot)
    db.session.commit()


class _SharedBytecode(BytecodeCache):
    """Jinja's compiled templates, kept for the whole run. Each test's app has its own
    Jinja environment, which would parse and compile every template it renders again
    (the largest cost of a test that opens a few pages); the key includes a checksum of
    the template's source, so an edited template is compiled anew."""

    def __init__(self):
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self._store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_BYTECODE = _SharedBytecode()


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory):
    """An empty SQLite database with the schema, built once: each embedded test starts
    from a copy of the file instead of running CREATE TABLE for every table."""
    from backoffice import models  # noqa: F401

    path = tmp_path_factory.mktemp("schema") / "schema.db"
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    db.metadata.create_all(engine)
    engine.dispose()
    return path


def _restores_tenants(app_config: dict, request) -> bool:
    """Whether the test's `tenants` can come from the run's snapshot: it asks for them,
    on the default settings (an overridden app_config may change what the build writes),
    and the app's clock is not frozen (the rows' times would not be the frozen ones)."""
    if "tenants" not in request.fixturenames or "timeline" in request.fixturenames:
        return False
    volatile = {"RATE_LIMIT_PREFIX"}
    default = _default_config(request, request.getfixturevalue("tmp_path") / "test.db")
    return ({k: v for k, v in app_config.items() if k not in volatile}
            == {k: v for k, v in default.items() if k not in volatile})


@pytest.fixture(scope="session")
def tenants_snapshot(tmp_path_factory, request):
    """The two companies of `tenants`, built once per run (tests/world_snapshot.py)."""
    from tests.factories import populate_company

    where = tmp_path_factory.mktemp("tenants-world")
    config = {**_default_config(request, where / "world.db"),
              "RATE_LIMIT_PREFIX": "test:snapshot:"}
    snapshot = Snapshot(instance=where / "instance", value=None)
    if BACKEND != "services":
        snapshot.sqlite_file = where / "world.db"
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), snapshot.sqlite_file)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATENDE_INSTANCE", str(snapshot.instance))
        builder = create_app(config)
    try:
        with builder.app_context():
            if BACKEND == "services":
                _empty_postgres()
            snapshot.value = {"a": populate_company("Alfa Comércio", "a"),
                              "b": populate_company("Beta Serviços", "b")}
            db.session.commit()
            if BACKEND == "services":
                tables = [t.name for t in db.metadata.sorted_tables]
                snapshot.tables, snapshot.sequences = capture_postgres(db.session, tables)
                db.session.rollback()
    finally:
        tasks.stop()
        with builder.app_context():
            db.session.remove()
            db.engine.dispose()
    return snapshot


@pytest.fixture
def app(app_config, tmp_path, monkeypatch, request):
    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    snapshot = (request.getfixturevalue("tenants_snapshot")
                if _restores_tenants(app_config, request) else None)
    uri = app_config["SQLALCHEMY_DATABASE_URI"]
    fresh_sqlite = None
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        fresh_sqlite = Path(uri.removeprefix("sqlite:///"))
        if snapshot is None:
            shutil.copyfile(request.getfixturevalue("sqlite_schema"), fresh_sqlite)
    restored = None
    if snapshot is not None:
        restored = snapshot.restore_files(tmp_path / "instance", fresh_sqlite)
    app = create_app(app_config)
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    app.test_client_class = CsrfClient
    with app.app_context():
        if BACKEND == "services":
            _empty_postgres(snapshot)
        elif fresh_sqlite is None:
            db.create_all()
            assert snapshot is None, "a snapshot is restored only into a fresh SQLite file"
    if restored is not None:
        app.extensions["test_tenants"] = restored
    yield app
    tasks.stop()
    # Flask-SocketIO's test clients register in a class-level dict they never leave:
    # each would keep its app, and everything the app built, alive for the rest of the
    # run, and every full garbage collection would walk it all again.
    SocketIOTestClient.clients.clear()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class CsrfClient(FlaskClient):
    """A test client that fills in a valid CSRF token, as a browser form would.

    CSRF stays switched on in every test; test_auth.py proves a missing or tampered
    token is refused.
    """

    def csrf_token(self) -> str:
        with self.session_transaction() as sess:
            raw = sess.setdefault("csrf_token", os.urandom(20).hex())
        secret = self.application.config["SECRET_KEY"]
        return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)

    def submit(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.post(url, data=data, **kwargs)


@pytest.fixture
def client(app) -> CsrfClient:
    return app.test_client()


def login(client, email: str, password: str = "senha-segura-1"):
    return client.submit("/login", {"email": email, "password": password})


def client_as(app, email: str | None):
    """A test client logged in as `email` (anonymous without one)."""
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302, f"login of {email} failed"
    return client


def post(client, url: str, json=None, data=None, csrf: bool = True, **kwargs):
    """POST as the app's JavaScript does: the JSON body `json` (or the form `data`), the
    CSRF token in the X-CSRFToken header (left out with csrf=False) and JSON asked back."""
    headers = {"Accept": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = client.csrf_token()
    if json is not None:
        return client.post(url, json=json, headers=headers, **kwargs)
    return client.post(url, data=data or {}, headers=headers, **kwargs)


@pytest.fixture
def tenants(app):
    """Two companies, A and B, each with an admin and rows in every admin screen: restored
    from the run's snapshot by the `app` fixture when it can, else built here."""
    from tests.factories import populate_company

    if "test_tenants" in app.extensions:
        return app.extensions["test_tenants"]
    with app.app_context():
        a = populate_company("Alfa Comércio", "a")
        b = populate_company("Beta Serviços", "b")
        db.session.commit()
        return {"a": a, "b": b}


def flashes(html: str) -> list[str]:
    return [m.strip() for m in re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)]


@pytest.fixture
def socket_for(app):
    """Socket.IO test clients of logged-in users (anonymous without an e-mail); each keeps
    its HTTP client as `.http`. All are disconnected after the test."""
    from backoffice.extensions import socketio

    clients = []

    def connect(email: str | None = None, drain: bool = False, **kwargs):
        http = app.test_client()
        if email:
            assert login(http, email).status_code == 302, f"login of {email} failed"
        sc = socketio.test_client(app, flask_test_client=http, **kwargs)
        sc.http = http
        if drain:
            assert sc.is_connected()
            sc.get_received()
        clients.append(sc)
        return sc

    yield connect
    for sc in clients:
        for namespace in list(getattr(sc, "connected", {}) or {}):
            if sc.is_connected(namespace):
                sc.disconnect(namespace)


@pytest.fixture
def webchat_world(app):
    """tests.factories.gen_webchat_world, with the rate limiter's state reset."""
    from backoffice.services import ratelimit
    from tests.factories import gen_webchat_world

    ratelimit.reset_redis_state()
    with app.app_context():
        built = gen_webchat_world()
        db.session.remove()
    yield built
    ratelimit.reset_redis_state()


@pytest.fixture
def timeline():
    """The app's clock (backoffice.lib.clock) frozen at a known instant and moved by the
    test instead of sleeping: `timeline.set(datetime(...))`, `timeline.advance(minutes=5)`.
    Naive datetimes are UTC. Frozen at 2026-12-01 12:00 UTC (09:00 in São Paulo, a
    Tuesday) until moved."""
    from datetime import datetime

    from backoffice.lib import clock as app_clock

    frozen = app_clock.Frozen(datetime(2026, 12, 1, 12, 0))
    app_clock.set_now(frozen)
    yield frozen
    app_clock.set_now(None)


@pytest.fixture
def clock(monkeypatch):
    """The login throttle's clock (services.ratelimit.clock), moved by hand instead of
    sleeping: `clock[0] += 60`. Throttle counters start and end empty."""
    from backoffice.services import ratelimit

    now = [1_800_000_000.0]
    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    ratelimit.reset_redis_state()
    yield now
    ratelimit.reset_redis_state()


@pytest.fixture
def import_lookups(monkeypatch):
    """Whether each batch resolution of the contact import in its own turn (retries
    included; not the ones made ahead, during another batch's COPY) looked up the saved
    contacts, in order (services.importer._flush skips a lookup after a batch that matched
    nothing)."""
    from backoffice.services import importer

    made: list[bool] = []
    resolve = importer.resolve_batch

    def spy(ctx, parsed, lookup=True, ahead=False):
        if not ahead:
            made.append(lookup)
        return resolve(ctx, parsed, lookup, ahead)

    monkeypatch.setattr(importer, "resolve_batch", spy)
    return made


@contextmanager
def sql_statements(app):
    """The SQL statements sent on `app`'s engine while the block runs (N+1 and
    statements-per-request checks)."""
    from sqlalchemy import event

    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
