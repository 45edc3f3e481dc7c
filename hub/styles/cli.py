"""`sewnet styles …`: My Style Lab from the command line.

    sewnet styles import products catalogue.csv [--dry-run]     # then shoppers, purchases (H&M files)
    sewnet styles export products catalogue.csv                 # or - for standard output
    sewnet styles evaluate --articles A.csv --customers C.csv --transactions T.csv [--split-date D] [--k 12]

Imports and exports work on the hub's database (settings as `sewnet hub run`: SEWNET_HUB_DATABASE_URL
or --config), with the registry's rules: every bad row listed with its line, column and reason,
nothing imported from a file with one. A running hub reads the new data on `POST
/api/v1/styles/model` (its next training). `evaluate` needs no database: it reads the three H&M
files, trains before the split, scores the week after and prints the recommender's and the
popularity baseline's MAP@k and recall@100 (hub.styles.evaluate.run_cli).

Exit 0 when done; 2 for bad input (an unknown kind, a file that cannot be read, bad rows); 1 when
the database cannot be used (the message says what to run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit

KINDS = ("products", "shoppers", "purchases")
PROGRESS_FROM_BYTES = 512 * 1024

app = typer.Typer(no_args_is_help=True, help="My Style Lab: the catalogue, shoppers and purchases as CSV; the "
                                             "recommender's offline evaluation.")
Kind = Annotated[str, typer.Argument(help=f"one of: {', '.join(KINDS)}", show_default=False)]


@app.callback()
def main() -> None:
    """My Style Lab: the catalogue, shoppers and purchases as CSV; the recommender's evaluation."""


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise fail(f"{kind!r} is not a styles kind: use one of {', '.join(KINDS)}")
    return kind


@app.command("import")
def import_(
    kind: Kind,
    file: Annotated[Path, typer.Argument(help="the CSV file (UTF-8): the catalogue's format for products, "
                                              "H&M's customers.csv / transactions_train.csv for the others",
                                         show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row and count, write nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Add the file's new records and update changed ones. A file with any bad row imports
    nothing; every bad row is listed with its line, column and reason."""
    from hub.styles import service

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
            typer.echo(f"{file.name}: {problem} / {problem.text_ko()}", err=True)
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
    from hub.styles import service

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
        partial = path.with_name(path.name + ".partial")  # written whole, then moved: never half a file
        partial.write_text(text, encoding="utf-8", newline="")
        partial.replace(path)
    except OSError as e:
        raise fail(f"cannot write {path}: {e.strerror or e}") from None
    typer.echo(f"{kind}: {text.count(chr(10)) - 1} rows written to {path}", err=True)


@app.command("evaluate")
def evaluate(
    articles: Annotated[Path, typer.Option(help="H&M articles.csv (or a catalogue file)", show_default=False)],
    customers: Annotated[Path, typer.Option(help="H&M customers.csv", show_default=False)],
    transactions: Annotated[Path, typer.Option(help="H&M transactions_train.csv", show_default=False)],
    split_date: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD: train before it, score the week from it "
                                                           "(default: the last week of the data)")] = None,
    k: Annotated[int, typer.Option(help="the length of a recommendation list for MAP@k")] = 12,
) -> None:
    """Train on what is before the split, evaluate the week after: MAP@k and recall@100 of the
    recommender and of the popularity baseline, and their ratio."""
    from hub.styles.evaluate import run_cli

    code = run_cli(articles, customers, transactions, split_date, k)
    if code:
        raise typer.Exit(code)


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
