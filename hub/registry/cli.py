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

from pathlib import Path
from typing import Annotated

import typer

from hub.core.cli import ConfigOption, export_file, import_file, kind_or_exit
from hub.registry.csvio import KINDS

app = typer.Typer(no_args_is_help=True,
                  help="The network registry: import and export workshops, machines, designers, suppliers as CSV.")

Kind = Annotated[str, typer.Argument(help=f"one of: {', '.join(KINDS)}", show_default=False)]


@app.callback()
def main() -> None:
    """The network registry: import and export workshops, machines, designers, suppliers as CSV."""


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

    kind = kind_or_exit(kind, KINDS, "registry")
    import_file(kind, file, config, dry_run, lambda session, data, progress: service.import_csv(
        session, kind, data, dry_run=dry_run, progress=progress))


@app.command("export")
def export(
    kind: Kind,
    file: Annotated[str, typer.Argument(help="where to write the CSV; - for standard output", show_default=False)],
    config: ConfigOption = None,
) -> None:
    """Write every record of a kind as CSV, in the format `import` reads."""
    from hub.registry import service

    kind = kind_or_exit(kind, KINDS, "registry")
    export_file(kind, file, config, lambda session: service.export_csv(session, kind))
