"""`sewnet hub ...` (and `python -m hub ...`)."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit

app = typer.Typer(help="SewNet hub: live capacity per workshop.", no_args_is_help=True)
db_app = typer.Typer(help="The hub's database: apply the schema's migrations, show its revision.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def main() -> None:
    """SewNet hub: live capacity per workshop."""


@app.command()
def run(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    config: ConfigOption = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Serve the hub API and page (after checking the database holds the schema it needs)."""
    import uvicorn

    from hub.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_or_exit(config)
    database_or_exit(settings).close()  # refuse here, in one line, rather than in uvicorn's start-up
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


@app.command()
def token() -> None:
    """Print a new random token for SEWNET_HUB_API_TOKENS or the embedded write token."""
    typer.echo(secrets.token_urlsafe(24))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the migrations the database still lacks (a new database gets the whole schema)."""
    from hub.core.db import DatabaseUnavailable, SchemaMismatch, show_url, upgrade

    settings = settings_or_exit(config)
    url = settings.database_url.get_secret_value()
    try:
        status = upgrade(url)
    except (SchemaMismatch, DatabaseUnavailable) as e:
        raise fail(e.message, 1) from None
    typer.echo(f"{show_url(url)}: schema at revision {status.database_revision} (current)")


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Show the database's schema revision; exit 1 unless it is the one this hub needs."""
    from hub.core.db import DatabaseUnavailable, SchemaState

    settings = settings_or_exit(config)
    database = database_or_exit(settings, check_schema=False)
    try:
        status = database.status()
    except DatabaseUnavailable as e:
        raise fail(e.message, 1) from None
    finally:
        database.close()
    if status.state is not SchemaState.CURRENT:
        raise fail(status.message, 1)
    typer.echo(f"{status.url}: schema at revision {status.database_revision} (current)")
