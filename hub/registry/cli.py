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

import typer

from hub.core.cli import add_csv_commands
from hub.registry.csvio import KINDS

app = typer.Typer(no_args_is_help=True,
                  help="The network registry: import and export workshops, machines, designers, suppliers as CSV.")


@app.callback()
def main() -> None:
    """The network registry: import and export workshops, machines, designers, suppliers as CSV."""


def _service():
    from hub.registry import service  # SQLAlchemy loads when a command runs, not when `sewnet` starts

    return service


add_csv_commands(app, "registry", KINDS, _service, file_help="the CSV file (UTF-8, as `export` writes it)")
