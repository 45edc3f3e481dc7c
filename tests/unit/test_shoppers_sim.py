"""The shopper simulator (simulators/shoppers.py): exact counts, seeded, H&M-shaped articles with
valid Dongdaemun columns, and purchases that follow the truth it says drives them (style, colour
season, budget, habits, new products and shoppers every week), so a recommender has something
real to learn and the evaluation has something to measure."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from hub.styles import colour
from hub.styles.market import DDM_COLUMNS, load
from hub.styles.metrics import map_at_k, truth_of
from simulators import shoppers
from simulators.shoppers import MarketSpec, simulate

SPEC = MarketSpec(shoppers=2_000, products=1_000, purchases=40_000, weeks=8, seed=1)
SIM = simulate(SPEC)
M, TRUTH = SIM.market, SIM.truth
T = M.transactions


def test_counts_are_exact_and_the_calendar_is_the_spec():
    assert len(M.articles) == SPEC.products
    assert len(M.customers) == SPEC.shoppers
    assert len(T) == SPEC.purchases
    assert M.first_day == SPEC.start
    assert M.last_day == SPEC.start + timedelta(days=7 * SPEC.weeks - 1)
    assert T["t_dat"].is_monotonic_increasing
    assert M.articles.index.is_unique and M.customers.index.is_unique
    assert set(T["sales_channel_id"].unique()) == {1, 2}


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path):
    again = simulate(SPEC).write(tmp_path / "a")
    first = SIM.write(tmp_path / "b")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in first]
    other = simulate(MarketSpec(shoppers=2_000, products=1_000, purchases=40_000, weeks=8, seed=2)).write(tmp_path / "c")
    assert other[2].read_bytes() != first[2].read_bytes()


def test_small_markets_are_quick():
    assert SIM.seconds < 5.0


def test_articles_are_styles_with_colour_variants_like_h_and_m():
    a = M.articles
    assert (a.index // 1000 == a["product_code"]).all()
    per_style = a.groupby("product_code")
    assert per_style.size().mean() > 2.0
    # the variants of a style differ in colour and share everything else about the style
    assert (per_style["colour_group_code"].nunique() == per_style.size()).all()
    for column in ("prod_name", "product_type_no", "department_no", "section_no", "detail_desc", "retail_krw"):
        assert (per_style[column].nunique() == 1).all(), column
    assert a["detail_desc"].str.len().min() > 30
    assert a["product_group_name"].nunique() >= 8 and a["garment_group_name"].nunique() >= 12


def test_dongdaemun_columns_are_valid():
    a = M.articles
    assert M.has_ddm and all(c in a.columns for c in DDM_COLUMNS)
    assert (a["retail_krw"] > a["wholesale_krw"]).all()
    assert a["wholesale_krw"].between(1_000, 200_000).all()
    assert set(a["min_order"].unique()) <= {1, 3, 5, 10}
    assert a["shop_id"].str.fullmatch(r"ds-\d{4}").all()
    assert set(a["season"].unique()) == {"all", "ss", "fw"}
    assert a["lab_l"].between(0, 100).all() and a["lab_a"].between(-128, 127).all()
    assert a["name_ko"].str.contains("[가-힣]").all() and a["name_zh"].str.contains("[\u4e00-\u9fff]").all()
    # the swatch is the colour group's: a black is dark, a light pink light and pinkish
    black = a[a["colour_group_name"] == "Black"]
    assert (black["lab_l"] < 15).all()
    pink = a[a["colour_group_name"] == "Light Pink"]
    assert (pink["lab_l"] > 75).all() and (pink["lab_a"] > 8).all()


def test_registry_shops_sell_the_products_when_given():
    shops = [f"wh-{i}" for i in range(7)]
    sim = simulate(MarketSpec(shoppers=50, products=60, purchases=300, weeks=2, seed=3), registry_shops=shops)
    assert set(sim.market.articles["shop_id"]) <= set(shops)


def test_the_files_load_back_as_the_same_market(tmp_path):
    loaded = load(*SIM.write(tmp_path))
    pd.testing.assert_frame_equal(loaded.transactions, T)
    pd.testing.assert_frame_equal(loaded.articles, M.articles)


# --- the truth drives the purchases ------------------------------------------------------------------

def _random_like(rng, n):
    return M.articles.index.to_numpy()[rng.integers(0, len(M.articles), n)]


def test_shoppers_buy_their_style():
    rng = np.random.default_rng(0)
    rows = T.sample(4_000, random_state=0)
    shopper = TRUTH.shopper_style[TRUTH.shoppers.index.get_indexer(rows["customer_id"])]
    bought = np.einsum("sd,sd->s", shopper, TRUTH.styles_of(rows["article_id"]))
    random = np.einsum("sd,sd->s", shopper, TRUTH.styles_of(_random_like(rng, len(rows))))
    assert bought.mean() > random.mean() + 0.2


def test_colour_season_and_budget_shape_the_choice():
    seasons = TRUTH.shoppers["season"].reindex(T["customer_id"]).to_numpy()
    a = M.articles.loc[T["article_id"]]
    fits = colour.season_matrix(a["lab_l"], a["lab_a"], a["lab_b"])
    idx = np.array([colour.SEASONS.index(s) for s in seasons])
    bought_fit = fits[np.arange(len(idx)), idx].mean()
    # the same purchases had each shopper been of another season: colour fit is personal
    shuffled = fits[np.arange(len(idx)), np.random.default_rng(1).permutation(idx)].mean()
    assert bought_fit > shuffled + 0.03
    budget = TRUTH.shoppers["budget_krw"].reindex(T["customer_id"]).to_numpy()
    over = (a["retail_krw"].to_numpy() > 1.5 * budget).mean()
    stock_over = (M.articles["retail_krw"].to_numpy()[None, :1000] > 1.5 * budget[:2000, None]).mean()
    assert over < stock_over * 0.8


def test_habits_repurchase_and_other_colours_of_a_style():
    t = T.assign(week=(T["t_dat"] - T["t_dat"].min()).dt.days // 7,
                 code=M.articles["product_code"].reindex(T["article_id"]).to_numpy())
    first_week = t.groupby(["customer_id", "article_id"])["week"].transform("min")
    repeat = t["week"] > first_week
    code_first = t.groupby(["customer_id", "code"])["week"].transform("min")
    other_colour = (t["week"] > code_first) & (t["week"] == first_week)
    assert repeat.mean() > 0.02 and other_colour.mean() > 0.01
    # a habit of the shopper's (the truth's), on top of popular articles bought twice by chance
    for habit, happened in (("repurchase", repeat), ("other_colour", other_colour)):
        level = TRUTH.shoppers[habit].reindex(t["customer_id"]).to_numpy()
        keen, rare = level > TRUTH.shoppers[habit].quantile(0.9), level < TRUTH.shoppers[habit].quantile(0.5)
        assert happened[keen].mean() > happened[rare].mean() + 0.03, habit


def test_new_products_and_new_shoppers_every_week():
    week = (T["t_dat"] - T["t_dat"].min()).dt.days // 7
    released = M.articles["fresh_date"].reindex(T["article_id"]).to_numpy()
    new_item = (T["t_dat"].to_numpy() - released) < np.timedelta64(7, "D")
    first_buy = T.groupby("customer_id")["t_dat"].transform("min")
    new_shopper = (T["t_dat"] - first_buy).dt.days < 7
    per_week = pd.DataFrame({"week": week, "new_item": new_item, "new_shopper": new_shopper}).groupby("week").mean()
    assert (per_week["new_item"].iloc[1:] > 0.03).all()
    assert (per_week["new_shopper"].iloc[2:] > 0.01).all()
    joined = TRUTH.shoppers["joined"]
    assert joined.dt.isocalendar().week.nunique() == SPEC.weeks


def test_popularity_is_a_baseline_a_personal_model_can_beat():
    """On the last week: the recent best-sellers score, and the best-sellers of each shopper's
    own favourite section score clearly more (what a learned model builds on)."""
    sim = simulate(MarketSpec(shoppers=6_000, products=2_500, purchases=150_000, weeks=8, seed=4))
    m = sim.market
    split = m.last_day - timedelta(days=6)
    train, test = m.until(split).transactions, m.week_after(split).transactions
    truth = truth_of(test["customer_id"].tolist(), test["article_id"].tolist())
    recent = train[train["t_dat"] >= pd.Timestamp(split - timedelta(days=7))]
    counts = recent.groupby("article_id").size().sort_values(ascending=False)
    popular = [int(x) for x in counts.index[:12]]
    section = m.articles["section_name"]
    favourite = train.assign(s=section.reindex(train["article_id"]).to_numpy()) \
        .groupby("customer_id")["s"].agg(lambda s: s.value_counts().index[0])
    by_section = recent.assign(s=section.reindex(recent["article_id"]).to_numpy()).groupby("s")["article_id"] \
        .agg(lambda s: [int(x) for x in s.value_counts().index[:12]])
    personal = {c: (by_section.get(favourite.get(c), []) + popular)[:12] for c in truth}
    pop = map_at_k({c: popular for c in truth}, truth)
    assert 0.008 < pop < 0.06
    assert map_at_k(personal, truth) > 1.2 * pop


def test_the_command_line_writes_the_files(tmp_path, capsys):
    assert shoppers.main(["--out", str(tmp_path), "--shoppers", "40", "--products", "30", "--purchases", "200",
                          "--weeks", "2"]) == 0
    out = capsys.readouterr().out
    assert "30 articles, 40 shoppers, 200 purchases" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.csv", "customers.csv", "transactions_train.csv"]


def test_a_spec_too_small_to_make_a_market_is_refused():
    with pytest.raises(ValueError, match="at least"):
        MarketSpec(shoppers=1)
