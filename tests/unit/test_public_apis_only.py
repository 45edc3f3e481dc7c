"""Our code uses libraries through their public APIs only (the team's standard; issue 5 item 10).

A private attribute (`client._client`, `client._queue`) is not part of a library's contract: an
upgrade can rename it or change what it means without a word, e.g. switch the gateway back to
automatic acknowledgements and lose data. This check reads the source: an attribute whose name
starts with one underscore may only be read from `self`/`cls` or from a module of our own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("edge_gateway", "hub", "sewnet")
CHECKED = [p for pkg in OUR_PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _our_modules(tree: ast.Module) -> set[str]:
    """Names this file binds to modules of our own packages (relative or absolute imports)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in OUR_PACKAGES):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in OUR_PACKAGES}
    return names


def private_reads(source: str) -> list[str]:
    tree = ast.parse(source)
    allowed = {"self", "cls"} | _our_modules(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)):
            owner = node.args[0]
        else:
            continue
        if not (isinstance(owner, ast.Name) and owner.id in allowed):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", CHECKED, ids=[str(p.relative_to(ROOT)) for p in CHECKED])
def test_no_private_attributes_of_other_objects(path):
    assert private_reads(path.read_text(encoding="utf-8")) == [], (
        f"{path.relative_to(ROOT)} reaches into private attributes; use the library's public API")


def test_the_check_finds_what_it_should():
    # What the gateway did before issue 5, and the ways around a plain attribute read.
    assert len(private_reads("import aiomqtt\nc = aiomqtt.Client('h')\nc._client.manual_ack_set(True)\n")) == 1
    assert len(private_reads("def f(client):\n    return client._queue\n")) == 1
    assert len(private_reads("def f(self):\n    return self._link._board\n")) == 1
    assert len(private_reads("def f(c):\n    return getattr(c, '_client')\n")) == 1
    assert private_reads(
        "from . import outbox\nimport edge_gateway.contract\nclass A:\n"
        "    def f(self):\n        return self._x, type(self).__name__, outbox._helper\n"
        "    @classmethod\n    def g(cls):\n        return cls._y\n") == []
