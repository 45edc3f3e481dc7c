"""My Style Lab's kiosk page in a real headless Chromium against a real uvicorn over a real
PostgreSQL holding a simulated market on the registry's shops: liking the quiz cards of one style
line moves the picks toward that line (the simulator's truth says which line each product is);
a personal-colour season and a budget hold on every card; the language switches on any screen
and keeps the picks; every target is at least 44 px; the QR code's link opens the same list on a
phone; before the recommender is trained the picks say they are popularity's; the idle time-out
warns, then clears; nothing the shopper chose reaches a log."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.integration.styles_world import (market, serving, simulated,  # noqa: F401 (market: a fixture)
                                            wait_loaded, wait_ready)

SIZES = ("els => els.filter(e => e.offsetParent || e.closest('.choice'))"
         ".map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height, e.id || e.textContent])")


@pytest.fixture
def lab(market, tmp_path):
    with serving(market, tmp_path) as hub:
        wait_ready(hub.url)
        yield hub.url


def shot(page, name: str, tmp_path: Path) -> None:
    """The first screenful, to SEWNET_SCREENS when it names a folder (docs/screens for the README)."""
    folder = os.environ.get("SEWNET_SCREENS")
    path = Path(folder) / f"{name}.png" if folder else tmp_path / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


def line_of(article_id: int) -> str:
    return simulated().truth.articles.loc[article_id, "line"]


def targets_are_big(page) -> None:
    sizes = page.eval_on_selector_all("button:not(.sr-only), a.button, .choice > span", SIZES)
    small = [s for s in sizes if s[0] < 44 or s[1] < 44]
    assert sizes and not small, small


def test_liking_one_style_leans_the_picks_to_it_and_the_qr_link_opens_the_same_list(lab, browser, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{lab}/styles")
    expect(page.locator("#privacy")).to_be_visible()
    targets_are_big(page)
    page.click("#start")
    cards = page.locator("#quiz .card")
    expect(cards).to_have_count(16)
    targets_are_big(page)
    shown = [int(a) for a in cards.evaluate_all("els => els.map(e => e.dataset.article)")]
    lines = Counter(line_of(a) for a in shown)
    liked_line = lines.most_common(1)[0][0]
    liked = [a for a in shown if line_of(a) == liked_line]
    for a in shown:
        page.click(f"#{'like' if a in liked else 'skip'}-{a} + span")
    shot(page, "styles-quiz", tmp_path)
    page.click("#next")
    expect(page.locator("#colour-intro")).to_contain_text("CIELAB")
    expect(page.locator("#readings .card")).to_have_count(len(liked))
    targets_are_big(page)
    shot(page, "styles-colour", tmp_path)
    page.click("#colour-none + span")
    page.click("#next")
    targets_are_big(page)
    page.click("#budget-any + span")
    page.click("#next")
    picks = page.locator("#picks .pick")
    expect(picks.first).to_be_visible()
    targets_are_big(page)
    shot(page, "styles-picks", tmp_path)
    got = [int(a) for a in picks.evaluate_all("els => els.map(e => e.dataset.article)")]
    assert len(got) == 12
    # The liked line's share of the picks, against its share of the catalogue and of the picks a
    # shopper who liked nothing gets.
    catalogue_share = (simulated().truth.articles["line"] == liked_line).mean()
    picked_share = sum(line_of(a) == liked_line for a in got) / len(got)
    cold = httpx.post(f"{lab}/api/v1/styles/sessions", json={"skipped": shown}, timeout=30).json()["items"]
    cold_share = sum(line_of(i["article_id"]) == liked_line for i in cold) / len(cold)
    print(f"liked {len(liked)} cards of {liked_line}: {picked_share:.0%} of the picks ({cold_share:.0%} with no "
          f"likes), {catalogue_share:.0%} of the catalogue")
    assert picked_share >= max(0.4, 3 * catalogue_share) and picked_share >= cold_share + 0.25, (
        liked_line, picked_share, cold_share, catalogue_share)
    # Each card says why, where (building, floor, stall) and whether it is open now.
    for card in picks.all():
        expect(card.locator(".why li").first).to_be_visible()
        expect(card.locator(".where")).not_to_be_empty()
        expect(card.locator(".open-now")).to_contain_text(re.compile("영업 중|닫힘|영업시간 모름"))
    # The QR code's link: the same list on a phone, nothing stored on the hub.
    expect(page.locator("#qr")).to_be_visible()
    link = page.locator("#list-link").get_attribute("href")
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto(link)
    expect(phone.locator("#picks .pick")).to_have_count(12)
    shot(phone, "styles-phone", tmp_path)
    assert [int(a) for a in phone.locator("#picks .pick").evaluate_all("els => els.map(e => e.dataset.article)")] == got
    phone.click("#lang-en")
    expect(phone.locator("#main")).to_have_attribute("lang", "en")
    expect(phone.locator("#picks")).to_contain_text("Why")
    assert httpx.get(link.replace("sig=", "sig=x"), timeout=10).status_code == 403
    # Nothing the shopper chose reached the hub's log.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(str(a) in logged for a in liked), "a quiz answer reached the log"


def test_a_season_and_a_budget_hold_on_every_card_in_the_language_chosen(lab, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{lab}/styles")
    page.click("#lang-en")
    expect(page.locator("#main")).to_have_attribute("lang", "en")
    page.click("#start")
    shown = [int(a) for a in page.locator("#quiz .card").evaluate_all("els => els.map(e => e.dataset.article)")]
    for a in shown[:4]:
        page.click(f"#like-{a} + span")
    # The language switches on the quiz screen and the likes stay.
    page.click("#lang-zh")
    expect(page.locator("#main")).to_have_attribute("lang", "zh")
    expect(page.locator("#quiz")).to_contain_text("喜欢")
    assert all(page.is_checked(f"#like-{a}") for a in shown[:4])
    page.click("#big-toggle")
    expect(page.locator("#kiosk")).to_have_class(re.compile("big"))
    targets_are_big(page)
    page.click("#next")
    page.click("#colour-autumn + span")
    page.click("#next")
    page.click("#budget-20-40 + span")
    page.click("#lang-ko")
    expect(page.locator("#main")).to_have_attribute("lang", "ko")
    assert page.is_checked("#budget-20-40")
    page.click("#next")
    picks = page.locator("#picks .pick")
    expect(picks.first).to_be_visible()
    expect(page.locator("#main")).to_contain_text("추천 이유")
    for card in picks.all():
        assert "autumn" in card.get_attribute("data-suits").split(), card.get_attribute("data-article")
        assert 20_000 <= int(card.get_attribute("data-price")) <= 40_000
        expect(card.locator(".why")).to_contain_text("가을 웜")
    # Back to the colour screen: the choice is still there.
    page.click("#back")
    page.click("#back")
    assert page.is_checked("#colour-autumn")


def test_before_training_the_picks_say_they_are_popular_and_the_idle_kiosk_clears(market, tmp_path, browser):
    with serving(market, tmp_path, train_on_start=False, idle_timeout_s=6, idle_warning_s=20) as hub:
        wait_loaded(hub.url)
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.goto(f"{hub.url}/styles?lang=en")
        page.click("#start")
        first = page.locator("#quiz .card").first.get_attribute("data-article")
        page.click(f"#like-{first} + span")
        page.click("#next")
        page.click("#next")
        page.click("#next")
        expect(page.locator("#note-model_popular")).to_contain_text("still training")
        expect(page.locator("#picks .pick").first).to_be_visible()
        # Idle: the warning with more time, then (no answer) the start again, the picks gone.
        expect(page.locator("#idle")).to_be_visible(timeout=15_000)
        left = int(re.search(r"(\d+)", page.locator("#idle-text").inner_text()).group(1))
        assert 15 <= left <= 20
        page.click("#idle-more")
        expect(page.locator("#idle")).to_be_hidden()
        expect(page.locator("#idle")).to_be_visible(timeout=15_000)
        expect(page.locator("#cleared")).to_be_visible(timeout=30_000)
        assert page.locator("#picks").count() == 0
