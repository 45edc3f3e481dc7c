"""The console's charts as SVG drawn on the server: no script, no build step, and they print.
Pure: figures in, markup out (every text escaped); the pages mark the result safe.

- `loading_chart`: a workshop's next days per machine type, booked (dark) against spare (light);
- `timeline`: a plan's pieces per workshop and day, each cell shaded by how full the day is;
- `progress_chart`: pieces done against pieces planned over time, cumulative, per workshop;
- `day_bars`: one figure per day (a workshop's output).
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Sequence

from hub.core.days import WEEKDAYS_KO

BOOKED = "#1f4e8c"
SPARE = "#9fd3a8"
OVER = "#b42318"
EMPTY = "#ece8dc"
INK = "#1a1a1a"
PLANNED = "#8a8577"
DONE = "#1d6b34"


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _num(x: float) -> str:
    return f"{x:,.0f}"


def _svg(width: float, height: float, label: str, body: list[str], css_class: str) -> str:
    return (f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{_attr(label)}">'
            + "".join(body) + "</svg>")


# ----------------------------------------------------------------------------- loading
def loading_chart(rows: Sequence[tuple[str, Sequence[tuple[date, float, float]]]], label: str,
                  cell: int = 16, row_h: int = 26, label_w: int = 76) -> str:
    """rows: (machine type's name, [(day, capacity, committed) …]); every row the same days.
    Each day is a bar as tall as the day's capacity (the workshop's fullest day is full height):
    its booked part dark from the bottom, the spare light above it; over-committed days red."""
    days = [d for d, _, _ in rows[0][1]] if rows else []
    top = max((c for _, ds in rows for _, c, _ in ds), default=0.0) or 1.0
    width = label_w + len(days) * (cell + 2) + 4
    height = 14 + len(rows) * row_h
    body = []
    for i, d in enumerate(days):  # the day row on top: dates, Sundays marked
        x = label_w + i * (cell + 2) + cell / 2
        colour = OVER if d.weekday() == 6 else "#555"
        body.append(f'<text x="{x:.0f}" y="10" font-size="9" text-anchor="middle" fill="{colour}">{d.day}</text>')
    for r, (name, ds) in enumerate(rows):
        y0 = 14 + r * row_h
        body.append(f'<text x="0" y="{y0 + row_h - 9}" font-size="12" fill="{INK}">{escape(name)}</text>')
        inner = row_h - 4
        for i, (d, capacity, committed) in enumerate(ds):
            x = label_w + i * (cell + 2)
            # Short tooltips: a page holds 25 workshops × their types × 14 days of these.
            tip = f"{d.month}/{d.day} {_num(committed)}/{_num(capacity)}"
            body.append(f'<g><title>{tip}</title>')
            body.append(f'<rect x="{x}" y="{y0}" width="{cell}" height="{inner}" fill="{EMPTY}"/>')
            if capacity > 0 or committed > 0:
                h_cap = inner * min(capacity / top, 1.0)
                if committed > capacity:  # over-committed: the whole bar red
                    body.append(f'<rect x="{x}" y="{y0 + inner - h_cap:.1f}" width="{cell}" height="{h_cap:.1f}" '
                                f'fill="{OVER}" data-over="1"/>')
                else:
                    h_booked = inner * committed / top
                    body.append(f'<rect x="{x}" y="{y0 + inner - h_cap:.1f}" width="{cell}" '
                                f'height="{h_cap - h_booked:.1f}" fill="{SPARE}"/>')
                    if h_booked > 0:
                        body.append(f'<rect x="{x}" y="{y0 + inner - h_booked:.1f}" width="{cell}" '
                                    f'height="{h_booked:.1f}" fill="{BOOKED}" data-booked="1"/>')
            body.append("</g>")
    return _svg(width, height, label, body, "loading")


# ----------------------------------------------------------------------------- plan timeline
def timeline(assignments: Sequence[dict], label: str, cell_w: int = 44, row_h: int = 30, label_w: int = 170) -> str:
    """A plan's pieces per workshop (rows) and day (columns), from `plan_view`'s assignments:
    each cell shows the day's pieces, shaded by the share of that day's capacity it uses."""
    days = sorted({s["day"] for a in assignments for s in a["schedule"] if s["pieces"] > 0})
    if not days:
        return _svg(200, 30, label, ['<text x="0" y="20" font-size="13">—</text>'], "timeline")
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    span = [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
    width = label_w + len(span) * cell_w + 70
    height = 34 + len(assignments) * row_h + 24
    body = []
    for i, d in enumerate(span):
        x = label_w + i * cell_w + cell_w / 2
        colour = OVER if d.weekday() == 6 else "#555"
        body.append(f'<text x="{x:.0f}" y="13" font-size="11" text-anchor="middle" fill="{colour}">{d.month}/{d.day}</text>'
                    f'<text x="{x:.0f}" y="27" font-size="11" text-anchor="middle" fill="{colour}">'
                    f'{WEEKDAYS_KO[d.weekday()]}</text>')
    totals = {d: 0 for d in span}
    for r, a in enumerate(assignments):
        y = 34 + r * row_h
        name = a.get("name_ko") or a["workshop"]
        body.append(f'<text x="0" y="{y + row_h - 10}" font-size="13" fill="{INK}">{escape(name[:14])}</text>')
        by_day = {s["day"]: s for s in a["schedule"]}
        for i, d in enumerate(span):
            s = by_day.get(d.isoformat())
            x = label_w + i * cell_w
            if not s or s["pieces"] <= 0:
                body.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{row_h - 2}" fill="{EMPTY}"/>')
                continue
            totals[d] += s["pieces"]
            share = min(s["pieces"] / s["capacity"], 1.0) if s.get("capacity") else 1.0
            alpha = 0.25 + 0.75 * share
            text_fill = "#fff" if alpha > 0.6 else INK
            body.append(f'<g data-workshop="{_attr(a["workshop"])}" data-day="{d.isoformat()}"><title>'
                        f'{escape(name)} {d.isoformat()}: {_num(s["pieces"])}벌 pieces / 능력 capacity '
                        f'{_num(s.get("capacity") or 0)}</title>'
                        f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{row_h - 2}" fill="{BOOKED}" '
                        f'fill-opacity="{alpha:.2f}"/>'
                        f'<text x="{x + cell_w / 2:.0f}" y="{y + row_h - 10}" font-size="11" text-anchor="middle" '
                        f'fill="{text_fill}">{_num(s["pieces"])}</text></g>')
        body.append(f'<text x="{label_w + len(span) * cell_w + 6}" y="{y + row_h - 10}" font-size="12" '
                    f'font-weight="700">{_num(a["pieces"])}</text>')
    y = 34 + len(assignments) * row_h
    body.append(f'<text x="0" y="{y + 16}" font-size="12" fill="#555">합계 total</text>')
    for i, d in enumerate(span):
        if totals[d]:
            body.append(f'<text x="{label_w + i * cell_w + cell_w / 2:.0f}" y="{y + 16}" font-size="10" '
                        f'text-anchor="middle" fill="#555">{_num(totals[d])}</text>')
    return _svg(width, height, label, body, "timeline")


# ----------------------------------------------------------------------------- progress
def progress_chart(planned: Sequence[tuple[date, int]], done: Sequence[tuple[date, int]], label: str,
                   today: date | None = None, width: int = 360, height: int = 150,
                   due_now: int | None = None, behind: bool = False) -> str:
    """Cumulative pieces planned (grey, dashed) and done (green) by day; `today` a thin line;
    `due_now`: the pieces planned by now, a dot on today's line (red when `behind`), so the gap
    between it and the done line's end is the shortfall."""
    days = sorted({d for d, _ in planned} | {d for d, _ in done} | ({today} if today else set()))
    if not days:
        return _svg(width, 30, label, ['<text x="0" y="20" font-size="13">—</text>'], "progress")
    left, bottom, top_pad = 52, 22, 8
    first, last = days[0].toordinal(), max(days[-1].toordinal(), days[0].toordinal() + 1)
    peak = max([n for _, n in planned] + [n for _, n in done] + [due_now or 0, 1])

    def xy(d: date, n: int) -> str:
        x = left + (d.toordinal() - first) / (last - first) * (width - left - 8)
        y = top_pad + (1 - n / peak) * (height - bottom - top_pad)
        return f"{x:.1f},{y:.1f}"

    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 8}" y2="{height - bottom}" stroke="#999"/>',
            f'<text x="{left - 4}" y="{top_pad + 10}" font-size="10" text-anchor="end">{_num(peak)}</text>',
            f'<text x="{left - 4}" y="{height - bottom}" font-size="10" text-anchor="end">0</text>',
            f'<text x="{left}" y="{height - 6}" font-size="10">{days[0].month}/{days[0].day}</text>',
            f'<text x="{width - 8}" y="{height - 6}" font-size="10" text-anchor="end">'
            f'{days[-1].month}/{days[-1].day}</text>']
    if today and first <= today.toordinal() <= last:
        x = xy(today, 0).split(",")[0]
        body.append(f'<line x1="{x}" y1="{top_pad}" x2="{x}" y2="{height - bottom}" stroke="{OVER}" '
                    f'stroke-width="1" stroke-dasharray="2 3"/>')
    if planned:
        pts = " ".join(xy(d, n) for d, n in planned)
        body.append(f'<polyline class="planned" points="{pts}" fill="none" stroke="{PLANNED}" stroke-width="2" '
                    f'stroke-dasharray="6 4"><title>계획 planned</title></polyline>')
    if done:
        pts = " ".join(xy(d, n) for d, n in done)
        body.append(f'<polyline class="done" points="{pts}" fill="none" stroke="{DONE}" stroke-width="3">'
                    f'<title>완료 done: {_num(done[-1][1])}</title></polyline>')
    if due_now is not None and today is not None and first <= today.toordinal() <= last:
        x, y = xy(today, due_now).split(",")
        words = "늦어짐 behind: " if behind else ""
        body.append(f'<circle class="due-now{" behind" if behind else ""}" cx="{x}" cy="{y}" r="5" '
                    f'fill="{OVER if behind else PLANNED}"><title>{words}지금까지 계획 planned by now: '
                    f'{_num(due_now)}</title></circle>')
    return _svg(width, height, label, body, "progress")


# ----------------------------------------------------------------------------- bars
def day_bars(values: Sequence[tuple[date, float]], label: str, unit: str = "", width: int = 560,
             height: int = 140) -> str:
    """One bar per day, the day's figure on hover and above the tallest."""
    if not values:
        return _svg(width, 30, label, ['<text x="0" y="20" font-size="13">—</text>'], "bars")
    peak = max(v for _, v in values) or 1.0
    bar_w = (width - 10) / len(values)
    body = []
    for i, (d, v) in enumerate(values):
        h = (height - 34) * v / peak
        x = 5 + i * bar_w
        body.append(f'<g><title>{d.isoformat()}: {_num(v)} {escape(unit)}</title>'
                    f'<rect x="{x + 2:.1f}" y="{height - 20 - h:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
                    f'fill="{BOOKED}"/></g>'
                    f'<text x="{x + bar_w / 2:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
                    f'{d.day}</text>')
        if v == peak and v > 0:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 24 - h:.1f}" font-size="10" '
                        f'text-anchor="middle">{_num(v)}</text>')
    return _svg(width, height, label, body, "bars")
