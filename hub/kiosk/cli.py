"""`sewnet kiosk ...`: the kiosk from the command line.

    sewnet kiosk pattern --design tshirt --measurements m.json --out DIR [--option sleeve=long ...]
        drafts the pattern, runs its checks, writes DESIGN.dxf (DXF-AAMA), DESIGN.svg (preview),
        DESIGN-a4.pdf and DESIGN-plotter.pdf (1:1), DESIGN-ticket.json and .txt (cutting ticket),
        and prints the finished garment measurements.

m.json holds the body in mm (weight in kg): {"gender": "female", "height": 1600, "chest": 860,
"waist": 740, "hip": 930, "shoulder": 360, "arm": 550, "neck": 330}. The kiosk app adds its own
commands to this sub-app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.kiosk.measurements import FIELDS, GENDERS, Body, check as check_body

app = typer.Typer(no_args_is_help=True, help="The made-to-measure kiosk: patterns from measurements.")


@app.callback()
def main() -> None:
    """The made-to-measure kiosk: patterns from measurements."""


def read_body(path: Path) -> Body:
    """The measurements file as a Body. Whether its numbers are plausible (or numbers at all) is
    measurements.check()'s to say, in the words the kiosk shows a shopper."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one JSON object of measurements")
    missing = [f for f in ("gender",) + FIELDS if f not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)} (mm)")
    if data["gender"] not in GENDERS:
        raise ValueError("gender is female or male")
    return Body(gender=data["gender"], weight=data.get("weight"), **{f: data[f] for f in FIELDS})


@app.command("pattern")
def pattern(
    design: Annotated[str, typer.Option(help="base design: tshirt or shirt")],
    measurements: Annotated[Path, typer.Option(help="the body as JSON, mm", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(help="folder for the files (made if missing)")],
    option: Annotated[Optional[list[str]], typer.Option(help="NAME=VALUE, e.g. sleeve=long (repeatable)")] = None,
    colour: Annotated[str, typer.Option(help="preview colour, #rrggbb")] = "#3b6ea5",
) -> None:
    """Draft a pattern for one body and write DXF, SVG, PDF (A4 tiles and plotter) and the cutting ticket."""
    from hub.kiosk.patterns import PatternError, check, cutting_ticket, draft, ticket_text, to_dxf, to_pdf, to_svg

    options = {}
    for o in option or []:
        name, sep, value = o.partition("=")
        if not sep:
            typer.echo(f"--option takes NAME=VALUE, not {o!r}", err=True)
            raise typer.Exit(2)
        options[name.strip()] = value.strip()
    try:
        body = read_body(measurements)
    except ValueError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    # The kiosk's own checks, as a shopper's form has them: a value no adult measures refuses the
    # body; a cross-check that would ask the shopper to confirm is a warning here, the file's
    # author having typed it on purpose.
    problems = check_body(body)
    refused = [p for p in problems if p.kind == "out_of_range"]
    if refused:
        typer.echo("\n".join(p.words["en"] for p in refused), err=True)
        raise typer.Exit(2)
    for p in problems:
        typer.echo(f"warning: {p.words['en']}", err=True)
    try:
        pat = draft(design, body, options)
    except (ValueError, PatternError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    failures = check(pat, body)
    if failures:
        typer.echo("the pattern fails its checks:\n  " + "\n  ".join(failures), err=True)
        raise typer.Exit(1)
    out.mkdir(parents=True, exist_ok=True)
    ticket = cutting_ticket(pat)
    files = {f"{design}.dxf": to_dxf(pat), f"{design}.svg": to_svg(pat, colour).encode(),
             f"{design}-a4.pdf": to_pdf(pat, "a4"), f"{design}-plotter.pdf": to_pdf(pat, "plotter"),
             f"{design}-ticket.json": json.dumps(ticket, ensure_ascii=False, indent=1).encode(),
             f"{design}-ticket.txt": ticket_text(ticket).encode()}
    for name, data in files.items():
        (out / name).write_bytes(data)
    typer.echo(f"{design} {pat.size_label} " + " ".join(f"{k}={v}" for k, v in pat.options.items()))
    typer.echo("finished garment (mm):  area      body   ease  garment")
    for area, value in pat.finished.items():
        typer.echo(f"  {area:<22}{pat.body[area]:>8.0f}{pat.ease[area]:>7.0f}{value:>9.0f}")
    typer.echo(f"wrote {', '.join(files)} to {out}")
