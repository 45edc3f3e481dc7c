"""Personal colour, read from a garment's CIELAB colour: an explanation a shopper can check, never
a verdict about the shopper.

Korean retail sorts colours by undertone (warm: the yellow side; cool: the blue side), depth
(light to deep) and clarity (bright and clear, or soft and muted), and groups them into four
seasons: spring (warm, light or clear), autumn (warm, deep or muted), summer (cool, light or
muted), winter (cool, deep or clear, and the pure extremes black and white). This module reads
those three from the numbers of CIELAB (D65): undertone from the hue angle h = atan2(b*, a*)
(b* alone for near-greys), depth from the lightness L*, clarity from the chroma
C*ab = sqrt(a*² + b*²). A colour of neutral undertone (true red, true green) sits in the two
seasons its depth and clarity point to, one warm and one cool. The thresholds are round numbers chosen so a colour near a boundary
lands on the side most colour guides put it; every reading cites the numbers, so a shopper can
disagree with it.

Also: CIELAB <-> sRGB hex (D65 white, the sRGB transfer curve), for drawing the swatch.
Pure: numbers in, words out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SEASONS: tuple[str, ...] = ("spring", "summer", "autumn", "winter")
WARM_SEASONS = ("spring", "autumn")
COOL_SEASONS = ("summer", "winter")

#: Below this chroma a colour is a near-grey: its undertone comes from b* alone.
NEAR_GREY_CHROMA = 8.0
#: A near-grey with b* at or above this is warm (ivory, cream, camel-grey); at or below minus it, cool.
NEAR_GREY_B = 3.0
#: Hue angles (degrees) of the warm band: orange-red through yellow to yellow-green.
WARM_HUE = (30.0, 115.0)
#: Hue angles that are neither: crimson and wine (15 to 30), true green (115 to 165).
NEUTRAL_HUES = ((15.0, 30.0), (115.0, 165.0))
LIGHT_L, DEEP_L = 70.0, 40.0        # L* at or above: light; below: deep
BRIGHT_CHROMA = 35.0                # C*ab at or above: bright (clear)
PURE_WHITE_L, PURE_BLACK_L = 90.0, 25.0
#: A bright mid colour at or above this L* is clear enough for spring (orange, coral); below it
#: a warm one is autumn's (terracotta, mustard) and a cool one winter's (royal blue, fuchsia).
CLEAR_MID_L = 60.0
#: A soft light warm colour below this L* (beige, sand) sits in autumn as well as spring.
MUTED_LIGHT_L = 80.0

_WHITE = (0.95047, 1.0, 1.08883)   # D65, Y = 1
_RGB_FROM_XYZ = np.array([[3.2404542, -1.5371385, -0.4985314],
                          [-0.9692660, 1.8760108, 0.0415560],
                          [0.0556434, -0.2040259, 1.0572252]])
_XYZ_FROM_RGB = np.array([[0.4124564, 0.3575761, 0.1804375],
                          [0.2126729, 0.7151522, 0.0721750],
                          [0.0193339, 0.1191920, 0.9503041]])
_EPS = (6 / 29) ** 3


@dataclass(frozen=True)
class ColourReading:
    """What a colour is, in personal-colour words, and why (an explanation, never a verdict)."""

    undertone: str            # "warm" | "cool" | "neutral"
    depth: str                # "light" | "medium" | "deep"
    clarity: str              # "bright" | "soft"
    suits: tuple[str, ...]    # the seasons whose palette this colour sits in (several or none)
    why: dict[str, str]       # "ko" / "en" / "zh": a sentence citing L*, C*ab and the hue angle
    lightness: float
    chroma: float
    hue: float                # degrees, 0 to 360


# --- the reading, vectorised (the simulator reads 20,000 colours at once) ----------------------

def _hue_chroma(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(b, a)) % 360.0, np.hypot(a, b)


def undertones(a, b) -> np.ndarray:
    """+1 warm, -1 cool, 0 neutral, per colour."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    hue, chroma = _hue_chroma(a, b)
    warm_hue = (hue >= WARM_HUE[0]) & (hue < WARM_HUE[1])
    neutral_hue = np.zeros(hue.shape, bool)
    for low, high in NEUTRAL_HUES:
        neutral_hue |= (hue >= low) & (hue < high)
    chromatic = np.where(warm_hue, 1, np.where(neutral_hue, 0, -1))
    grey = np.where(b >= NEAR_GREY_B, 1, np.where(b <= -NEAR_GREY_B, -1, 0))
    return np.where(chroma < NEAR_GREY_CHROMA, grey, chromatic)


