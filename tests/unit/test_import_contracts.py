"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and each one can fail.

`make test` runs lint-imports before pytest; running it here too means `pytest tests` alone checks
the layout. A contract that cannot fail protects nothing, so each one is also run on a copy of
the tree with one import added of the kind it is there to stop, and must break on exactly that.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in CONFIG["contracts"]}
# The hub's top-level pieces: its composition root, the core, and its capabilities, present or still
# to come (hub/README.md, "Layout").
HUB_PIECES = {"app", "cli", "__main__", "server", "core", "migrations", "telemetry", "capacity", "registry", "planning",
              "kiosk", "styles"}


def lint(tree: Path, *contract_ids: str) -> subprocess.CompletedProcess:
    args = [str(LINT_IMPORTS), "--no-cache", *(f"--contract={c}" for c in contract_ids)]
    return subprocess.run(args, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True,
                          text=True, timeout=120)


def test_the_tree_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract in the file ran: one dropped by a typo would keep nothing.
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout, result.stdout


def test_the_allowed_imports_name_only_pieces_the_hub_has_or_plans():
    """The allowed imports may name capabilities that do not exist yet, so the contract does not
    complain when one matches nothing; a misspelt name would then allow nothing and hide itself."""
    for line in CONTRACTS["hub-public-faces"]["ignore_imports"]:
        for side in line.split(" -> "):
            parts = side.strip().split(".")
            assert parts[0] == "hub" and parts[1] in HUB_PIECES | {"**"}, line


@pytest.fixture
def tree(tmp_path):
    """A copy of the packages the contracts look at, and the configuration."""
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    """Append `statement` to `module` (made, with its package, if it is not there)."""
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for package in list(path.relative_to(tree).parents)[:-1]:
        (tree / package / "__init__.py").touch()
    with path.open("a", encoding="utf-8") as f:
        f.write(f"\n{statement}\n")


# (contract, module, the import added to it, what the report must name)
BREAKS = [
    ("hub-public-faces", "hub.capacity.service", "from hub.telemetry import storage",
     "hub.capacity.service -> hub.telemetry.storage"),
    ("hub-public-faces", "hub.capacity.pages", "from hub.telemetry.routes import router",
     "hub.capacity.pages -> hub.telemetry.routes"),
    # A capability still to come is covered by name: kiosk may use planning, not capacity.
    ("hub-public-faces", "hub.kiosk.probe", "import hub.capacity", "hub.kiosk.probe -> hub.capacity"),
    ("hub-one-way", "hub.core.settings", "import hub.capacity", "hub.core.settings -> hub.capacity"),
    ("hub-one-way", "hub.telemetry.port", "from hub.capacity import service", "hub.telemetry.port -> hub.capacity"),
    ("hub-gateway-apart", "edge_gateway.alerts", "from hub.core import settings",
     "edge_gateway.alerts -> hub.core.settings"),
    ("hub-gateway-apart", "hub.telemetry.schema", "from edge_gateway import contract",
     "hub.telemetry.schema -> edge_gateway.contract"),
    ("hub-no-cycles", "hub.telemetry.schema", "from hub.telemetry import storage", "storage -> .schema"),
    # Not even indirectly: capacity's service reaches fastapi through the telemetry port.
    ("hub-plain-services", "hub.telemetry.line_protocol", "import fastapi", "hub.capacity.service -> hub.telemetry"),
    ("hub-pure-logic", "hub.core.auth", "import sqlite3", "hub.core.auth -> sqlite3"),
    ("capacity-service-through-ports", "hub.capacity.service", "import httpx", "hub.capacity.service -> httpx"),
    # The registry: others reach it only through its face; it is a leaf; its service and CSV rules stay plain.
    ("hub-public-faces", "hub.capacity.service", "from hub.registry import models",
     "hub.capacity.service -> hub.registry.models"),
    ("hub-public-faces", "hub.planning.probe", "from hub.registry.csvio import read_csv",
     "hub.planning.probe -> hub.registry.csvio"),
    ("hub-one-way", "hub.registry.service", "import hub.capacity", "hub.registry.service -> hub.capacity"),
    ("hub-one-way", "hub.registry.models", "from hub.telemetry import port", "hub.registry.models -> hub.telemetry"),
    ("hub-plain-services", "hub.registry.service", "import fastapi", "hub.registry.service -> fastapi"),
    ("hub-plain-services", "hub.core.db", "import starlette", "hub.core.db -> starlette"),
    ("hub-pure-logic", "hub.registry.csvio", "import sqlalchemy", "hub.registry.csvio -> sqlalchemy"),
]


@pytest.mark.parametrize("contract,module,statement,named", BREAKS,
                         ids=[f"{c}:{m}" for c, m, _, _ in BREAKS])
def test_a_forbidden_import_breaks_its_contract(tree, contract, module, statement, named):
    assert lint(tree, contract).returncode == 0
    add_import(tree, module, statement)
    result = lint(tree, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"Contracts: 0 kept, 1 broken\.", result.stdout), result.stdout
    assert named in result.stdout, result.stdout


@pytest.mark.parametrize("module,statement", [
    ("hub.kiosk.probe", "import hub.planning"),  # kiosk uses planning's public face
    ("hub.kiosk.probe", "from hub.planning import service"),
    ("hub.styles.probe", "import hub.registry"),  # styles stands on registry
    ("hub.planning.probe", "from hub import capacity"),
    ("hub.planning.probe", "from hub.capacity import service"),
    ("hub.capacity.probe", "import hub.registry"),  # capacity reads the registry's public face
    ("hub.capacity.probe", "from hub.registry.service import workshops"),
    # ... from its service too: the registry stands on SQLAlchemy, capacity's service does not import it.
    ("hub.capacity.service", "from hub.registry import WorkshopInfo, workshops"),
    ("hub.capacity.service", "from hub.core.db import Session"),
    ("hub.planning.probe", "from hub.registry import service"),
])
def test_a_public_face_of_an_allowed_capability_keeps_every_contract(tree, module, statement):
    for capability in ("planning", "registry"):  # made if they are not in the tree yet
        add_import(tree, f"hub.{capability}.service", "")
    add_import(tree, module, statement)
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
