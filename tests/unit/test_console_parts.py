"""The console's pure parts: the re-plan diff, the CSV (spreadsheet formulas stay text), the
projected finish, and the SVG charts (escaped, one cell per planned day)."""

from __future__ import annotations

import csv
import io
from datetime import date

from hub.planning import charts, console


def _a(workshop: str, pieces: int, days: list[tuple[str, int]], name: str = "공장") -> dict:
    return {"workshop": workshop, "name_ko": name, "name_en": "Shop", "pieces": pieces, "started": 0,
            "per_piece_krw": 1000.0, "cost": {"total": pieces * 1000.0},
            "schedule": [{"day": d, "pieces": n, "capacity": 400, "minutes": {"overlock": n * 3.6}} for d, n in days]}


def test_diff_says_kept_cut_added():
    before = {"assignments": [_a("ws-a", 1000, []), _a("ws-b", 500, []), _a("ws-c", 300, [])]}
    after = {"assignments": [_a("ws-a", 1000, []), _a("ws-c", 500, []), _a("ws-d", 300, [])]}
    kinds = {r.workshop: (r.kind, r.before, r.after) for r in console.plan_diff(before, after)}
    assert kinds == {"ws-a": ("kept", 1000, 1000), "ws-b": ("cut", 500, 0), "ws-c": ("added", 300, 500),
                     "ws-d": ("added", 0, 300)}


def test_csv_rows_per_day_and_formulas_stay_text():
    view = {"version": 2, "assignments": [_a("ws-a", 600, [("2026-12-01", 400), ("2026-12-02", 200),
                                                           ("2026-12-03", 0)], name="=HYPERLINK(\"x\")")]}
    text = console.plan_csv("ord-1", view)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["day"], r["pieces"]) for r in rows] == [("2026-12-01", "400"), ("2026-12-02", "200")]
    assert rows[0]["name_ko"].startswith("'=")


def test_projected_finish_moves_with_a_shortfall():
    view = {"assignments": [_a("ws-a", 800, [("2026-12-01", 400), ("2026-12-02", 400)])]}
    assert console.expected_finish(view) == date(2026, 12, 2)
    behind = {"offers": {"of-1": {"workshop_id": "ws-a", "planned_by_now": 800, "done": 0}}}
    # 800 short at 400 a planned day: two more days after the plan's last one.
    assert console.projected_finish(view, behind, date(2026, 12, 2)) == date(2026, 12, 4)
    on_time = {"offers": {"of-1": {"workshop_id": "ws-a", "planned_by_now": 400, "done": 400}}}
    assert console.projected_finish(view, on_time, date(2026, 12, 1)) == date(2026, 12, 2)


def test_charts_escape_names_and_draw_each_planned_day():
    svg = charts.timeline([_a("ws-a", 600, [("2026-12-01", 400), ("2026-12-03", 200)], name="<b>&")], "plan")
    assert "<b>" not in svg and "&lt;b&gt;&amp;" in svg
    assert svg.count("data-day=") == 2
    loading = charts.loading_chart([("본봉", [(date(2026, 12, 1), 100.0, 40.0), (date(2026, 12, 2), 100.0, 120.0)])],
                                   "loading")
    assert loading.count('data-booked="1"') == 1 and loading.count('data-over="1"') == 1
    progress = charts.progress_chart([(date(2026, 12, 1), 400)], [(date(2026, 12, 1), 100)], "p", date(2026, 12, 1))
    assert 'class="planned"' in progress and 'class="done"' in progress
