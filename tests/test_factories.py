"""The test helpers live in one place: every gen_* in the tests/factories package (each
defined once, all re-exported by it), client_as and the JSON post in conftest.py."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import tests.factories as factories

TESTS = Path(__file__).resolve().parent
SHARED = {"client_as", "post"}


def _top_level_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]


def test_PLT_arch_each_factory_is_defined_once_in_the_factories_package():
    defined = Counter()
    strays = []
    for path in sorted(TESTS.rglob("*.py")):
        for name in _top_level_functions(path):
            if not name.startswith("gen_"):
                continue
            defined[name] += 1
            if path.parent.name != "factories":
                strays.append(f"{path.relative_to(TESTS)}: {name}")
    assert strays == []
    assert [name for name, n in defined.items() if n > 1] == []
    assert sorted(n for n in defined) == sorted(n for n in factories.__all__ if n.startswith("gen_"))


def test_PLT_arch_client_as_and_post_are_not_copied_into_test_modules():
    copies = [f"{path.relative_to(TESTS)}: {name}"
              for path in sorted(TESTS.rglob("test_*.py"))
              for name in _top_level_functions(path) if name in SHARED]
    assert copies == []
    assert SHARED <= set(_top_level_functions(TESTS / "conftest.py"))
