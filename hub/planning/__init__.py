"""Planning: split work across workshops with OR-Tools CP-SAT.

The solver core (pure logic, no web, no storage) that the GAP benchmark and the order
allocation engine share:

- :mod:`hub.planning.cpsat`: ``Limits``, ``Built``, ``solve_built`` (one CP-SAT solve with hint
  and limits), ``LnsProblem`` (what a problem brings: build, neighbourhoods, merge, value),
  ``optimise`` (whole-problem CP-SAT, then or beside it a large-neighbourhood search),
  ``Outcome``;
- :mod:`hub.planning.gap`: the generalized assignment problem on that core (``solve_gap``);
- :mod:`hub.planning.gap_files`: OR-Library and Yagiura GAP files (``read_gap_file``);
- :mod:`hub.planning.cli`: ``sewnet plan ...``.

The names below load on first use, so ``sewnet`` starts without loading OR-Tools.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Limits": "hub.planning.cpsat", "Built": "hub.planning.cpsat", "Solved": "hub.planning.cpsat",
    "solve_built": "hub.planning.cpsat", "LnsProblem": "hub.planning.cpsat", "optimise": "hub.planning.cpsat",
    "Outcome": "hub.planning.cpsat",
    "solve_gap": "hub.planning.gap", "GapResult": "hub.planning.gap", "GapInstance": "hub.planning.gap",
    "read_gap_file": "hub.planning.gap_files", "parse_gap": "hub.planning.gap_files",
    "GapProblem": "hub.planning.gap_files", "GapFileError": "hub.planning.gap_files",
    # What the kiosk uses of the offers loop (its public face: the kiosk never reaches inside).
    "offers_for_order": "hub.planning.offers", "offer_link": "hub.planning.offers",
    "order_progress": "hub.planning.progress", "Order": "hub.planning.model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hub.planning' has no attribute {name!r}")
