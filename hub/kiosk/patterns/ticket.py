"""The cutting ticket: which fabric, how long a lay, which pieces and how many.

The lay length is an estimate from a simple lay: every fabric piece (pieces cut on the fold opened
out, pairs as two) in rows across an open single-ply width, grain along the selvedge, boxes not
nested. A marker maker nests tighter, so this errs long, which is the safe side for a cutter
checking there is enough fabric on the roll.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import Polygon

from hub.kiosk.patterns.layout import lay
from hub.kiosk.patterns.model import Pattern

END_ALLOWANCE = 50.0  # mm at each end of the lay, for a straight cut off the roll


@dataclass(frozen=True)
class Fabric:
    name: str
    width_mm: float
    colour: str = ""


DEFAULT_FABRIC = {
    "knit": Fabric("cotton single jersey 180 g/m2, open width", 1800),
    "woven": Fabric("cotton poplin 120 g/m2", 1470),
}


def _fabric(pattern: Pattern, fabric) -> Fabric:
    if fabric is None:
        return DEFAULT_FABRIC[pattern.fabric_kind]
    if isinstance(fabric, Fabric):
        return fabric
    if isinstance(fabric, str):
        return Fabric(fabric, DEFAULT_FABRIC[pattern.fabric_kind].width_mm)
    if isinstance(fabric, dict):
        width = float(fabric.get("width_mm", DEFAULT_FABRIC[pattern.fabric_kind].width_mm))
        if not 500 <= width <= 3200:
            raise ValueError(f"fabric width {width:.0f} mm is not a roll width (500 to 3200 mm)")
        return Fabric(str(fabric.get("name", DEFAULT_FABRIC[pattern.fabric_kind].name)), width,
                      str(fabric.get("colour", "")))
    raise ValueError("fabric is a name, a dict with name/width_mm/colour, or a Fabric")


def cutting_ticket(pattern: Pattern, fabric=None) -> dict:
    f = _fabric(pattern, fabric)
    placed, length = lay(pattern.pieces, f.width_mm)
    used = sum(Polygon(p.outline).area for p in placed)
    lay_length = length + 2 * END_ALLOWANCE
    pieces = [{"piece": p.name, "ko": p.words["ko"], "quantity": p.quantity, "cut": p.quantity_text,
               "cut_ko": p.quantity_words["ko"], "on_fold": p.on_fold,
               "area_cm2": round((2 if p.on_fold else 1) * abs(Polygon(p.cut).area) / 100, 1)}
              for p in pattern.pieces]
    return {
        "design": pattern.design, "options": dict(pattern.options), "size": pattern.size_label,
        "fabric": {"name": f.name, "width_mm": f.width_mm, "colour": f.colour},
        "lay": "open single ply, grain along the selvedge",
        "lay_length_mm": round(lay_length), "lay_length_m": round(lay_length / 1000, 2),
        "efficiency": round(used / (f.width_mm * lay_length), 3),
        "pieces": pieces, "total_pieces": sum(p.quantity for p in pattern.pieces),
        "finished_mm": {k: round(v, 1) for k, v in pattern.finished.items()},
    }


def ticket_text(ticket: dict) -> str:
    lines = [f"재단 지시서 · CUTTING TICKET — SewNet {ticket['design']} {ticket['size']}",
             "옵션 options: " + ", ".join(f"{k}={v}" for k, v in ticket["options"].items()),
             f"원단 fabric: {ticket['fabric']['name']}" + (f" ({ticket['fabric']['colour']})" if ticket['fabric']['colour'] else "")
             + f", 폭 width {ticket['fabric']['width_mm']:.0f} mm",
             f"요척 lay length: {ticket['lay_length_m']:.2f} m ({ticket['lay']}; 효율 efficiency "
             f"{100 * ticket['efficiency']:.0f} %)", "", "부위 piece            수량 count"]
    for p in ticket["pieces"]:
        lines.append(f"  {p['ko']} {p['piece']:<14} {p['cut_ko']} / {p['cut']}")
    lines.append(f"합계 total: {ticket['total_pieces']} pieces")
    lines.append("완성 치수 finished (mm): " + ", ".join(f"{k} {v:.0f}" for k, v in ticket["finished_mm"].items()))
    return "\n".join(lines) + "\n"
