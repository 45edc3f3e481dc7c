"""`python -m hub.migrations draft "what changes"`: a new revision under versions/, drafted by
Alembic from the difference between the current head and the models. A draft: read it, tidy it,
and let tests/integration/test_hub_db.py confirm it yields exactly the models' schema."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from hub.core import db


def draft(message: str) -> None:
    versions = Path(__file__).with_name("versions")
    existing = sorted(p.name.split("_", 1)[0] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
    rev_id = f"{int(existing[-1]) + 1 if existing else 1:04d}"
    with tempfile.TemporaryDirectory() as folder:
        database = db.Database(f"sqlite:///{folder}/draft.sqlite")
        try:
            db.upgrade(database.engine)
            cfg = db._alembic_config(database.engine)
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        finally:
            database.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "draft":
        raise SystemExit('usage: python -m hub.migrations draft "what changes"')
    draft(sys.argv[2])
