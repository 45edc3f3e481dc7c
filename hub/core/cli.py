"""What every hub command needs before it works: its settings and its database, or one line that
says what is wrong (on stderr, `error: ...`) and an exit code: 2 for bad settings, 1 for a
database that cannot be used as it is (the message says what to run). And the `import KIND FILE`
and `export KIND FILE` commands every capability with CSV files has (the registry, My Style Lab,
`add_csv_commands`): one way to read a file, show a long import's progress, list every bad row and
write an export."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, Protocol

import typer

if TYPE_CHECKING:  # SQLAlchemy and pydantic-settings load when a command runs, not when `sewnet` starts
    from hub.core.csvfile import Problem
    from hub.core.db import Database, Session
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


# ----------------------------------------------------------------------------- CSV import and export
#: Files bigger than this get a progress bar (on a terminal): about 1,500 workshops.
PROGRESS_FROM_BYTES = 512 * 1024

#: An import's progress: (phase, done, total); phases "reading" (lines) and "writing" (rows).
ImportProgress = Callable[[str, int, int], None]


class ImportOutcome(Protocol):
    """What an import answers (hub.registry's ImportReport, which My Style Lab's imports give too)."""

    rows: int
    problems: Sequence[Problem]

    @property
    def ok(self) -> bool: ...

    @property
    def bad_rows(self) -> int: ...

    def summary(self) -> str: ...


class CsvService(Protocol):
    """A capability's public face as far as its CSV files go (hub.registry.service, hub.styles.service)."""

    def import_csv(self, session: Session, kind: str, data: bytes, dry_run: bool = False,
                   progress: ImportProgress | None = None) -> ImportOutcome: ...

    def export_csv(self, session: Session, kind: str) -> str: ...


def add_csv_commands(app: typer.Typer, what: str, kinds: Sequence[str], service: Callable[[], CsvService],
                     file_help: str) -> None:
    """`import KIND FILE [--dry-run]` and `export KIND FILE` on a capability's `app` (`what`: its
    name in messages, "registry"). `service()` gives its public face; it is called only when a
    command runs, so `sewnet` starts without SQLAlchemy."""
    kind_help = f"one of: {', '.join(kinds)}"

    # Arguments as defaults, not Annotated: the help names this capability's kinds and file.
    def import_(kind: str = typer.Argument(..., help=kind_help, show_default=False),
                file: Path = typer.Argument(..., help=file_help, show_default=False),
                dry_run: bool = typer.Option(False, "--dry-run", help="check every row and count, write nothing"),
                config: ConfigOption = None) -> None:
        """Add the file's new records and update changed ones. A file with any bad row imports
        nothing; every bad row is listed with its line, column and reason."""
        kind = _kind_or_exit(kind, kinds, what)
        csv = service()
        _import_file(kind, file, config, dry_run, lambda session, data, progress: csv.import_csv(
            session, kind, data, dry_run=dry_run, progress=progress))

    def export(kind: str = typer.Argument(..., help=kind_help, show_default=False),
               file: str = typer.Argument(..., help="where to write the CSV; - for standard output",
                                          show_default=False),
               config: ConfigOption = None) -> None:
        """Write every record of a kind as CSV, in the format `import` reads."""
        kind = _kind_or_exit(kind, kinds, what)
        csv = service()
        _export_file(kind, file, config, lambda session: csv.export_csv(session, kind))

    app.command("import")(import_)
    app.command("export")(export)


def _kind_or_exit(kind: str, kinds: Sequence[str], what: str) -> str:
    """`kind` when it is one of `kinds`, else exit 2 saying which are (`what`: "registry", "styles")."""
    if kind not in kinds:
        raise fail(f"{kind!r} is not a {what} kind: use one of {', '.join(kinds)}")
    return kind


def _import_file(kind: str, file: Path, config: Path | None, dry_run: bool,
                run: Callable[[Session, bytes, ImportProgress | None], ImportOutcome]) -> None:
    """`import KIND FILE`: read the file, `run` the capability's import in one transaction (with a
    progress bar for a long file on a terminal), then one summary line, or every problem with its
    line, column and reason (English, then Korean) and exit 2: a file with one bad row imports
    nothing."""
    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror or e}") from None
    database = database_or_exit(settings_or_exit(config))
    try:
        with database.session() as session, ProgressBar(len(data)) as progress:
            report = run(session, data, progress)
    finally:
        database.close()
    if not report.ok:
        for problem in report.problems:
            typer.echo(f"{file.name}: {problem} / {problem.text_ko()}", err=True)
        if not report.rows:
            raise fail(f"{file.name} cannot be read as a {kind} file (see above); nothing was imported")
        raise fail(f"{report.bad_rows} of {report.rows} rows in {file.name} are bad; nothing was imported")
    typer.echo(f"{kind}: {report.summary()}" + (" (dry run: nothing written)" if dry_run else ""))


def _export_file(kind: str, file: str, config: Path | None, produce: Callable[[Session], str]) -> None:
    """`export KIND FILE`: the CSV text `produce` makes from the database, to `file` or, for "-",
    standard output."""
    database = database_or_exit(settings_or_exit(config))
    try:
        with database.session() as session:
            text = produce(session)
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
    typer.echo(f"{kind}: {text.count(chr(10)) - 1} rows written to {path}", err=True)


class ProgressBar:
    """A rich progress bar for long imports on a terminal; nothing otherwise (a pipe or a log
    would only fill with redraws)."""

    def __init__(self, size: int):
        self.bar = None
        if size >= PROGRESS_FROM_BYTES and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> Optional["ProgressBar"]:
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
