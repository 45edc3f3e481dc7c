"""When a Dongdaemun building is open (Korea time), and the words My Style Lab shows: every
recommendation reason the recommender can give has a sentence in Korean, English and Chinese,
filled with its arguments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hub.styles import hours, words
from hub.styles.recommender import NO_CEILING_KRW, REASON_CODES, Reason, in_budget

KST = timezone(timedelta(hours=9))


def at(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KST)


# 2026-07-06 is a Monday.
@pytest.mark.parametrize("when, state", [
    (at(2026, 7, 6, 23), "open"),        # Monday night
    (at(2026, 7, 7, 4, 59), "open"),     # Tuesday before dawn, Monday's night still
    (at(2026, 7, 7, 5, 0), "closed"),    # closes at 05:00
    (at(2026, 7, 7, 14), "closed"),      # daytime
    (at(2026, 7, 11, 4, 30), "open"),    # Saturday before dawn: Friday's night
    (at(2026, 7, 11, 21), "closed"),     # Saturday night: closed
    (at(2026, 7, 12, 19, 59), "closed"),  # Sunday before the evening
    (at(2026, 7, 12, 20, 0), "open"),    # Sunday evening: the week's first night
])
def test_a_wholesale_building_trades_at_night_and_rests_from_saturday_morning_to_sunday_evening(when, state):
    found = hours.open_state("디자이너클럽", "", when)
    assert found.state == state


def test_open_says_until_when_and_closed_says_when_it_opens_in_korea_time():
    now = at(2026, 7, 6, 23).astimezone(timezone.utc)  # the UTC clock a server reads
    state = hours.open_state("", "apM", now)
    assert state.state == "open" and state.until == at(2026, 7, 7, 5)
    assert words.open_words(state.state, "en", state.until, state.next_open, now) == "Open now · usually until 05:00"
    saturday = at(2026, 7, 11, 12)
    closed = hours.open_state("누죤", "Nuzzon", saturday)
    assert closed.state == "closed" and closed.next_open == at(2026, 7, 12, 20)
    assert words.open_words(closed.state, "ko", closed.until, closed.next_open, saturday) == "지금 닫힘 · 보통 내일 20:00 개점"
    assert "周日" in words.open_words(closed.state, "zh", None, closed.next_open, at(2026, 7, 10, 6))


def test_the_fabric_market_works_by_day_and_a_building_we_do_not_know_is_hours_unknown():
    assert hours.open_state("동대문종합시장", "", at(2026, 7, 8, 10)).state == "open"
    assert hours.open_state("동대문종합시장", "", at(2026, 7, 8, 22)).state == "closed"
    assert hours.open_state("동대문종합시장", "", at(2026, 7, 12, 10)).state == "closed"  # Sunday
    unknown = hours.open_state("", "", at(2026, 7, 8, 10))
    assert unknown.state == "unknown"
    assert words.open_words("unknown", "en", None, None, at(2026, 7, 8, 10)) == "Hours unknown"
    assert hours.open_state("어느 빌딩", "Some Tower", at(2026, 7, 8, 10)).state == "unknown"


def test_every_building_the_network_simulator_uses_has_its_hours():
    from simulators import network

    for ko, en, *_ in (*network._WHOLESALE_BUILDINGS, network._JONGHAP_MARKET):
        assert hours.building(ko, en) is not None, en


# The arguments the recommender gives each reason (hub/styles/recommender/types.py).
ARGS = {"same_style": {"article_id": 101, "product_code": 1}, "bought_together": {"article_id": 101},
        "like_your_picks": {"article_id": 101}, "popular_segment": {"segment": "25-34", "rank": 3},
        "popular_week": {"rank": 2}, "new_like": {"article_id": 101, "days": 3},
        "repurchase": {"times": 2, "days_ago": 9}, "colour_suits": {"season": "autumn"},
        "in_budget": {"price_krw": 39000, "low": 20000, "high": 40000}}


def test_every_reason_code_reads_in_three_languages_with_its_arguments():
    assert set(ARGS) == set(REASON_CODES)
    names = {101: {"ko": "린넨 셔츠", "en": "Linen shirt", "zh": "亚麻衬衫"}}
    seen = set()
    for code in sorted(REASON_CODES):
        Reason(code, ARGS[code])  # the model's own type accepts it
        for lang in words.LANGS:
            text = words.reason_words(code, ARGS[code], lang, lambda a, lang_: names.get(a, {}).get(lang_))
            assert text and "{" not in text, (code, lang, text)
            seen.add(text)
    assert "Same style as Linen shirt, in another colour" in seen
    assert "이번 주 25~34세 고객에게 인기" in seen
    assert "A colour in the autumn warm palette" in seen
    assert "예산(20,000~40,000원) 안: 39,000원" in seen
    assert "本周热销第2名" in seen


@pytest.mark.parametrize("budget, args, en, ko", [
    ((20_000, 40_000), {"price_krw": 39_000, "low": 20_000, "high": 40_000},
     "Within your budget (₩20,000–₩40,000): ₩39,000", "예산(20,000~40,000원) 안: 39,000원"),
    ((0, 20_000), {"price_krw": 19_000, "low": 0, "high": 20_000},
     "Within your budget (Up to ₩20,000): ₩19,000", "예산(20,000원 이하) 안: 19,000원"),
    ((70_000, NO_CEILING_KRW), {"price_krw": 89_000, "low": 70_000},
     "Within your budget (₩70,000 and up): ₩89,000", "예산(70,000원 이상) 안: 89,000원"),
    ((0, NO_CEILING_KRW), {"price_krw": 89_000, "low": 0}, "Within your budget: ₩89,000", "예산 안: 89,000원"),
])
def test_an_in_budget_reason_has_one_form_and_its_words_name_the_budget(budget, args, en, ko):
    reason = in_budget(args["price_krw"], budget)
    assert reason == Reason("in_budget", args)
    assert words.reason_words(reason.code, reason.args, "en", lambda a, lang: None) == en
    assert words.reason_words(reason.code, reason.args, "ko", lambda a, lang: None) == ko
    assert "{" not in words.reason_words(reason.code, reason.args, "zh", lambda a, lang: None)


def test_an_in_budget_reason_from_an_older_link_without_its_bounds_still_reads():
    assert words.reason_words("in_budget", {"price_krw": 39_000}, "en", lambda a, lang: None) == \
        "Within your budget: ₩39,000"
    assert words.reason_words("in_budget", {}, "zh", lambda a, lang: None) == "在预算内"


def test_a_reason_whose_article_left_the_catalogue_still_reads():
    text = words.reason_words("same_style", {"article_id": 999}, "en", lambda a, lang: None)
    assert text == "Same style as one you liked, in another colour"
    assert words.reason_words("popular_segment", {"segment": "unknown"}, "zh", lambda a, lang: None)


def test_every_word_has_korean_english_and_chinese():
    for table in (words.WORDS, words.TERMS, words.SEASON_WORDS, words.REASONS, words.SEGMENTS):
        for key, texts in table.items():
            assert len(texts) == 3 and all(texts), key
