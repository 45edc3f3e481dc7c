"""The hub's relational store: SQLAlchemy 2 over PostgreSQL (production, tests) or a SQLite file
(the demo, a developer's machine), through the same code; its schema comes from the Alembic
migrations in `hub/migrations/`, and the hub refuses to run on a schema it does not know.

    db = Database("postgresql+psycopg://sewnet:...@db/sewnet")   # or "sqlite:///var/hub/hub.sqlite"
    db.require_current_schema()          # SchemaMismatch says what to run when it is not current
    with db.session() as session:        # commits on success, rolls back on an exception
        ...
    upgrade(url)                         # what `sewnet hub db upgrade` runs

Capabilities declare their tables on `Base`; `hub/migrations/` creates them. Nothing here knows a
capability: the migrations are found by name ("hub:migrations"), not imported.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import URL, Engine, MetaData, create_engine, event, inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

__all__ = ["Base", "Database", "DatabaseUnavailable", "SchemaMismatch", "SchemaState", "SchemaStatus", "Session",
           "current_revision", "database_url", "head_revision", "schema_status", "show_url", "upgrade",
           "utc"]

#: Where the migrations live, as Alembic's package-resource name: found without importing them.
MIGRATIONS = "hub:migrations"
UPGRADE_COMMAND = "sewnet hub db upgrade"

# Named constraints, so a migration can name what it alters on PostgreSQL and SQLite alike (SQLite
# can only change a table by copying it, and the copy needs the names).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every capability's tables. Portable types only (String, Integer, Float, Boolean, JSON,
    DateTime(timezone=True)): the same models run on PostgreSQL and SQLite."""

    metadata = MetaData(naming_convention=NAMING)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or opened; `message` says which one and why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SchemaState(str, enum.Enum):
    CURRENT = "current"
    MISSING = "missing"  # no SewNet schema at all (an empty database, a new SQLite file)
    BEHIND = "behind"  # an older revision of ours: upgrade
    UNKNOWN = "unknown"  # a revision these migrations do not have: a newer hub wrote it


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    database_revision: str | None
    code_revision: str
    url: str  # password hidden

    @property
    def message(self) -> str:
        """One line for a person: what is wrong and what to run."""
        where = f"the hub's database ({self.url})"
        if self.state is SchemaState.CURRENT:
            return f"{where} is at schema revision {self.code_revision}, the one this hub needs"
        if self.state is SchemaState.MISSING:
            return f"{where} has no SewNet schema yet: run `{UPGRADE_COMMAND}` with the same settings"
        if self.state is SchemaState.BEHIND:
            return (f"{where} is at schema revision {self.database_revision}, older than the {self.code_revision} "
                    f"this hub needs: run `{UPGRADE_COMMAND}` with the same settings")
        return (f"{where} is at schema revision {self.database_revision}, which this hub does not know (a newer "
                f"SewNet hub migrated it; this one needs {self.code_revision}): run that newer version of the hub, "
                "or point this one at another database")


class SchemaMismatch(Exception):
    def __init__(self, status: SchemaStatus):
        super().__init__(status.message)
        self.status = status
        self.message = status.message


def utc(moment: datetime) -> datetime:
    """A stored time as aware UTC: SQLite hands DateTime(timezone=True) back without a zone."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def database_url(url: str | URL) -> URL:
    """The URL the hub connects with: PostgreSQL through psycopg 3 (a bare `postgresql://` means
    it too; psycopg2 is not installed), or SQLite. Anything else is refused with a reason."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise ValueError("the database URL is not a URL: use postgresql+psycopg://USER:PASSWORD@HOST/DB "
                         "or sqlite:///PATH") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise ValueError(f"the hub's database must be PostgreSQL (postgresql+psycopg://...) or SQLite "
                         f"(sqlite:///PATH), not {parsed.drivername}")
    return parsed


