"""The shape of the code (issue 11): rules that keep the layers apart, checked on the source.

- Services announce what happened through backoffice.events and never reach the socket
  layer: the socket listener (backoffice.realtime.listeners) does the pushing.
- backoffice.events: listeners get the data inside the transaction; what they queue is
  delivered after the commit only; an unknown event name fails loudly.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from backoffice import events
from backoffice.extensions import db
from backoffice.lib import after_commit

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "backoffice" / "services"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, module: str | None = None) -> set[str]:
    """Every module (and `module.name`) a file imports, anywhere in it, relative imports
    resolved: `from .. import realtime` in backoffice/services/x.py is backoffice.realtime."""
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)
    return found


def _socket_layer(name: str) -> bool:
    return (name.split(".")[0] in ("flask_socketio", "socketio")
            or name == "backoffice.extensions.socketio"
            or name == "backoffice.realtime" or name.startswith("backoffice.realtime."))


# --- layers ----------------------------------------------------------------------------------


def test_PLT_arch_services_never_import_the_socket_layer():
    """Services emit events; only backoffice.realtime talks to sockets."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in imported_names(path) if _socket_layer(n))
        for path in sorted(SERVICES.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_PLT_arch_the_import_check_sees_relative_and_nested_imports(tmp_path):
    """The check above would pass on anything if it missed these spellings."""
    sample = tmp_path / "sample.py"
    sample.write_text("from ..extensions import db\n"
                      "def announce():\n"
                      "    from .. import realtime\n"
                      "    from ..extensions import socketio\n"
                      "    import flask_socketio\n")
    names = imported_names(sample, "backoffice.services.sample")
    assert sorted(n for n in names if _socket_layer(n)) == [
        "backoffice.extensions.socketio", "backoffice.realtime", "flask_socketio"]


# --- events ----------------------------------------------------------------------------------


@pytest.fixture
def listeners(monkeypatch):
    """The registry as it is, restored after the test (the socket listener stays)."""
    monkeypatch.setattr(events, "_LISTENERS", {k: list(v) for k, v in events._LISTENERS.items()})
    return events._LISTENERS


def test_PLT_arch_an_event_reaches_its_listener_with_its_data(listeners):
    got = []

    @events.listen("contact.created", "contact.updated")
    def record(name, **data):
        got.append((name, data))

    events.emit("contact.updated", contact_id=7, fields=["name"])
    assert got == [("contact.updated", {"contact_id": 7, "fields": ["name"]})]


def test_PLT_arch_an_unknown_event_name_is_refused(listeners):
    with pytest.raises(ValueError):
        events.emit("ticket.craeted", ticket=None)
    with pytest.raises(ValueError):
        events.listen("message.status")  # the old socket name: one name now, status_changed


def test_PLT_arch_every_event_name_is_one_of_the_catalogue():
    """Sockets and webhooks share the names: the webhook ones are a part of the list."""
    assert set(events.EVENTS) <= events.NAMES
    assert not set(events.EVENTS) & events.INTERNAL
    assert set(events._LISTENERS) <= events.NAMES


def test_PLT_arch_events_are_delivered_after_the_commit_only(app, listeners):
    delivered = []

    @events.listen("contact.created")
    def queue(_name, contact_id):
        row = db.session.scalar(text("SELECT :id"), {"id": contact_id})  # rows readable here
        after_commit.later(lambda: delivered.append(row))

    with app.app_context():
        events.emit("contact.created", contact_id=1)
        assert delivered == []  # inside the transaction: nothing out yet
        after_commit.commit()
        assert delivered == [1]

        events.emit("contact.created", contact_id=2)
        db.session.rollback()
        after_commit.commit()
        assert delivered == [1]  # the rolled-back one is never delivered


# --- import cycles ---------------------------------------------------------------------------

PACKAGE = ROOT / "backoffice"


def import_graph() -> dict[str, set[str]]:
    """backoffice module -> the backoffice modules it imports, anywhere in the file
    (imports inside functions count: they are how cycles used to be dodged).

    `from pkg import name` points at pkg.name when that is a module, else at pkg. The
    app factory (`backoffice/__init__.py`, whose create_app imports every area) and
    imports of the root package itself are left out: every module "imports" the root by
    being inside it, which is Python's package rule, not a dependency."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        if module == "backoffice":
            continue
        targets = set()
        for name in imported_names(path, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name not in ("backoffice", module):
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_PLT_arch_no_import_cycle_inside_backoffice():
    """Imports go one way (lib -> models -> services -> listeners/jobs -> views): no
    module of backoffice reaches itself again through its imports."""
    found = cycles(import_graph())
    assert not found, "import cycles:\n  " + "\n  ".join(" <-> ".join(c) for c in found)


def test_PLT_arch_the_cycle_check_finds_a_cycle():
    """The check itself: a two-module cycle and a three-module one are reported, a chain
    is not."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


# lib holds plumbing (it may use the extensions' db) and models the tables: neither may
# depend on the layers above them.
BELOW = {
    "backoffice.lib": ("backoffice.lib", "backoffice.extensions"),
    "backoffice.models": ("backoffice.models", "backoffice.lib", "backoffice.extensions",
                          "backoffice.permissions"),
}


def test_PLT_arch_lib_and_models_import_nothing_above_them():
    graph = import_graph()
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for layer, allowed in BELOW.items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        if not any(target == a or target.startswith(a + ".") for a in allowed)
    )
    assert not wrong, "upward imports:\n  " + "\n  ".join(wrong)


def test_REP_1_arch_reports_never_read_the_messages_table():
    """REP-1 on a year of data: the reports and the live snapshot read the per-ticket facts
    (and open tickets), never the messages table, whose size grows ten times faster."""
    readers = ["queries.py", "live.py", "exports.py", "filters.py", "agent.py", "panel_views.py"]
    offenders = {
        name: sorted(n for n in imported_names(ROOT / "backoffice" / "reports" / name)
                     if n.endswith(".Message") or n.endswith(".message_tag"))
        for name in readers
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    # the check sees the spelling it looks for
    assert "backoffice.models.Message" in imported_names(
        ROOT / "backoffice" / "reports" / "facts.py")
