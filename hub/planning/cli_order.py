"""`sewnet plan order FILE.json`: plan a bulk order from the command line, over the hub database's
registry and the work already accepted there.

    sewnet plan order docs/examples/order-20000-shirts.json              # a table for people
    sewnet plan order order.json --json                                  # one JSON document
    sewnet plan order order.json --database postgresql+psycopg://...     # or SEWNET_HUB_DATABASE_URL / --config
    sewnet plan order order.json --save                                  # store the order and its plan too

The file is the body `POST /api/v1/orders` takes (hub.planning.intake). Capacity is the
registry's declared figures less accepted work: telemetry's calibration is the running hub's
(`POST /api/v1/orders/{id}/plan`). Without --save nothing is written.

Exit 0 with a plan that meets the order; 3 when the order cannot be met (the plan says why and
what could); 2 for bad input (a file that cannot be read, an order with problems: every one on
one line); 1 when the database cannot be used (the message says what to run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from hub.core.cli import ConfigOption, database_or_exit, fail, settings_or_exit

#: Exit code for an order that cannot be met as written (explained, with alternatives).
NOT_MET = 3


def order(
    file: Annotated[Path, typer.Argument(help="the order as JSON (as POST /api/v1/orders takes it)",
                                         show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document on stdout, for machines")] = False,
    database: Annotated[Optional[str], typer.Option(help="the hub's database URL (default: the hub's settings)",
                                                    show_default=False)] = None,
    save: Annotated[bool, typer.Option("--save", help="store the order and its plan (as the API would)")] = False,
    time_limit: Annotated[Optional[float], typer.Option(min=0.1, max=300, help="seconds the solver may take "
                                                        "(default: the hub's planning_time_limit)")] = None,
    config: ConfigOption = None,
) -> None:
    """Plan a bulk order: which workshops sew how many pieces on which days, at what cost, and why."""
    import anyio

    from hub.planning import service
    from hub.planning.intake import one_line, read_order

    try:
        data = json.loads(file.read_bytes())
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror or e}") from None
    except ValueError as e:  # not UTF-8, or not JSON
        raise fail(f"{file} is not a JSON file: {e}") from None
    now = service.utc_now()
    found_order, problems = read_order(data, service.today_in_seoul(now))
    if problems:
        raise fail(f"the order in {file} has {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                   f"{one_line(problems)}")
    overrides = {}
    if database is not None:
        overrides["database_url"] = database
    if time_limit is not None:
        overrides["planning_time_limit"] = time_limit
    settings = settings_or_exit(config, **overrides)
    db = database_or_exit(settings)
    try:
        if save:
            try:
                with db.session() as session:
                    service.create_order(session, found_order, now)
            except service.Conflict as e:
                raise fail(f"{e.en} in {settings_url(settings)}: give the file another id, or leave it out") from None
            result = anyio.run(service.plan, db, None, settings, found_order.id)
            view, capacity = result.view, result.capacity
        else:
            view, capacity = anyio.run(service.plan_unsaved, db, None, settings, found_order)
    finally:
        db.close()
    note = {"candidates": len(capacity.items), "days": capacity.days, "telemetry": "not read: declared figures"}
    if as_json:
        typer.echo(json.dumps({**view, "capacity": note, "saved": save}, ensure_ascii=False))
    else:
        print_plan(view, note, save)
    if not view["feasible"]:
        raise typer.Exit(NOT_MET)


def settings_url(settings) -> str:
    from hub.core.db import show_url

    return show_url(settings.database_url.get_secret_value())


def _days(schedule: list[dict]) -> str:
    days = [s["day"][5:] for s in schedule if s["pieces"] > 0]
    if not days:
        return "—"
    return f"{days[0]}…{days[-1]} ({len(days)})" if len(days) > 1 else days[0]


def print_plan(view: dict, note: dict, saved: bool) -> None:
    """The plan as a table for a person: workshop, pieces, days, cost, reason."""
    from rich.console import Console
    from rich.table import Table

    # A terminal's own width; piped or captured, wide enough that a row stays on its lines.
    console = Console(width=None if sys.stdout.isatty() else 160)
    order = view["order"]
    if view["assignments"]:
        table = Table(title=f"주문 {order} 계획 · plan for order {order}", title_justify="left")
        table.add_column("작업장 Workshop")
        table.add_column("수량 Pieces", justify="right")
        table.add_column("봉제일 Days")
        table.add_column("비용 Cost (KRW)", justify="right")
        table.add_column("이유 Reason")
        for a in view["assignments"]:
            reasons = "\n".join(f"{r['ko']}\n[dim]{r['en']}[/dim]" for r in a["reasons"][:2]) or "—"
            started = f" ({a['started']:,} started)" if a["started"] else ""
            table.add_row(f"{a['name_ko']}\n[dim]{a['workshop']}[/dim]", f"{a['pieces']:,}{started}",
                          _days(a["schedule"]), f"{a['cost']['total']:,.0f}\n[dim]{a['per_piece_krw']:,.0f}/pc[/dim]",
                          reasons)
        console.print(table)
    cost, solve = view["cost"], view["solve"]
    gap = "—" if view["gap"] is None else f"{view['gap'] * 100:.2f} %"
    objective = "—" if view["objective"] is None else f"{view['objective']:,.0f}"
    bound = "—" if view["bound"] is None else f"{view['bound']:,.0f}"
    console.print(f"{view['pieces']:,} pieces over {len(view['assignments'])} workshops; cost KRW {cost['total']:,.0f} "
                  f"(sewing {cost['sewing']:,.0f}, fixed {cost['fixed']:,.0f}, transport {cost['transport']:,.0f}, "
                  f"late risk {cost['late_risk']:,.0f}, split {cost['split']:,.0f})", highlight=False)
    console.print(f"objective {objective}, bound {bound}, gap {gap}: {solve['method']} {view['status']} in "
                  f"{solve['seconds']:.2f} s", highlight=False)
    if not view["feasible"]:
        console.print("[bold]이대로는 주문을 맞출 수 없습니다 · the order cannot be met as it is:[/bold]")
        for r in view["reasons"]:
            console.print(f"  • {r['ko']}\n    {r['en']}", highlight=False)
        if view["alternatives"]:
            console.print("[bold]가능한 대안 · what would work:[/bold]")
            for a in view["alternatives"]:
                console.print(f"  • {a['ko']}\n    {a['en']}", highlight=False)
    if view["left_out"]:
        console.print(f"left out ({len(view['left_out'])} strong candidates), e.g.:", highlight=False)
        for lo in view["left_out"][:3]:
            why = lo["reasons"][0]["en"] if lo["reasons"] else ""
            console.print(f"  • {lo['workshop']} {lo['name_ko']}: {why}", highlight=False)
    console.print(f"[dim]{note['candidates']} candidate workshops over {note['days']} days; capacity: the registry's "
                  "declared figures less accepted work (the running hub calibrates it with telemetry)[/dim]",
                  highlight=False)
    console.print(f"saved as version {view['version']} of order {order}" if saved else "nothing saved",
                  highlight=False)
