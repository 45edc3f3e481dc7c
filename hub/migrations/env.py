"""Alembic's environment for the hub: run by hub.core.db (upgrade, status), never by a config file.

The caller hands over its engine (`config.attributes["engine"]`), so a migration runs on the
same connection settings as the hub (SQLite's foreign keys included). Online mode only: the
hub applies its own migrations; nobody needs them as SQL scripts.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.migrations import target_metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    owned = engine is None
    if owned:
        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata(),
                # SQLite changes a table by copying it; batch mode does that where a migration
                # alters one, and is a plain ALTER on PostgreSQL.
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the hub's migrations run online only: sewnet hub db upgrade")
run_migrations_online()
