"""What every hub command needs before it works: its settings and its database, or one line that
says what is wrong (on stderr, `error: ...`) and an exit code: 2 for bad settings, 1 for a
database that cannot be used as it is (the message says what to run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:  # SQLAlchemy and pydantic-settings load when a command runs, not when `sewnet` starts
    from hub.core.db import Database
    from hub.core.settings import HubSettings

ConfigOption = Annotated[Optional[Path], typer.Option(help="TOML file with hub settings; SEWNET_HUB_* env wins",
                                                      exists=True, dir_okay=False)]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `error: message` on stderr; raise what this returns."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def settings_or_exit(config: Path | None, **overrides: object) -> HubSettings:
    """Settings from the environment and `config`, with a command's own options (`overrides`) over both."""
    from hub.core.settings import load_settings

    from pydantic import ValidationError

    try:
        return load_settings(config, **overrides)
    except ValidationError as e:
        # Field and reason only: the input may hold a secret (a password in the database URL).
        reasons = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                            for err in e.errors(include_url=False, include_input=False, include_context=False))
        raise fail(f"hub settings are not valid: {reasons}") from None
    except Exception as e:  # a bad setting must read as one line, not a traceback
        raise fail(f"hub settings are not valid: {' '.join(str(e).split())}") from None


def database_or_exit(settings: HubSettings, check_schema: bool = True) -> Database:
    """The hub's database, its schema checked unless told not to."""
    from hub.core.db import Database, DatabaseUnavailable, SchemaMismatch

    database = Database(settings.database_url.get_secret_value())
    if check_schema:
        try:
            database.require_current_schema()
        except (SchemaMismatch, DatabaseUnavailable) as e:
            database.close()
            raise fail(e.message, 1) from None
    return database
