"""Personal colour from CIELAB (hub/styles/colour.py): sRGB <-> CIELAB against published values,
readings that put familiar colours where colour guides put them, and explanations that cite the
numbers in Korean, English and Chinese."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.styles import colour
from hub.styles.colour import SEASONS, hex_to_lab, lab_to_hex, read_colour, season_matrix, suits, suits_many


@pytest.mark.parametrize("hex_colour,lab", [
    # CIELAB D65 of the sRGB primaries and greys (Lindbloom's calculator, rounded to 0.1)
    ("#ffffff", (100.0, 0.0, 0.0)),
    ("#000000", (0.0, 0.0, 0.0)),
    ("#ff0000", (53.2, 80.1, 67.2)),
    ("#00ff00", (87.7, -86.2, 83.2)),
    ("#0000ff", (32.3, 79.2, -107.9)),
    ("#808080", (53.6, 0.0, 0.0)),
])
def test_hex_to_lab_matches_published_values(hex_colour, lab):
    assert hex_to_lab(hex_colour) == pytest.approx(lab, abs=0.11)
    assert lab_to_hex(*lab) == hex_colour


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_srgb_goes_round_through_lab(r, g, b):
    # CIELAB kept to 0.1 (the catalogue's precision) brings back a swatch no eye tells apart:
    # well under a just-noticeable difference (about 2.3), though a channel at 0 may read 3
    hex_colour = f"#{r:02x}{g:02x}{b:02x}"
    back = lab_to_hex(*hex_to_lab(hex_colour))
    assert colour.delta_e(hex_to_lab(back), hex_to_lab(hex_colour)) < 1.0


def test_a_colour_outside_srgb_is_drawn_clipped():
    assert lab_to_hex(50, 120, -120).startswith("#") and len(lab_to_hex(50, 120, -120)) == 7
    with pytest.raises(ValueError):
        hex_to_lab("#12345")
    with pytest.raises(ValueError):
        hex_to_lab("#gg0000")


@pytest.mark.parametrize("name,hex_colour,undertone,depth,clarity,seasons", [
    ("camel", "#9a6a36", "warm", "medium", "bright", ("autumn",)),
    ("terracotta", "#b5542a", "warm", "medium", "bright", ("autumn",)),
    ("peach", "#f6b98a", "warm", "light", "bright", ("spring",)),
    ("orange", "#ec7a23", "warm", "medium", "bright", ("spring",)),
    ("ivory", "#f0ead8", "warm", "light", "soft", ("spring",)),
    ("beige", "#cdb592", "warm", "light", "soft", ("spring", "autumn")),
    ("khaki", "#6f6a45", "warm", "medium", "soft", ("autumn",)),
    ("navy", "#1f2a4a", "cool", "deep", "soft", ("winter",)),
    ("royal blue", "#3f6fb5", "cool", "medium", "bright", ("winter",)),
    ("fuchsia", "#c2336f", "cool", "medium", "bright", ("winter",)),
    ("powder pink", "#f4c9d0", "cool", "light", "soft", ("summer",)),
    ("lavender", "#c9b6dd", "cool", "light", "soft", ("summer",)),
    ("sky blue", "#b7cfe6", "cool", "light", "soft", ("summer",)),
    ("pure white", "#ffffff", "neutral", "light", "soft", ("winter",)),
    ("black", "#111111", "neutral", "deep", "soft", ("winter",)),
    ("mid grey", "#8f8f8f", "neutral", "medium", "soft", ("summer",)),
    ("true red", "#c8202f", "neutral", "medium", "bright", ("spring", "winter")),
    ("bottle green", "#24452f", "neutral", "deep", "soft", ("autumn", "winter")),
])
def test_familiar_colours_read_as_colour_guides_put_them(name, hex_colour, undertone, depth, clarity, seasons):
    reading = read_colour(*hex_to_lab(hex_colour))
    assert (reading.undertone, reading.depth, reading.clarity, reading.suits) == (undertone, depth, clarity, seasons), name
    for season in SEASONS:
        assert suits(season, *hex_to_lab(hex_colour)) == (season in seasons)


def test_warm_seasons_hold_warm_colours_and_cool_seasons_cool_ones():
    rng = np.random.default_rng(3)
    lab = np.column_stack([rng.uniform(5, 98, 4000), rng.uniform(-80, 80, 4000), rng.uniform(-80, 80, 4000)])
    fits = season_matrix(lab[:, 0], lab[:, 1], lab[:, 2])
    tone = colour.undertones(lab[:, 1], lab[:, 2])
    assert not (fits[:, SEASONS.index("spring")] & (tone == -1)).any()
    assert not (fits[:, SEASONS.index("autumn")] & (tone == -1)).any()
    assert not (fits[:, SEASONS.index("summer")] & (tone == 1)).any()
    assert not (fits[:, SEASONS.index("winter")] & (tone == 1)).any()
    # every season has a good share of colours: a filter that leaves something to choose
    assert (fits.mean(axis=0) > 0.1).all()


def test_the_vectorised_reading_is_the_single_one():
    rng = np.random.default_rng(4)
    lab = np.round(np.column_stack([rng.uniform(0, 100, 300), rng.uniform(-60, 60, 300), rng.uniform(-60, 60, 300)]), 1)
    fits = season_matrix(lab[:, 0], lab[:, 1], lab[:, 2])
    for row, (l, a, b) in zip(fits, lab, strict=True):
        assert tuple(s for s, yes in zip(SEASONS, row, strict=True) if yes) == read_colour(l, a, b).suits
    assert (suits_many("autumn", lab[:, 0], lab[:, 1], lab[:, 2]) == fits[:, 2]).all()
    assert suits_many(None, lab[:, 0], lab[:, 1], lab[:, 2]).all()


def test_the_explanation_cites_the_numbers_in_three_languages():
    reading = read_colour(48.8, 13.7, 36.3)            # camel
    assert reading.lightness == 48.8 and reading.chroma == pytest.approx(38.8, abs=0.05)
    assert reading.hue == pytest.approx(69.3, abs=0.1)
    for lang in ("ko", "en", "zh"):
        text = reading.why[lang]
        assert "L* 48.8" in text and "C*ab 38.8" in text and "69°" in text, lang
    assert "웜톤" in reading.why["ko"] and "가을 웜" in reading.why["ko"]
    assert "warm" in reading.why["en"] and "autumn warm palette" in reading.why["en"]
    assert "暖色调" in reading.why["zh"] and "秋季暖" in reading.why["zh"]
    grey = read_colour(60.0, 0.5, 4.0)               # a greige: its undertone comes from b*
    assert grey.undertone == "warm" and "b* 4.0" in grey.why["en"]


def test_no_season_means_everything_suits_and_an_unknown_one_is_refused():
    assert suits(None, 50, 80, -100)
    with pytest.raises(ValueError, match="not a season"):
        suits("monsoon", 50, 0, 0)