def season_matrix(l, a, b) -> np.ndarray:
    """(n, 4) booleans: does colour i sit in SEASONS[j]'s palette."""
    l, a, b = (np.atleast_1d(np.asarray(x, float)) for x in (l, a, b))
    _, chroma = _hue_chroma(a, b)
    tone = undertones(a, b)
    light, deep = l >= LIGHT_L, l < DEEP_L
    medium = ~light & ~deep
    bright = chroma >= BRIGHT_CHROMA
    soft = ~bright
    warm, cool, neutral = tone == 1, tone == -1, tone == 0
    grey = chroma < NEAR_GREY_CHROMA
    pure_white = grey & neutral & (l >= PURE_WHITE_L)
    pure_black = grey & neutral & (l < PURE_BLACK_L)
    clear_mid = medium & bright & (l >= CLEAR_MID_L)       # a mid colour light and clear enough for spring
    deep_mid = medium & bright & (l < CLEAR_MID_L)         # a mid colour dark and vivid: winter's
    chromatic_neutral = neutral & ~grey
    spring = (warm & (light | clear_mid)) | (chromatic_neutral & (light | (medium & bright)))
    autumn = ((warm & (deep | (medium & ~clear_mid) | (light & soft & (l < MUTED_LIGHT_L))))
              | (chromatic_neutral & (deep | (medium & soft))))
    summer = ((cool & (light | (medium & ~deep_mid))) | (chromatic_neutral & (light | (medium & soft)))
              | (neutral & grey & ~pure_white & ~pure_black & (l >= DEEP_L)))
    winter = ((cool & (deep | deep_mid)) | (chromatic_neutral & (deep | (medium & bright)))
              | pure_white | pure_black | (neutral & grey & deep))
    return np.stack([spring, summer, autumn, winter], axis=1)


def suits_many(season: str | None, l, a, b) -> np.ndarray:
    """suits() for arrays of colours."""
    n = np.atleast_1d(np.asarray(l)).shape[0]
    if season is None:
        return np.ones(n, bool)
    return season_matrix(l, a, b)[:, _season_index(season)]


def _season_index(season: str) -> int:
    try:
        return SEASONS.index(season)
    except ValueError:
        raise ValueError(f"{season!r} is not a season: use one of {', '.join(SEASONS)}") from None


# --- one colour, with words --------------------------------------------------------------------

_TONE_WORDS = {
    "warm": ("웜톤(노란빛 쪽)", "warm (the yellow side)", "暖色调(偏黄)"),
    "cool": ("쿨톤(푸른빛 쪽)", "cool (the blue side)", "冷色调(偏蓝)"),
    "neutral": ("뉴트럴(어느 쪽도 아님)", "neutral (neither side)", "中性色调"),
}
_DEPTH_WORDS = {"light": ("밝음", "light", "浅"), "medium": ("중간", "medium", "中等"), "deep": ("깊음", "deep", "深")}
_CLARITY_WORDS = {"bright": ("선명함", "bright", "鲜明"), "soft": ("부드러움", "soft", "柔和")}
_SEASON_WORDS = {"spring": ("봄 웜", "spring warm", "春季暖"), "summer": ("여름 쿨", "summer cool", "夏季冷"),
                 "autumn": ("가을 웜", "autumn warm", "秋季暖"), "winter": ("겨울 쿨", "winter cool", "冬季冷")}


