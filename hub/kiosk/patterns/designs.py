"""The base designs and their drafting rules: a knit T-shirt and a woven shirt, in mm.

Ease (finished garment minus body) per design and area, and why:

| area | T-shirt (knit) | shirt (woven) | |
|---|---|---|---|
| chest | +80 | +120 | a regular fit: a knit stretches, a woven needs room to move the arms |
| waist | +100 | +140 | a little more than the chest, so the body falls straight rather than clinging |
| hip | +80 | +100 | the hem must pass the hips without riding up |
| shoulder | +20 | +20 | the shoulder seam sits 1 cm past the shoulder point each side |
| length | +40 | +100 | below the hip line (see LENGTH below); a shirt is long enough to tuck in |
| sleeve | long +20 | long +30 (cuff included) | past the wrist bone; short and three-quarter sleeves are design lengths: 0.3 and 0.75 of the arm, ease 0 |

The sleeve cap is longer than the armhole it is set into by the cap ease: T-shirt 5 mm (allowed
0 to 12: knit is set in flat, almost no easing), shirt 15 mm (allowed 8 to 25: a woven cap is eased
in a little so it rounds over the shoulder).

The body lengths (HPS to hip line and waist) come from height: see hub.kiosk.patterns.figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.kiosk.patterns.checks import measure
from hub.kiosk.patterns.figures import HPS_TO_HIP, HPS_TO_WAIST, SLEEVE_FRACTION, body_figures
from hub.kiosk.patterns.geometry import Pt, bbox, cubic, join, length, mirror_x, solve, split_at_y
from hub.kiosk.patterns.model import BodyLike, Edge, Pattern, PatternError, Piece, Seam


#: What drafting can make sense of (a wider net than the kiosk's plausible ranges, which
#: hub.kiosk.measurements checks first): outside it the proportions the rules assume break down.
LIMITS = {"height": (1200, 2300), "chest": (600, 1800), "waist": (500, 1800), "hip": (650, 1800),
          "shoulder": (280, 560), "arm": (400, 800), "neck": (250, 550)}


@dataclass(frozen=True)
class Design:
    name: str
    words: dict[str, str]
    fabric_kind: str
    options: dict[str, tuple[str, ...]]
    ease: dict[str, float]
    sleeve_ease_long: float
    cap_ease: tuple[float, float, float]  # (min, target, max)
    cap_height: float                     # cap height as a fraction of the armhole
    armhole_extra: float                  # armhole depth beyond chest/8 + 1.2 x half shoulder - 150 mm
    seam: float                           # seam allowance, mm
    hem: float                            # hem allowance, mm


DESIGNS: dict[str, Design] = {
    "tshirt": Design(
        name="tshirt", words={"ko": "반팔 티셔츠 (니트)", "en": "T-shirt (knit)", "zh": "T恤（针织）"},
        fabric_kind="knit",
        options={"sleeve": ("short", "three_quarter", "long"), "neckline": ("crew", "v"), "pocket": ("none", "chest")},
        ease={"chest": 80, "waist": 100, "hip": 80, "shoulder": 20, "length": 40},
        sleeve_ease_long=20, cap_ease=(0, 5, 12), cap_height=0.20, armhole_extra=10, seam=10, hem=25),
    "shirt": Design(
        name="shirt", words={"ko": "셔츠 (우븐)", "en": "shirt (woven)", "zh": "衬衫（梭织）"},
        fabric_kind="woven",
        options={"sleeve": ("short", "three_quarter", "long"), "collar": ("classic", "band"), "pocket": ("none", "chest")},
        ease={"chest": 120, "waist": 140, "hip": 100, "shoulder": 20, "length": 100},
        sleeve_ease_long=30, cap_ease=(8, 15, 25), cap_height=0.26, armhole_extra=20, seam=10, hem=15),
}

WORDS = {
    "front": {"ko": "앞판", "en": "front", "zh": "前片"},
    "back": {"ko": "뒤판", "en": "back", "zh": "后片"},
    "sleeve": {"ko": "소매", "en": "sleeve", "zh": "袖子"},
    "neckband": {"ko": "넥밴드", "en": "neckband", "zh": "领口罗纹"},
    "pocket": {"ko": "주머니", "en": "pocket", "zh": "口袋"},
    "yoke": {"ko": "요크", "en": "yoke", "zh": "过肩"},
    "collar": {"ko": "칼라", "en": "collar", "zh": "领面"},
    "collar_stand": {"ko": "칼라 스탠드", "en": "collar stand", "zh": "领座"},
    "band": {"ko": "차이나 칼라", "en": "band collar", "zh": "立领"},
    "cuff": {"ko": "커프스", "en": "cuff", "zh": "袖克夫"},
}


def options_for(design: str, options: dict[str, str] | None) -> dict[str, str]:
    """The options with defaults filled in; unknown designs, options or choices refused in words."""
    if design not in DESIGNS:
        raise PatternError(f"no design {design!r}; there are {', '.join(DESIGNS)}")
    d = DESIGNS[design]
    chosen = {k: v[0] for k, v in d.options.items()}
    if d.name == "shirt":
        chosen["sleeve"] = "long"
    for k, v in (options or {}).items():
        if k not in d.options:
            raise PatternError(f"the {design} has no option {k!r}; it has {', '.join(d.options)}")
        if v not in d.options[k]:
            raise PatternError(f"{k} can be {', '.join(d.options[k])}, not {v!r}")
        chosen[k] = v
    return chosen


def size_label(body: BodyLike) -> str:
    """Korean label style (KS K 0050/0051): chest-waist-height in cm, marked made to measure."""
    return f"MTM {body.chest / 10:.0f}-{body.waist / 10:.0f}-{body.height / 10:.0f}"


def _check_limits(body: BodyLike) -> None:
    for name, (lo, hi) in LIMITS.items():
        v = getattr(body, name)
        if not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise PatternError(f"{name} {v} mm is outside what the pattern can be drafted for ({lo}-{hi} mm)")


def _half_cap(w: float, h: float) -> list[Pt]:
    """Half a sleeve cap, from the underarm (w, 0) to the top (0, h): hollow low, round on top."""
    m = (0.45 * w, 0.6 * h)
    return join(cubic((w, 0), (0.75 * w, 0.02 * h), (0.6 * w, 0.3 * h), m),
                cubic(m, (0.3 * w, 0.9 * h), (0.12 * w, h), (0, h)))


@dataclass
class _Frame:
    """The body block both body pieces are cut from (half, centre at x = 0, hem at y = 0)."""

    L: float    # hem to HPS
    nw: float   # half neck width (HPS x)
    sp: Pt      # shoulder point
    u: Pt       # underarm point
    y_waist: float
    y_hip: float
    side: list[Pt]     # hem to underarm
    armhole: list[Pt]  # underarm to shoulder point
    shoulder: list[Pt]  # shoulder point to HPS
    xa: float           # the armhole's deepest point


def _frame(d: Design, body: BodyLike, neck_width: float) -> _Frame:
    e = d.ease
    cw, ww, hw = (body.chest + e["chest"]) / 4, (body.waist + e["waist"]) / 4, (body.hip + e["hip"]) / 4
    L = HPS_TO_HIP * body.height + e["length"]
    spx = (body.shoulder + e["shoulder"]) / 2
    nw = neck_width
    # The shoulder drops a fifth of the half shoulder width (about 20 degrees over the shoulder seam):
    # from the shoulder alone, so a larger neck never makes a shallower yoke or armhole.
    drop = 0.2 * spx
    # HPS level to the underarm: from the chest, and from the shoulder as the measure of the frame.
    # The shoulder term also keeps the armhole (so the sleeve) from shrinking when the shoulder
    # widens: the armhole loses width there and gains the same length back in depth.
    depth = body.chest / 8 + 1.2 * spx - 150 + d.armhole_extra
    yu = L - depth
    # The waist and hip lines stay at least 30 mm apart (a short torso on a long measure).
    yw = min(L - HPS_TO_WAIST * body.height, yu - 30)
    yh = min(e["length"], yw - 30)
    if yh < 0:
        raise PatternError("the body is too short for its girth to draft this design")
    side = join([(hw, 0.0), (hw, yh), (ww, yw), (cw, yu)])
    xa = min(spx - 10, cw - 30)  # the armhole's deepest point: inside both, and a curve not too tight to sew
    armhole = cubic((cw, yu), (xa + 0.5 * (cw - xa), yu), (xa, yu + 0.35 * (L - drop - yu)), (spx, L - drop))
    return _Frame(L, nw, (spx, L - drop), (cw, yu), yw, yh, side, armhole, [(spx, L - drop), (nw, L)], xa)


def _sleeve(d: Design, body: BodyLike, options: dict[str, str], armhole: float, cuff: float,
            hem_width: float | None) -> tuple[list[Edge], float, float, float]:
    # Returns edges, half width, cap height, underarm length.
    """Sleeve edges (centred on x = 0, underarm line at y = 0, front half at x > 0).

    The cap height is a fixed share of the armhole; its width is solved so the cap is the armhole
    plus the design's cap ease. Returns edges, half width, cap height, underarm length.
    """
    # A fixed share of the armhole up to 500 mm, a third of that share beyond: a large body's deep
    # armhole would otherwise leave a short sleeve no underarm seam (its cap gets wider instead).
    h = d.cap_height * (min(armhole, 500) + max(0.0, armhole - 500) / 3)
    target = armhole + d.cap_ease[1]
    w = solve(lambda w: 2 * length(_half_cap(w, h)) - target, 20, armhole)
    sleeve = options["sleeve"]
    finished = SLEEVE_FRACTION[sleeve] * body.arm + (d.sleeve_ease_long if sleeve == "long" else 0)
    # A sleeve keeps at least 60 mm of underarm seam: on a large body with short arms a short sleeve
    # comes out longer than 0.3 of the arm (the pattern's sleeve ease says by how much).
    under = max(finished - cuff - h, 60.0)
    if under < 40:
        raise PatternError(f"a {sleeve} sleeve for an arm of {body.arm:.0f} mm leaves no underarm seam")
    if hem_width is None:
        hem_width = {"short": 1.84, "three_quarter": 1.5, "long": 1.1}[sleeve] * w
    hx = min(hem_width / 2, w)
    cap = _half_cap(w, h)
    hem_allow = d.seam if cuff else d.hem
    edges = [Edge("hem", ((-hx, -under), (hx, -under)), hem_allow),
             Edge("underarm_front", ((hx, -under), (w, 0.0)), d.seam),
             Edge("cap_front", tuple(cap), d.seam),
             Edge("cap_back", tuple(reversed(mirror_x(cap))), d.seam),
             Edge("underarm_back", ((-w, 0.0), (-hx, -under)), d.seam)]
    return edges, w, h, under


def _rect(name_edges: tuple[str, str, str, str], w: float, h: float, allow: tuple[float, float, float, float],
          x0: float = 0.0) -> list[Edge]:
    """A rectangle x0..x0+w, 0..h: bottom, right, top, left edges."""
    b, r, t, lft = name_edges
    return [Edge(b, ((x0, 0.0), (x0 + w, 0.0)), allow[0]), Edge(r, ((x0 + w, 0.0), (x0 + w, h)), allow[1]),
            Edge(t, ((x0 + w, h), (x0, h)), allow[2]), Edge(lft, ((x0, h), (x0, 0.0)), allow[3])]


def _pocket_size(f: _Frame, body: BodyLike) -> tuple[float, float]:
    """A chest pocket about a ninth of the chest wide, narrowed to fit between centre front and armhole."""
    w = min(0.11 * body.chest, 0.55 * f.xa)
    return w, 1.18 * w


def _pocket(d: Design, f: _Frame, body: BodyLike, label: str) -> Piece:
    (w, h), top = _pocket_size(f, body), 30.0
    p = Piece("pocket", WORDS["pocket"], _rect(("bottom", "side_r", "top", "side_l"), w, h, (d.seam, d.seam, top, d.seam)),
              quantity=1, on_fold=False, grainline=((w / 2, 0.2 * h), (w / 2, 0.8 * h)), size_label=label)
    p.fold_lines.append(((0.0, h - 15), (w, h - 15)))  # the top hem folds in twice
    return p


def _pocket_place(front: Piece, f: _Frame, body: BodyLike) -> None:
    w, h = _pocket_size(f, body)
    cx, top = min(0.5 * f.u[0] + 10, f.xa - 15 - w / 2), f.u[1] + 50
    front.internal.append(("pocket (left front)", ((cx - w / 2, top), (cx - w / 2, top - h), (cx + w / 2, top - h),
                                                   (cx + w / 2, top))))


def _body_notches(p: Piece, f: _Frame, front: bool, armhole_edge: str = "armhole") -> None:
    # Along the side seam, at the waist line; on the armhole one notch front, two back (trade habit).
    at_waist = next(i for i, pt in enumerate(f.side) if pt[1] == f.y_waist)
    p.notch("side", length(f.side[: at_waist + 1]), "waist")
    a = p.edge(armhole_edge).length
    if front:
        p.notch(armhole_edge, 0.4 * a, "front")
    else:
        p.notch(armhole_edge, 0.4 * a, "back")
        p.notch(armhole_edge, 0.4 * a + 6, "back")


def _sleeve_notches(s: Piece, pat_front: float, pat_back: float, cap_ease: float) -> None:
    share = 1 + cap_ease / (pat_front + pat_back)
    s.notch("cap_front", 0.4 * pat_front * share, "front")
    s.notch("cap_back", 0.4 * pat_back * share, "back", from_end=True)
    s.notch("cap_back", (0.4 * pat_back + 6) * share, "back", from_end=True)
    s.notch("cap_front", s.edge("cap_front").length, "shoulder")


def draft_tshirt(body: BodyLike, options: dict[str, str]) -> Pattern:
    d = DESIGNS["tshirt"]
    label = size_label(body)
    f = _frame(d, body, neck_width=body.neck / 6 + 12)  # wide enough to pull over the head
    L, nw = f.L, f.nw
    back_depth = 20.0
    front_depth = nw + 15 if options["neckline"] == "crew" else nw + 0.4 * (L - f.u[1])
    back_neck = cubic((nw, L), (nw * 0.95, L - back_depth * 0.5), (nw * 0.5, L - back_depth), (0, L - back_depth))
    if options["neckline"] == "crew":
        front_neck = cubic((nw, L), (nw, L - front_depth * 0.45), (nw * 0.55, L - front_depth), (0, L - front_depth))
    else:
        front_neck = [(nw, L), (0.0, L - front_depth)]
    sa, neck_sa = d.seam, 8.0

    def body_piece(name: str, neck: list[Pt]) -> Piece:
        edges = [Edge("hem", ((0.0, 0.0), f.side[0]), d.hem), Edge("side", tuple(f.side), sa),
                 Edge("armhole", tuple(f.armhole), sa), Edge("shoulder", tuple(f.shoulder), sa),
                 Edge("neck", tuple(neck), neck_sa), Edge("fold", (neck[-1], (0.0, 0.0)), 0.0)]
        p = Piece(name, WORDS[name], edges, quantity=1, on_fold=True, size_label=label,
                  grainline=((0.45 * f.u[0], 0.15 * L), (0.45 * f.u[0], 0.75 * L)))
        _body_notches(p, f, front=name == "front")
        return p

    front, back = body_piece("front", front_neck), body_piece("back", back_neck)
    neckline = 2 * (length(front_neck) + length(back_neck))
    ratio = 0.85 if options["neckline"] == "crew" else 0.92  # rib stretched onto the neckline
    band_len, band_w = ratio * neckline, 2 * 18.0
    band = Piece("neckband", WORDS["neckband"],
                 _rect(("neck_edge", "end_r", "top", "end_l"), band_len, band_w, (neck_sa, neck_sa, neck_sa, neck_sa)),
                 quantity=1, on_fold=False, size_label=label,
                 grainline=((0.5 * band_len, 0.2 * band_w), (0.5 * band_len, 0.8 * band_w)))
    band.fold_lines.append(((0.0, band_w / 2), (band_len, band_w / 2)))
    for frac, mark in ((0.0, "centre back"), (length(back_neck) / (neckline / 2), "shoulder"), (0.5, "centre front"),
                       (1 - length(back_neck) / (neckline / 2), "shoulder")):
        if frac:
            band.notch("neck_edge", frac * band_len, mark)
    if options["neckline"] == "v":
        band.internal.append(("mitre at the V: centre of the band", ((band_len / 2, 0.0), (band_len / 2, band_w))))
    arm_f, arm_b = front.edge("armhole").length, back.edge("armhole").length
    s_edges, w, h, under = _sleeve(d, body, options, arm_f + arm_b, cuff=0.0, hem_width=None)
    sleeve = Piece("sleeve", WORDS["sleeve"], s_edges, quantity=2, on_fold=False, size_label=label,
                   grainline=((0.0, -0.8 * under), (0.0, 0.5 * h)))
    _sleeve_notches(sleeve, arm_f, arm_b, d.cap_ease[1])
    pieces = [front, back, sleeve, band]
    if options["pocket"] == "chest":
        pieces.append(_pocket(d, f, body, label))
        _pocket_place(front, f, body)
    seams = [Seam("side seams", (("front", "side"),), (("back", "side"),)),
             Seam("shoulder seams", (("front", "shoulder"),), (("back", "shoulder"),)),
             Seam("sleeve underarm", (("sleeve", "underarm_front"),), (("sleeve", "underarm_back"),)),
             Seam("neckband on the neckline", (("neckband", "neck_edge"),), (("front", "neck"), ("back", "neck")),
                  ratio=2 * ratio)]
    return _finish(d, body, options, pieces, seams, f, label, armhole=(("front", "armhole"), ("back", "armhole")))


def draft_shirt(body: BodyLike, options: dict[str, str]) -> Pattern:
    d = DESIGNS["shirt"]
    label = size_label(body)
    f = _frame(d, body, neck_width=body.neck / 6 + 4)
    L, nw, sa = f.L, f.nw, d.seam
    ext, facing = 18.0, 40.0   # button extension past centre front; facing folded back inside
    back_depth, front_depth = 18.0, nw + 10
    back_neck = cubic((nw, L), (nw * 0.95, L - back_depth * 0.5), (nw * 0.5, L - back_depth), (0, L - back_depth))
    front_neck = cubic((nw, L), (nw, L - front_depth * 0.45), (nw * 0.55, L - front_depth), (0, L - front_depth))
    yf = L - front_depth
    left = -(ext + facing)
    front = Piece("front", WORDS["front"], [
        Edge("hem", ((left, 0.0), f.side[0]), d.hem), Edge("side", tuple(f.side), 15.0),
        Edge("armhole", tuple(f.armhole), sa), Edge("shoulder", tuple(f.shoulder), sa),
        Edge("neck", tuple(front_neck), 8.0), Edge("neck_extension", ((0.0, yf), (-ext, yf)), 8.0),
        Edge("facing_top", ((-ext, yf), (left, yf)), 8.0), Edge("facing_edge", ((left, yf), (left, 0.0)), 6.0)],
        quantity=2, on_fold=False, size_label=label,
        grainline=((0.45 * f.u[0], 0.15 * L), (0.45 * f.u[0], 0.75 * L)))
    front.fold_lines.append(((-ext, yf), (-ext, 0.0)))
    front.internal.append(("centre front", ((0.0, 0.0), (0.0, yf))))
    n_holes = max(4, int((yf - 60 - 0.1 * L) // 95) + 1)
    step = (yf - 15 - 0.12 * L) / (n_holes - 1)
    for i in range(n_holes):
        y = yf - 15 - i * step
        front.internal.append(("buttonhole (right front) / button (left front)", ((-ext + 3, y), (-ext + 3 + 14, y))))
    _body_notches(front, f, front=True)
    # The yoke: the back above a line 0.05 x height + 20 mm below HPS (always below the shoulder
    # point, whose drop is at most 58 mm), carrying the back neck; from height alone, so a wider
    # shoulder never shortens the back.
    yy = L - (0.05 * body.height + 20)
    arm_low, arm_up = split_at_y(f.armhole, yy)
    xy = arm_low[-1][0]
    yoke = Piece("yoke", WORDS["yoke"], [
        Edge("yoke_seam", ((0.0, yy), (xy, yy)), sa), Edge("armhole", tuple(arm_up), sa),
        Edge("shoulder", tuple(f.shoulder), sa), Edge("neck", tuple(back_neck), 8.0),
        Edge("fold", ((0.0, L - back_depth), (0.0, yy)), 0.0)],
        quantity=2, on_fold=True, size_label=label, grainline=((0.4 * xy, yy + 8), (0.4 * xy, L - back_depth - 8)))
    back = Piece("back", WORDS["back"], [
        Edge("hem", ((0.0, 0.0), f.side[0]), d.hem), Edge("side", tuple(f.side), 15.0),
        Edge("armhole", tuple(arm_low), sa), Edge("yoke_seam", ((xy, yy), (0.0, yy)), sa),
        Edge("fold", ((0.0, yy), (0.0, 0.0)), 0.0)],
        quantity=1, on_fold=True, size_label=label, grainline=((0.45 * f.u[0], 0.15 * L), (0.45 * f.u[0], 0.7 * L)))
    _body_notches(back, f, front=False)
    yoke.notch("yoke_seam", 0.5 * xy, "yoke")
    back.notch("yoke_seam", 0.5 * xy, "yoke", from_end=True)
    # Collar stand (or the band of a mandarin collar): from centre back to the front edge.
    half_neck = length(back_neck) + length(front_neck) + ext
    band = options["collar"] == "band"
    stand_h, rise = (35.0, 14.0) if band else (30.0, 12.0)

    def stand_curve(sx: float) -> list[Pt]:
        return cubic((0.0, 0.0), (0.5 * sx, 0.0), (0.8 * sx, 0.3 * rise), (sx, rise))

    sx = solve(lambda x: length(stand_curve(x)) - half_neck, 0.5 * half_neck, half_neck)
    neck_edge = stand_curve(sx)
    top = [(x, y + stand_h) for x, y in reversed(neck_edge)]
    stand_name = "band" if band else "collar_stand"
    stand = Piece(stand_name, WORDS[stand_name], [
        Edge("neck_edge", tuple(neck_edge), 8.0), Edge("front_end", ((sx, rise), (sx, rise + stand_h)), 8.0),
        Edge("top", tuple(top), 8.0), Edge("fold", ((0.0, stand_h), (0.0, 0.0)), 0.0)],
        quantity=2, on_fold=True, size_label=label, grainline=((0.2 * sx, stand_h / 2), (0.7 * sx, stand_h / 2)))
    stand.notch("neck_edge", length(back_neck), "shoulder")
    stand.notch("neck_edge", half_neck - ext, "centre front")
    pieces = [front, back, yoke]
    seams = [Seam("side seams", (("front", "side"),), (("back", "side"),)),
             Seam("shoulder seams", (("front", "shoulder"),), (("yoke", "shoulder"),)),
             Seam("yoke seam", (("yoke", "yoke_seam"),), (("back", "yoke_seam"),)),
             Seam("sleeve underarm", (("sleeve", "underarm_front"),), (("sleeve", "underarm_back"),)),
             Seam(f"{stand_name} on the neckline", ((stand_name, "neck_edge"),), (("front", "neck"), ("yoke", "neck")),
                  take=ext)]
    arm_f, arm_b = front.edge("armhole").length, yoke.edge("armhole").length + back.edge("armhole").length
    cuff_len, cuff_w, pleat = 0.13 * body.chest + 120, 60.0, 30.0
    long = options["sleeve"] == "long"
    s_edges, w, h, under = _sleeve(d, body, options, arm_f + arm_b, cuff=cuff_w if long else 0.0,
                                   hem_width=cuff_len + pleat if long else None)
    sleeve = Piece("sleeve", WORDS["sleeve"], s_edges, quantity=2, on_fold=False, size_label=label,
                   grainline=((0.0, -0.8 * under), (0.0, 0.5 * h)))
    _sleeve_notches(sleeve, arm_f, arm_b, d.cap_ease[1])
    pieces.append(sleeve)
    if long:
        hx = s_edges[0].points[1][0]
        slit = -hx / 2
        sleeve.internal.append(("placket slit", ((slit, -under), (slit, -under + 120))))
        sleeve.internal.append(("pleat", ((slit + 20, -under), (slit + 20, -under + 25))))
        sleeve.internal.append(("pleat", ((slit + 20 + pleat, -under), (slit + 20 + pleat, -under + 25))))
        cuff = Piece("cuff", WORDS["cuff"], _rect(("sleeve_edge", "end_r", "top", "end_l"), cuff_len, 2 * cuff_w,
                                                  (sa, sa, sa, sa)),
                     quantity=2, on_fold=False, size_label=label,
                     grainline=((0.2 * cuff_len, cuff_w / 2), (0.8 * cuff_len, cuff_w / 2)))
        cuff.fold_lines.append(((0.0, cuff_w), (cuff_len, cuff_w)))
        cuff.internal.append(("buttonhole", ((12.0, cuff_w / 2), (12.0, cuff_w / 2 + 14))))
        cuff.internal.append(("button", ((cuff_len - 12, cuff_w / 2 - 4), (cuff_len - 12, cuff_w / 2 + 4))))
        pieces.append(cuff)
        seams.append(Seam("cuff on the sleeve", (("sleeve", "hem"),), (("cuff", "sleeve_edge"),), take=pleat))
    if not band:
        stand_top = stand.edge("top").length
        c_len = stand_top - ext
        collar = Piece("collar", WORDS["collar"], [
            Edge("neck_edge", ((0.0, 0.0), (c_len, 0.0)), 8.0), Edge("front_edge", ((c_len, 0.0), (c_len + 25, 65.0)), 8.0),
            Edge("outer", ((c_len + 25, 65.0), (0.0, 45.0)), 8.0), Edge("fold", ((0.0, 45.0), (0.0, 0.0)), 0.0)],
            quantity=2, on_fold=True, size_label=label, grainline=((0.2 * c_len, 22.0), (0.7 * c_len, 22.0)))
        pieces.append(collar)
        seams.append(Seam("collar on the stand", (("collar_stand", "top"),), (("collar", "neck_edge"),), take=ext))
    pieces.append(stand)
    if options["pocket"] == "chest":
        pieces.append(_pocket(d, f, body, label))
        _pocket_place(front, f, body)
    return _finish(d, body, options, pieces, seams, f, label,
                   armhole=(("front", "armhole"), ("yoke", "armhole"), ("back", "armhole")),
                   cuff=cuff_w if long else 0.0)


def _finish(d: Design, body: BodyLike, options: dict[str, str], pieces: list[Piece], seams: list[Seam], f: _Frame,
            label: str, armhole: tuple[tuple[str, str], ...], cuff: float = 0.0) -> Pattern:
    ease = dict(d.ease)
    ease["sleeve"] = d.sleeve_ease_long if options["sleeve"] == "long" else 0.0
    sleeve = pieces[[p.name for p in pieces].index("sleeve")]
    _, y0, _, y1 = bbox(sleeve.sew)
    # Only where the 60 mm underarm minimum lengthened a sleeve does its ease differ from the design's.
    ease["sleeve"] = max(ease["sleeve"], round(y1 - y0 + cuff - body_figures(body, options)["sleeve"], 3))
    pattern = Pattern(design=d.name, options=dict(options), fabric_kind=d.fabric_kind, pieces=pieces, finished={},
                      ease=ease, body=body_figures(body, options), size_label=label, seams=seams,
                      levels={"chest": f.u[1], "waist": f.y_waist, "hip": f.y_hip},
                      cap_ease=(d.cap_ease[0], d.cap_ease[2]), armhole=armhole,
                      cuff=cuff)
    pattern.finished = measure(pattern)
    return pattern


def draft(design: str, body: BodyLike, options: dict[str, str] | None = None) -> Pattern:
    """Draft a base design for one body; options as in DESIGNS[design].options (defaults filled)."""
    chosen = options_for(design, options)
    _check_limits(body)
    try:
        return {"tshirt": draft_tshirt, "shirt": draft_shirt}[design](body, chosen)
    except ValueError as e:
        if isinstance(e, PatternError):
            raise
        raise PatternError(f"the {design} cannot be drafted for these measurements: {e}") from e