def show_url(url: str | URL) -> str:
    """The URL for messages and logs: never the password."""
    return database_url(url).render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite leaves foreign keys unchecked unless asked, per connection; PostgreSQL always checks.
    cursor.execute("PRAGMA foreign_keys = ON")
    # Readers (the API) do not wait for a writer (an import) and the other way round.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def make_engine(url: str | URL) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # pre_ping: a pooled connection the server dropped (a restart, an idle timeout) is replaced
    # instead of failing the request that draws it. prepare_threshold None: psycopg would
    # otherwise prepare a statement after its fifth run, and PostgreSQL then plans it once for
    # any values; for a long IN list that generic plan compares every row with every value (a
    # re-import of 45,000 machines took 41 s instead of 3). Unprepared statements also work
    # behind a transaction-pooling PgBouncer.
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"connect_timeout": 10, "prepare_threshold": None})


def _alembic_config(engine: Engine | None = None, url: URL | None = None,
                    script_location: str = MIGRATIONS) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    if url is not None:
        # ConfigParser interpolation: a % in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision(script_location: str = MIGRATIONS) -> str:
    """The schema revision this code needs (the migrations' single head)."""
    return ScriptDirectory.from_config(_alembic_config(script_location=script_location)).get_current_head()


def _unavailable(url: URL, error: Exception) -> DatabaseUnavailable:
    # The driver's own first line ("connection refused", "password authentication failed"):
    # SQLAlchemy's wrapper adds the statement and a link, which help nobody here.
    detail = str(getattr(error, "orig", None) or error).strip()
    reason = detail.splitlines()[0] if detail else type(error).__name__
    return DatabaseUnavailable(f"cannot open the hub's database ({url.render_as_string(hide_password=True)}): {reason}")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it has none (no SewNet schema)."""
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    except (DBAPIError, SQLAlchemyError) as e:
        raise _unavailable(engine.url, e) from e
    return heads[0] if heads else None


def schema_status(engine: Engine, script_location: str = MIGRATIONS) -> SchemaStatus:
    """Whether the database holds the schema this code needs; it changes nothing."""
    head = head_revision(script_location)
    url = engine.url.render_as_string(hide_password=True)
    sqlite_file = _sqlite_file(engine.url)
    if sqlite_file is not None and not sqlite_file.exists():
        # Connecting would make an empty file: say it is missing instead.
        return SchemaStatus(SchemaState.MISSING, None, head, url)
    revision = current_revision(engine)
    if revision is None:
        state = SchemaState.MISSING
    elif revision == head:
        state = SchemaState.CURRENT
    else:
        try:
            known = ScriptDirectory.from_config(_alembic_config(script_location=script_location)).get_revision(revision)
        except CommandError:
            known = None
        state = SchemaState.BEHIND if known is not None else SchemaState.UNKNOWN
    return SchemaStatus(state, revision, head, url)


def upgrade(url: str | URL | Engine, revision: str = "head", script_location: str = MIGRATIONS) -> SchemaStatus:
    """Apply the migrations up to `revision` (a SQLite file's folder is made first). Refuses a
    database at a revision it does not know. Returns the status afterwards."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        sqlite_file = _sqlite_file(engine.url)
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        before = schema_status(engine, script_location)
        if before.state is SchemaState.UNKNOWN:
            raise SchemaMismatch(before)
        try:
            command.upgrade(_alembic_config(engine, script_location=script_location), revision)
        except (DBAPIError, SQLAlchemyError) as e:
            raise _unavailable(engine.url, e) from e
        return schema_status(engine, script_location)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


class Database:
    """An engine and its sessions, for the app's lifespan, the CLI and tests."""

    def __init__(self, url: str | URL):
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def status(self, script_location: str = MIGRATIONS) -> SchemaStatus:
        return schema_status(self.engine, script_location)

    def require_current_schema(self, script_location: str = MIGRATIONS) -> SchemaStatus:
        """The status when the schema is the one this code needs; SchemaMismatch otherwise."""
        status = self.status(script_location)
        if status.state is not SchemaState.CURRENT:
            raise SchemaMismatch(status)
        return status

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block ends, rolled back on an exception."""
        with self.sessions.begin() as session:
            yield session

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    def close(self) -> None:
        self.engine.dispose()