def read_colour(l: float, a: float, b: float) -> ColourReading:
    """The personal-colour reading of one CIELAB colour, with the sentence that explains it."""
    hue, chroma = (float(x[0]) for x in _hue_chroma(np.array([a], float), np.array([b], float)))
    tone = {1: "warm", -1: "cool", 0: "neutral"}[int(undertones([a], [b])[0])]
    depth = "light" if l >= LIGHT_L else "deep" if l < DEEP_L else "medium"
    clarity = "bright" if chroma >= BRIGHT_CHROMA else "soft"
    row = season_matrix([l], [a], [b])[0]
    suits = tuple(s for s, yes in zip(SEASONS, row, strict=True) if yes)
    numbers = f"L* {l:.1f}, C*ab {chroma:.1f}, h {hue:.0f}°"
    grey = chroma < NEAR_GREY_CHROMA
    tone_basis = (f"b* {b:.1f}", f"b* {b:.1f}", f"b* {b:.1f}") if grey else (
        f"색상각 {hue:.0f}°", f"hue angle {hue:.0f}°", f"色相角 {hue:.0f}°")
    t, d, c = _TONE_WORDS[tone], _DEPTH_WORDS[depth], _CLARITY_WORDS[clarity]
    seasons = [_SEASON_WORDS[s] for s in suits]
    ko_s = ", ".join(s[0] for s in seasons)
    en_s = ", ".join(s[1] for s in seasons)
    zh_s = "、".join(s[2] for s in seasons)
    why = {
        "ko": (f"{numbers}: {tone_basis[0]}라서 {t[0]}, 명도 L* {l:.1f}라서 {d[0]}, 채도 C* {chroma:.1f}라서 {c[0]}. "
               + (f"{ko_s} 팔레트에 드는 색입니다." if suits else "네 계절 팔레트 어디에도 뚜렷이 들지 않는 색입니다.")),
        "en": (f"{numbers}: {t[1]} from its {tone_basis[1]}, {d[1]} from L* {l:.1f}, {c[1]} from C* {chroma:.1f}. "
               + (f"It sits in the {en_s} palette." if suits else "It sits clearly in none of the four seasons' palettes.")),
        "zh": (f"{numbers}:{tone_basis[2]} → {t[2]},明度 L* {l:.1f} → {d[2]},彩度 C* {chroma:.1f} → {c[2]}。"
               + (f"属于{zh_s}色盘。" if suits else "不明显属于四季任何一个色盘。")),
    }
    return ColourReading(tone, depth, clarity, suits, why, float(l), chroma, hue)


def suits(season: str | None, l: float, a: float, b: float) -> bool:
    """Does the colour sit in `season`'s palette? No season chosen: everything suits."""
    if season is None:
        return True
    return bool(season_matrix([l], [a], [b])[0, _season_index(season)])


# --- CIELAB <-> sRGB ------------------------------------------------------------------------------

def lab_to_rgb(l, a, b) -> np.ndarray:
    """(n, 3) sRGB in 0..1 (out-of-gamut colours clipped) for arrays of CIELAB D65 colours."""
    l, a, b = (np.atleast_1d(np.asarray(x, float)) for x in (l, a, b))
    fy = (l + 16.0) / 116.0
    f = np.stack([fy + a / 500.0, fy, fy - b / 200.0], axis=1)
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * np.array(_WHITE)
    linear = np.clip(xyz @ _RGB_FROM_XYZ.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def lab_to_hex(l: float, a: float, b: float) -> str:
    """The swatch colour: "#rrggbb"."""
    r, g, bl = (int(round(float(v) * 255)) for v in lab_to_rgb(l, a, b)[0])
    return f"#{r:02x}{g:02x}{bl:02x}"


def hex_to_lab(hex_colour: str) -> tuple[float, float, float]:
    """"#rrggbb" (or "rrggbb") as CIELAB D65, to 1 decimal."""
    text = hex_colour.strip().removeprefix("#")
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"{hex_colour!r} is not a colour as #rrggbb")
    rgb = np.array([int(text[i:i + 2], 16) / 255 for i in (0, 2, 4)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (_XYZ_FROM_RGB @ linear) / np.array(_WHITE)
    f = np.where(t > _EPS, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    return tuple(round(float(v), 1) + 0.0 for v in lab)  # + 0.0: no -0.0


def delta_e(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIE76 colour difference (about 2.3 is a just-noticeable difference)."""
    return math.dist(lab1, lab2)
