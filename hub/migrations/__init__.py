"""The hub's schema migrations (Alembic), shipped inside the package and run by
`sewnet hub db upgrade` (hub.core.db.upgrade); there is no alembic.ini.

A capability that adds or changes tables adds a revision under `versions/` whose `down_revision`
is the current head, and lists its models module in `target_metadata()`. To draft one from the
models (then read and tidy it: it must produce exactly the models' schema, which
tests/integration/test_hub_db.py checks on PostgreSQL and SQLite):

    python -m hub.migrations draft "what changes"
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

#: Every capability module that declares tables on hub.core.db.Base.
MODEL_MODULES = ("hub.registry.models", "hub.planning.tables", "hub.planning.offer_tables", "hub.kiosk.tables",
                 "hub.styles.tables", "hub.release.tables")


def target_metadata() -> MetaData:
    """The metadata of every capability's tables: what `upgrade head` must produce."""
    from hub.core.db import Base

    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
