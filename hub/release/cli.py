"""`sewnet hub release keygen|public-key|sign|verify|publish|list|withdraw`: the boards' firmware
releases, and the ones the hub publishes to the gateways."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = typer.Typer(no_args_is_help=True, help="Firmware releases for the boards: the release key, signed manifests.")

DatabaseOption = Annotated[Optional[str], typer.Option(help="the hub's database URL (default: the hub's settings)",
                                                       show_default=False)]
PublicKeyOption = Annotated[Optional[Path], typer.Option(
    "--public-key", help="the release key's .pub file (default: the public half of the hub's release_key_file)",
    show_default=False)]
KeyOption = Annotated[Optional[Path], typer.Option(
    "--key-file", help="the release key (default: the hub's release_key_file, SEWNET_HUB_RELEASE_KEY_FILE)",
    show_default=False)]


def _key_path(key_file: Optional[Path], config: Optional[Path]) -> Path:
    if key_file is not None:
        return key_file
    path = settings_or_exit(config).release_key_file
    if path is None:
        raise fail("no release key: give --key-file or set release_key_file (SEWNET_HUB_RELEASE_KEY_FILE)")
    return path


@app.command()
def keygen(key_file: KeyOption = None, config: ConfigOption = None) -> None:
    """Make the hub's release key (once): the private key (0600) and KEY.pub beside it."""
    from hub.release import ReleaseError, generate_key

    path = _key_path(key_file, config)
    try:
        pub = generate_key(path)
    except (ReleaseError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(f"release key written to {path} (keep it off the repository and backed up)")
    typer.echo(f"public key {pub} in {path}.pub: write it to every board (release.pub) and gateway")


@app.command("public-key")
def public_key(key_file: KeyOption = None, config: ConfigOption = None) -> None:
    """Print the release key's public half (64 hex digits)."""
    from hub.release import ReleaseError, load_private_key, public_key_hex

    try:
        typer.echo(public_key_hex(load_private_key(_key_path(key_file, config)).public_key()))
    except ReleaseError as e:
        raise fail(str(e)) from None


@app.command()
def sign(
    out: Annotated[Path, typer.Option(help="the release folder to write (manifest.json, manifest.sig, files/)")],
    firmware: Annotated[Optional[Path], typer.Option(help="the firmware folder (default: the one shipped)")] = None,
    version: Annotated[Optional[str], typer.Option(help="must equal FW_VERSION in sn_app.py")] = None,
    min_bootloader: Annotated[Optional[int], typer.Option(help="the boot layer the files need (default: "
                                                               "BOOTLOADER in sn_boot.py)")] = None,
    health_s: Annotated[int, typer.Option(help="seconds a board has to report healthy before it rolls "
                                               "back")] = 300,
    key_file: KeyOption = None,
    config: ConfigOption = None,
    publish_it: Annotated[bool, typer.Option("--publish", help="publish it to the gateways too (as `publish OUT`)")]
    = False,
    database: DatabaseOption = None,
) -> None:
    """Sign the firmware folder as a release for the gateways to serve."""
    from sewnet.resources import shipped

    from hub.release import (ReleaseError, build_manifest, firmware_bootloader, firmware_version,
                             load_private_key, release_files, sign_manifest, write_release)

    folder = firmware or shipped("firmware")
    try:
        have = firmware_version(folder)
        if version is not None and version != have:
            raise ReleaseError(f"--version {version} but {folder}/sn_app.py says FW_VERSION = \"{have}\": "
                               "a board reports the version it runs, so change FW_VERSION first")
        boot = min_bootloader if min_bootloader is not None else firmware_bootloader(folder)
        key = load_private_key(_key_path(key_file, config))
        if out.exists() and any(out.iterdir()):
            raise ReleaseError(f"{out} is not empty: a release folder is written once")
        manifest = build_manifest(release_files(folder), have, boot, health_s)
        data, sig = sign_manifest(key, manifest)
        write_release(out, data, sig, folder)
    except ReleaseError as e:
        raise fail(str(e)) from None
    size = sum(f["size"] for f in manifest["files"])
    typer.echo(f"release {have}: {len(manifest['files'])} files, {size:,} bytes, boot layer >= {boot}, "
               f"written to {out}")
    if publish_it:
        _publish(out, key.public_key(), config, database)


@app.command()
def verify(
    folder: Annotated[Path, typer.Argument(help="a release folder")],
    public_key_file: Annotated[Path, typer.Option("--public-key", help="the release key's .pub file")],
) -> None:
    """Check a release folder: the signature and every file."""
    from hub.release import ReleaseError, load_public_key, read_release

    try:
        manifest, _, _, _ = read_release(folder, load_public_key(public_key_file))
    except ReleaseError as e:
        raise fail(str(e), 1) from None
    typer.echo(f"release {manifest['version']}: signature and {len(manifest['files'])} files good")


def _public_key(public_key_file: Optional[Path], config: Optional[Path]):
    """The key a published release must be signed with: the one every board and gateway trusts."""
    from hub.release import ReleaseError, load_private_key, load_public_key

    try:
        if public_key_file is not None:
            return load_public_key(public_key_file)
        path = _key_path(None, config)
        pub = Path(str(path) + ".pub")
        return load_public_key(pub) if pub.exists() else load_private_key(path).public_key()
    except ReleaseError as e:
        raise fail(str(e)) from None


@contextmanager
def _session(config: Optional[Path], database: Optional[str]) -> Iterator[Session]:
    """A session on the hub's database (`--database` or the hub's settings), closed afterwards."""
    overrides = {"database_url": database} if database is not None else {}
    db = database_or_exit(settings_or_exit(config, **overrides))
    try:
        with db.session() as session:
            yield session
    finally:
        db.close()


def _publish(folder: Path, public, config: Optional[Path], database: Optional[str]) -> None:
    from hub.release import ReleaseError, service

    try:
        with _session(config, database) as session:
            done = service.publish_folder(session, folder, public)
    except ReleaseError as e:
        raise fail(f"not published: {e}") from None
    if done.new:
        typer.echo(f"release {done.version} published: {done.files} files, {done.bytes:,} bytes, signed by key "
                   f"{done.key_id}; gateways fetch it on their next release check")
    else:
        typer.echo(f"release {done.version} was published already: nothing changed")


@app.command()
def publish(
    folder: Annotated[Path, typer.Argument(help="a release folder from `sign --out`")],
    public_key_file: PublicKeyOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Publish a signed release: gateways fetch it, check it and offer it to their operators."""
    _publish(folder, _public_key(public_key_file, config), config, database)


@app.command("list")
def list_releases(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """The published releases, newest first, with the workshops whose gateways fetched each."""
    from hub.release import service

    with _session(config, database) as session:
        rows = service.releases(session)
    if not rows:
        typer.echo("no releases published")
    for r in rows:
        state = f"withdrawn {r['withdrawn_at']}: {r['withdrawn_reason']}" if r["withdrawn_at"] else "offered"
        where = ", ".join(r["fetched_by"]) or "no gateway yet"
        typer.echo(f"{r['version']}\t{r['files']} files, {r['bytes']:,} bytes\tpublished {r['published_at']}\t"
                   f"{state}\tfetched by {len(r['fetched_by'])}: {where}")


@app.command()
def withdraw(
    version: Annotated[str, typer.Argument(help="the published version")],
    reason: Annotated[str, typer.Option(help="why, for the gateways' operators")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Take a release back: gateways stop offering it (a rollout of it stops) on their next check."""
    from hub.release import ReleaseError, service

    try:
        with _session(config, database) as session:
            changed = service.withdraw(session, version, reason)
    except ReleaseError as e:
        raise fail(str(e), 1) from None
    typer.echo(f"release {version} withdrawn" if changed else f"release {version} was withdrawn already")
