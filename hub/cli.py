"""`sewnet hub ...` (and `python -m hub ...`)."""

from __future__ import annotations

import logging
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit

app = typer.Typer(help="SewNet hub: live capacity per workshop.", no_args_is_help=True)
db_app = typer.Typer(help="The hub's database: apply the schema's migrations, show its revision.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")
# Firmware releases for the boards (issue 10 §2): `sewnet hub release keygen|public-key|sign|verify`.
from hub.release.cli import app as release_app  # noqa: E402

app.add_typer(release_app, name="release")


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
    # No `server: uvicorn` header: every workshop gateway's idle offer check (a 304 a minute over
    # LTE) would carry its 17 B, and it tells a scanner which server to try.
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False,
                server_header=False, timeout_keep_alive=int(settings.keep_alive_s))


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


# ----------------------------------------------------------------------------- workshop tokens
token_app = typer.Typer(help="Tokens a workshop's gateway fetches its offers with (stored as hashes only).",
                        no_args_is_help=True)
app.add_typer(token_app, name="workshop-token")
DatabaseOption = Annotated[Optional[str], typer.Option(help="the hub's database URL (default: the hub's settings)",
                                                       show_default=False)]


@contextmanager
def _token_session(config: Optional[Path], database: Optional[str]):
    """A session of the hub's database (or the one `database` names) for one command, closed after."""
    overrides = {"database_url": database} if database is not None else {}
    db = database_or_exit(settings_or_exit(config, **overrides))
    try:
        with db.session() as session:
            yield session
    finally:
        db.close()


@token_app.command("issue")
def workshop_token_issue(
    workshop_id: Annotated[str, typer.Argument(help="the workshop, by its registry id")],
    file: Annotated[Optional[Path], typer.Option(help="write the token to this file (mode 0600) instead of printing "
                                                      "it")] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """A new token for the workshop's gateway, shown once (only its hash is kept)."""
    from hub.planning import offers, service

    try:
        with _token_session(config, database) as session:
            token = offers.issue_workshop_token(session, workshop_id)
    except service.NotFound:
        raise fail(f"no workshop {workshop_id} in the registry: import it first (sewnet registry import workshops)",
                   2) from None
    if file is None:
        typer.echo(token)
        return
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        os.chmod(file, 0o600)  # an existing file keeps its old mode through O_CREAT
    except OSError as e:
        raise fail(f"cannot write {file}: {e.strerror}; the token issued is not usable without it: revoke it with "
                   f"`sewnet hub workshop-token revoke {workshop_id}`", 1) from None
    typer.echo(f"token for {workshop_id} written to {file}")


@token_app.command("list")
def workshop_token_list(
    workshop_id: Annotated[Optional[str], typer.Argument(help="only this workshop's")] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Tokens by workshop: the first 12 characters of each token's hash, when issued and revoked."""
    from hub.planning import offers

    with _token_session(config, database) as session:
        rows = offers.list_workshop_tokens(session, workshop_id)
    for row in rows:
        typer.echo(f"{row['workshop_id']}\t{row['token_id'][:12]}\tissued {row['created_at']}\t"
                   + (f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"))
    if not rows:
        typer.echo("no workshop tokens")


@token_app.command("revoke")
def workshop_token_revoke(
    workshop_id: Annotated[str, typer.Argument(help="the workshop whose tokens to revoke")],
    token_id: Annotated[Optional[str], typer.Option(help="only the token whose hash starts so (from `list`)")] = None,
    database: DatabaseOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke the workshop's tokens (or one of them): its gateway gets 401 from then on."""
    from hub.planning import offers

    with _token_session(config, database) as session:
        n = offers.revoke_workshop_tokens(session, workshop_id, token_id)
    if n == 0:
        raise fail(f"no active token of {workshop_id}" + (f" starting {token_id}" if token_id else ""), 1)
    typer.echo(f"revoked {n} token{'s' if n != 1 else ''} of {workshop_id}")
