"""`sewnet hub ...` (and `python -m hub ...`)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="SewNet hub: live capacity per workshop.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """SewNet hub: live capacity per workshop."""


@app.command()
def run(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    config: Annotated[Optional[Path], typer.Option(help="TOML file with hub settings; SEWNET_HUB_* env wins",
                                                   exists=True, dir_okay=False)] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Serve the hub API and page."""
    import uvicorn

    from hub.app import create_app
    from hub.core.settings import load_settings

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(config)
    except Exception as e:  # a bad setting must read as one line, not a traceback
        typer.echo(f"hub settings are not valid: {e}", err=True)
        raise typer.Exit(2)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


@app.command()
def token() -> None:
    """Print a new random token for SEWNET_HUB_API_TOKENS or the embedded write token."""
    typer.echo(secrets.token_urlsafe(24))
