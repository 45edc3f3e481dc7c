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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(no_args_is_help=True, help="The made-to-measure kiosk: patterns from measurements.")

FIELDS = ("height", "chest", "waist", "hip", "shoulder", "arm", "neck")


@app.callback()
def main() -> None:
    """The made-to-measure kiosk: patterns from measurements."""


@dataclass(frozen=True)
class _Body:
    """The measurements file, read as drafting needs it (hub.kiosk.measurements.Body has the same fields)."""

    gender: str
    height: float
    chest: float
    waist: float
    hip: float
    shoulder: float
    arm: float
    neck: float
    weight: float | None = None


def read_body(path: Path) -> _Body:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one JSON object of measurements")
    missing = [f for f in ("gender",) + FIELDS if f not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)} (mm)")
    if data["gender"] not in ("female", "male"):
        raise ValueError("gender is female or male")
    values = {}
    for f in FIELDS:
        v = data[f]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ValueError(f"{f} must be a positive number of millimetres, not {v!r}")
        values[f] = float(v)
    return _Body(gender=data["gender"], weight=data.get("weight"), **values)


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
        pat = draft(design, body, options)
    except (ValueError, PatternError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    problems = check(pat, body)
    if problems:
        typer.echo("the pattern fails its checks:\n  " + "\n  ".join(problems), err=True)
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
