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

from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.core.cli import add_csv_commands

KINDS = ("products", "shoppers", "purchases")

app = typer.Typer(no_args_is_help=True, help="My Style Lab: the catalogue, shoppers and purchases as CSV; the "
                                             "recommender's offline evaluation.")


@app.callback()
def main() -> None:
    """My Style Lab: the catalogue, shoppers and purchases as CSV; the recommender's evaluation."""


def _service():
    from hub.styles import service  # SQLAlchemy and pandas load when a command runs, not when `sewnet` starts

    return service


add_csv_commands(app, "styles", KINDS, _service,
                 file_help="the CSV file (UTF-8): the catalogue's format for products, H&M's customers.csv / "
                           "transactions_train.csv for the others")


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
