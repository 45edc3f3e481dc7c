"""`sewnet gateway ...` (and `python -m edge_gateway --config PATH`)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import typer

from . import provision
from .config import ConfigError, GatewayConfig, load_config
from .outbox import Outbox, StoreDamaged, StoreFull, StoreVersionError

app = typer.Typer(no_args_is_help=True, help="The workshop gateway: MQTT ingest, durable outbox, uplink.")

CONFIG = typer.Option(..., "--config", "-c", help="Gateway TOML file (see edge_gateway/gateway.example.toml).")


def _load(path: Path) -> GatewayConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"config error: {exc}", err=True)
        raise typer.Exit(2) from None


def _store(cfg: GatewayConfig) -> Outbox:
    if not cfg.store_path.exists():
        typer.echo(f"no gateway store at {cfg.store_path} (has the gateway run yet?)", err=True)
        raise typer.Exit(1)
    try:
        # inspect: read beside the running gateway; never upgrade, check or set aside its file.
        return Outbox(cfg.store_path, cfg.workshop, cfg.registry, timezone=cfg.timezone, inspect=True)
    except StoreVersionError as exc:
        typer.echo(f"store {cfg.store_path}: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def run(config: Path = CONFIG, verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the gateway until SIGTERM/SIGINT."""
    from .service import run_gateway

    cfg = _load(config)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_gateway(cfg))
    except ConfigError as exc:
        typer.echo(f"config error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (StoreVersionError, StoreDamaged, StoreFull) as exc:
        typer.echo(f"store {cfg.store_path}: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def rejected(
    config: Path = CONFIG,
    limit: int = typer.Option(50, min=1, help="How many of the newest rejections to print."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Print the rejected messages the gateway kept, newest first."""
    cfg = _load(config)
    with _store(cfg) as store:
        rows = store.rejected(limit)
        counters = store.counters()
    for r in rows:
        payload = r["payload"].decode("utf-8", errors="backslashreplace")
        if as_json:
            typer.echo(json.dumps({**r, "payload": payload}, ensure_ascii=False))
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["received_at"]))
            typer.echo(f"{when}  {r['reason']:<20} {r['topic']}\n    {r['detail']}\n    {payload[:300]}")
    if not as_json:
        totals = {k.removeprefix("rejected."): v for k, v in counters.items() if k.startswith("rejected.")}
        typer.echo(f"counted since install: {totals or 'none'}")


@app.command()
def status(config: Path = CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print devices, pending lines and counters from the gateway's store."""
    cfg = _load(config)
    with _store(cfg) as store:
        devices = store.devices()
        pending, oldest = store.pending_stats()
        counters = store.counters()
        dead = store.dead_letters(5)
    if as_json:
        typer.echo(json.dumps({"workshop": cfg.workshop, "devices": devices, "pending_lines": pending,
                               "oldest_pending_at": oldest, "counters": counters, "dead_letters": dead}))
        return
    typer.echo(f"workshop {cfg.workshop}")
    for d in devices:
        seen = time.strftime("%H:%M:%S", time.localtime(d["last_seen"])) if d["last_seen"] else "never"
        typer.echo(f"  {d['machine']:<8} {d['device']:<18} {d['state'] or '?':<8} last seen {seen:<9}"
                   f" stitches today {d['stitches_today']}, missing {d['missing']}")
    age = f", oldest {time.time() - oldest:.0f} s old" if oldest else ""
    typer.echo(f"pending lines: {pending}{age}")
    typer.echo("counters: " + ", ".join(f"{k}={v}" for k, v in sorted(counters.items())))
    for d in dead:
        typer.echo(f"dead letter: {d['reason']}: {d['line']}")


app.command("install")(provision.install_command)
app.command("add-board")(provision.add_board_command)
app.command("connect-hub")(provision.connect_hub_command)
app.command("enable-updates")(provision.enable_updates_command)


def main(argv: list[str] | None = None) -> None:
    """`python -m edge_gateway --config PATH` runs the gateway; other words go to the sub-app."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith("-") and argv[0] not in ("--help", "-h"):
        argv = ["run", *argv]
    app(argv, prog_name="python -m edge_gateway")


release_app = typer.Typer(no_args_is_help=True, help="Firmware releases the gateway serves to its boards.")
app.add_typer(release_app, name="release")


@release_app.command("add")
def release_add(folder: Path = typer.Argument(..., help="a release folder from `sewnet hub release sign`"),
                config: Path = CONFIG) -> None:
    """Check a release against the hub's release key and keep it for the boards (safe while the
    gateway runs). Start its rollout on the page's /updates."""
    from .ota import Ota, OtaError, load_release_key

    cfg = _load(config)
    if cfg.ota is None:
        typer.echo("config error: no [ota] section: add release_key_file there first", err=True)
        raise typer.Exit(2)
    try:
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        ota = Ota(cfg.data_dir / "ota.sqlite", load_release_key(cfg.ota.release_key_file))
        try:
            m = ota.add_release(folder)
        finally:
            ota.close()
    except OtaError as exc:
        typer.echo(f"release refused: {exc.en} / {exc.ko}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"release {m['version']} kept: {len(m['files'])} files; start it on /updates")
