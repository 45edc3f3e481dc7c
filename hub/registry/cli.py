"""`sewnet registry import|export KIND FILE`: the registry's CSV files from the command line, on the
hub's database (settings as `sewnet hub run`: SEWNET_HUB_DATABASE_URL or --config).

    sewnet registry import workshops workshops.csv     # then machines, designers, suppliers
    sewnet registry import machines machines.csv --dry-run
    sewnet registry export workshops - > workshops.csv

Exit 0 when done; 2 for bad input (an unknown kind, a file that cannot be read, bad rows: every
one is listed, and nothing is imported); 1 when the database cannot be used (not reachable, or its
schema is not the one this hub needs: the message says what to run).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit
from hub.registry.csvio import KINDS

app = typer.Typer(no_args_is_help=True,
                  help="The network registry: import and export workshops, machines, designers, suppliers as CSV.")

#: Files bigger than this get a progress bar (on a terminal): about 1,500 workshops.
PROGRESS_FROM_BYTES = 512 * 1024

Kind = Annotated[str, typer.Argument(help=f"one of: {', '.join(KINDS)}", show_default=False)]


@app.callback()
def main() -> None:
    """The network registry: import and export workshops, machines, designers, suppliers as CSV."""


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise fail(f"{kind!r} is not a registry kind: use one of {', '.join(KINDS)}")
    return kind


@app.command("import")
def import_(
    kind: Kind,
    file: Annotated[Path, typer.Argument(help="the CSV file (UTF-8, as `export` writes it)", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row and count, write nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Add the file's new records and update changed ones. A file with any bad row imports
    nothing; every bad row is listed with its line, column and reason."""
    from hub.registry import service

    kind = _kind(kind)
    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror or e}") from None
    database = database_or_exit(settings_or_exit(config))
    try:
        with database.session() as session, _ProgressBar(len(data)) as progress:
            report = service.import_csv(session, kind, data, dry_run=dry_run, progress=progress)
    finally:
        database.close()
    if not report.ok:
        for problem in report.problems:
            typer.echo(f"{file.name}: {problem} / {problem.ko}", err=True)
        if not report.rows:
            raise fail(f"{file.name} cannot be read as a {kind} file (see above); nothing was imported")
        raise fail(f"{report.bad_rows} of {report.rows} rows in {file.name} are bad; nothing was imported")
    typer.echo(f"{kind}: {report.summary()}" + (" (dry run: nothing written)" if dry_run else ""))


@app.command("export")
def export(
    kind: Kind,
    file: Annotated[str, typer.Argument(help="where to write the CSV; - for standard output", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Write every record of a kind as CSV, in the format `import` reads."""
    from hub.registry import service

    kind = _kind(kind)
    database = database_or_exit(settings_or_exit(config))
    try:
        with database.session() as session:
            text = service.export_csv(session, kind)
    finally:
        database.close()
    if file == "-":
        sys.stdout.write(text)
        return
    path = Path(file)
    try:
        # Written whole, then moved into place: a reader never sees half a file.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text, encoding="utf-8", newline="")
        partial.replace(path)
    except OSError as e:
        raise fail(f"cannot write {path}: {e.strerror or e}") from None
    rows = text.count("\n") - 1
    typer.echo(f"{kind}: {rows} rows written to {path}", err=True)


class _ProgressBar:
    """A rich progress bar for long imports on a terminal; nothing otherwise."""

    def __init__(self, size: int):
        self.bar = None
        if size >= PROGRESS_FROM_BYTES and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> Optional["_ProgressBar"]:
        if self.bar is None:
            return None
        self.bar.start()
        return self

    def __call__(self, phase: str, done: int, total: int) -> None:
        label = {"reading": "checking lines", "writing": "writing rows"}.get(phase, phase)
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[phase], completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
