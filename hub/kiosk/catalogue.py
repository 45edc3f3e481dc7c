"""What the kiosk sells: its base designs (each a designer's, from the registry), the options a
shopper understands, the fabric on hand, prices, and the standard minutes the planner books.
Pure data; words in Korean, English and Chinese."""

from __future__ import annotations

from dataclasses import dataclass

LANGS = ("ko", "en", "zh")


@dataclass(frozen=True)
class Colour:
    key: str
    hex: str
    words: dict  # {"ko","en","zh"}
    fabric: str  # the fabric on hand it is cut from (for the cutting ticket)


@dataclass(frozen=True)
class Design:
    key: str
    family: str  # the registry's product family: who can sew it
    words: dict
    blurb: dict
    sam_minutes: dict  # per machine type, per piece
    base_krw: int
    colours: tuple[Colour, ...]
    options: dict  # option -> tuple of choices (first = default)


def _w(ko: str, en: str, zh: str) -> dict:
    return {"ko": ko, "en": en, "zh": zh}


JERSEY = "cotton jersey 180 g/m², 180 cm"
POPLIN = "cotton poplin 120 g/m², 150 cm"

DESIGNS: dict[str, Design] = {
    "tshirt": Design(
        "tshirt", "knit_tops", _w("니트 티셔츠", "Knit T-shirt", "针织T恤"),
        _w("면 저지, 몸에 맞춰 재단", "cotton jersey, cut to your body", "纯棉汗布，按您的身材裁剪"),
        # 8 standard minutes: shoulders, sleeves and sides on the overlock, hems on the coverstitch.
        {"overlock": 5.0, "coverstitch": 2.5, "lockstitch": 0.5}, 39000,
        (Colour("white", "#f4f4f0", _w("흰색", "white", "白色"), JERSEY),
         Colour("black", "#1e1e1e", _w("검정", "black", "黑色"), JERSEY),
         Colour("navy", "#1f2f57", _w("네이비", "navy", "藏青色"), JERSEY),
         Colour("melange", "#9a9a9a", _w("회색", "grey melange", "麻灰色"), JERSEY)),
        {"sleeve": ("short", "three_quarter", "long"), "neckline": ("crew", "v"), "pocket": ("none", "chest")}),
    "shirt": Design(
        "shirt", "woven_shirts", _w("우븐 셔츠", "Woven shirt", "梭织衬衫"),
        _w("면 포플린, 칼라와 커프스", "cotton poplin, collar and cuffs", "纯棉府绸，带领和袖口"),
        # 22 standard minutes, mostly lockstitch; buttonholes and buttons on their own machines.
        {"lockstitch": 16.0, "overlock": 3.0, "buttonhole": 1.5, "button_sew": 1.5}, 69000,
        (Colour("white", "#fbfbf7", _w("흰색", "white", "白色"), POPLIN),
         Colour("sky", "#9cc3e6", _w("하늘색", "sky blue", "天蓝色"), POPLIN),
         Colour("stripe", "#6d8fb8", _w("청색 줄무늬", "blue stripe", "蓝条纹"), POPLIN),
         Colour("khaki", "#8a7d55", _w("카키", "khaki", "卡其色"), POPLIN)),
        {"sleeve": ("short", "three_quarter", "long"), "collar": ("classic", "band"), "pocket": ("none", "chest")}),
}

CHOICE_WORDS: dict[str, dict] = {
    "short": _w("반팔", "short", "短袖"), "three_quarter": _w("7부", "three-quarter", "七分袖"),
    "long": _w("긴팔", "long", "长袖"), "crew": _w("라운드넥", "crew neck", "圆领"), "v": _w("브이넥", "V-neck", "V领"),
    "classic": _w("일반 칼라", "classic collar", "标准领"), "band": _w("차이나 칼라", "band collar", "立领"),
    "none": _w("없음", "none", "无"), "chest": _w("가슴 주머니", "chest pocket", "胸袋"),
}
OPTION_WORDS: dict[str, dict] = {
    "colour": _w("색상", "Colour", "颜色"), "sleeve": _w("소매", "Sleeve", "袖长"),
    "neckline": _w("목둘레", "Neckline", "领口"), "collar": _w("칼라", "Collar", "领子"),
    "pocket": _w("주머니", "Pocket", "口袋"),
}
EXTRA_KRW = {("sleeve", "three_quarter"): 2000, ("sleeve", "long"): 3000, ("pocket", "chest"): 2000}


def price_krw(design: Design, options: dict) -> int:
    return design.base_krw + sum(EXTRA_KRW.get((k, v), 0) for k, v in options.items())


def colour(design: Design, key: str | None) -> Colour:
    return next((c for c in design.colours if c.key == key), design.colours[0])


def clean_options(design: Design, raw: dict) -> dict:
    """The design's options from a form: unknown or missing choices become the default, so a
    tampered form can only ever order something the kiosk sells."""
    out = {k: (raw.get(k) if raw.get(k) in choices else choices[0]) for k, choices in design.options.items()}
    out["colour"] = colour(design, raw.get("colour")).key
    return out
