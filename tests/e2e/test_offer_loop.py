"""The loop of issue 7, end to end in a real Chromium (Debian's, driven by Playwright), against a
real PostgreSQL, Mosquitto and InfluxDB, the hub, and two workshop gateways as their own
processes (tests/e2e/offer_loop.py):

a coordinator logs in to the console and enters an order with the form -> the plan appears ->
she accepts it (the offers go out) -> both gateways' operator pages show their offer -> one owner
accepts, the other declines with a reason, with the big buttons -> the hub re-plans the declined
share as a proposal on the order's page, which she accepts -> the accepted workshop's virtual
boards sew -> the hub's estimate of pieces (stitches over the stitches a piece takes) and the
owner's count appear on the console's order page and on the gateway's page. The estimate is
checked against the stitches the simulated sewing machines really made (their ground truth),
over the default stitches a piece before the count and over the count's calibration after it.

The second test cuts the hub away while the owners answer: each page says its answer waits to
be sent, and once the hub is back each answer arrives, and is applied, once.

Screenshots of the gateway's page with an offer and of the phone link's page go to SEWNET_SCREENS
when it names a folder (docs/screens for the README).

The only stand-in is the board hardware (virtual ESP32s running the firmware's own files).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from hub.planning import offers as hub_offers
from hub.planning.service import today_in_seoul
from sewnet.demo import SAMPLE_SAM, order_for_two
from tests.e2e.harness import ground_truth, influx_stitches_per_machine, start_board, wait_all_sewn
from tests.e2e.offer_loop import (
    OWNERS,
    STITCHES_PER_SAM_MINUTE,
    log_in_console,
    log_in_gateway,
    reload_until,
    start_loop,
    stop_loop,
    wait_hub,
    wait_past_the_last_stitch,
)

ORDER = "tee-loop"
SEW_SECONDS = 8


@pytest.fixture
def loop(postgresql, influxdb, tmp_path):
    world = start_loop(postgresql.url, influxdb, tmp_path)
    try:
        yield world
    finally:
        stop_loop(world)


def _shot(page, name: str, tmp_path: Path, full_page: bool = False) -> None:
    folder = os.environ.get("SEWNET_SCREENS")
    path = Path(folder) / f"{name}.png" if folder else tmp_path / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000


def enter_order(page, url: str, hub) -> tuple[int, dict[str, int]]:
    """The coordinator enters the order with the console's form; the plan appears and she accepts
    it. (quantity, pieces per workshop of the accepted plan)."""
    from datetime import datetime, timezone

    today = today_in_seoul(datetime.now(timezone.utc))
    quantity = order_for_two(hub.api, OWNERS, today)
    page.goto(f"{url}/orders/new")
    page.fill("#id", ORDER)
    page.fill("#style", "반팔 라운드 티셔츠 / crew-neck tee")
    page.select_option("#family", "knit_tops")
    page.fill("#quantity", str(quantity))
    page.fill("#due", (today + timedelta(days=4)).isoformat())
    page.fill("#bundle_size", "10")
    page.fill("#min_lot", "50")
    page.fill("#max_workshops", "3")
    page.fill("#price_per_piece_krw", "2500")
    for machine_type, minutes in SAMPLE_SAM.items():
        page.fill(f"#sam_{machine_type}", str(minutes))
    page.click("#plan-button")
    expect(page).to_have_url(f"{url}/orders/{ORDER}", timeout=30_000)
    plan = hub.api.get(f"/api/v1/orders/{ORDER}/plan").json()
    pieces = {a["workshop"]: a["pieces"] for a in plan["assignments"]}
    # The registry made the two owners' workshops the cheapest for a knit order, and the quantity needs both.
    assert plan["feasible"] and set(pieces) == set(OWNERS) and sum(pieces.values()) == quantity, pieces
    for w, n in pieces.items():
        expect(page.locator(f'#assignments tr[data-workshop="{w}"]')).to_contain_text(f"{n:,}")
    page.click("#accept-button")
    expect(page.locator("#accepted-note")).to_be_visible()
    expect(page.locator("#offers tbody tr")).to_have_count(2)
    return quantity, pieces


def test_order_offered_accepted_declined_replanned_sewn_and_progress_on_both_pages(loop, browser, tmp_path):
    hub, shops = loop.hub, loop.shops
    owner, decliner = OWNERS
    console = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}).new_page()
    log_in_console(console, hub.url)
    quantity, planned = enter_order(console, hub.url, hub)
    offer_of = {w: o["id"] for w, o in hub.offers_of(ORDER).items()}

    # Both owners' pages show their offer, with the big buttons.
    pages, urls = {}, {}
    for w in OWNERS:
        pages[w] = browser.new_context(locale="ko-KR", viewport={"width": 800, "height": 1200}).new_page()
        urls[w] = log_in_gateway(pages[w], shops[w])
        reload_until(pages[w], f"{urls[w]}/", f"#offer-{offer_of[w]} .style", "반팔 라운드 티셔츠")
        expect(pages[w].locator(f"#offer-{offer_of[w]}")).to_contain_text(f"{planned[w]:,}")
    _shot(pages[owner], "gateway-offer", tmp_path)

    # The phone link: the same offer on the hub, signed and expiring, for an owner away from the gateway.
    link = hub_offers.offer_link(hub.settings, offer_of[owner], 24)
    phone = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    phone.goto(hub.url + link)
    expect(phone.locator("body")).to_contain_text("반팔 라운드 티셔츠")
    expect(phone.locator("button").first).to_be_visible()
    _shot(phone, "offer-link", tmp_path, full_page=True)  # down to its buttons

    # One owner accepts; the other declines, giving a reason from the short list.
    box = pages[owner].locator(f"#offer-{offer_of[owner]} button.accept").bounding_box()
    assert box["height"] >= 80 and box["width"] >= 200  # a big touch target
    pages[owner].click(f"#offer-{offer_of[owner]} button.accept")
    pages[decliner].click(f"#offer-{offer_of[decliner]} a.decline")
    pages[decliner].click('button[data-reason="machines_busy"]')
    wait_hub(lambda: hub.answers() == sorted([(offer_of[owner], "accept", "applied", None),
                                              (offer_of[decliner], "decline", "applied", "machines_busy")]),
             "both answers on the hub's record")
    reload_until(pages[owner], f"{urls[owner]}/", f"#offer-{offer_of[owner]} .offer-status", "수락함")
    reload_until(pages[decliner], f"{urls[decliner]}/", f"#offer-{offer_of[decliner]} .offer-status", "거절함")
    expect(pages[decliner].locator(f"#offer-{offer_of[decliner]} .offer-status")).to_contain_text("재봉틀이 다른 일로 바쁨")

    # The hub re-plans the declined share: a proposal on the order's page, which she accepts.
    wait_hub(lambda: hub.api.get(f"/api/v1/orders/{ORDER}").json()["status"] == "replanned", "the re-plan", 60)
    console.goto(f"{hub.url}/orders/{ORDER}")
    expect(console.locator(f'#offers tr[data-workshop="{decliner}"]')).to_have_attribute("data-status", "declined")
    expect(console.locator(f'#diff tr[data-workshop="{decliner}"]')).to_have_attribute("data-kind", "cut")
    expect(console.locator("#replan-why")).to_contain_text(decliner)
    console.click("#accept-replan")
    expect(console.locator("#accepted-note")).to_be_visible()
    replanned = hub.api.get(f"/api/v1/orders/{ORDER}/plan").json()
    moved = {a["workshop"]: a["pieces"] for a in replanned["assignments"]}
    assert decliner not in moved and sum(moved.values()) == quantity, moved
    assert hub.api.get(f"/api/v1/orders/{ORDER}").json()["accepted_version"] == replanned["version"]

    # The accepted workshop's machines go on its one accepted offer by default; then they sew.
    wait_hub(lambda: any(sorted(r.machines) == ["m01", "m02", "m03"] and r.offer_id == offer_of[owner]
                         for r in hub.reports(owner, "assign")), "the owner's machines assigned on the hub")
    ws = shops[owner]
    for i, b in enumerate(ws.boards):
        start_board(ws, b, seed=500 + i, sew_seconds=SEW_SECONDS)
    wait_all_sewn([ws], timeout=60)
    truth = ground_truth([ws])
    wait_hub(lambda: influx_stitches_per_machine(loop.influx) == truth, "InfluxDB to hold the boards' stitches")
    sewn = sum(truth.values())
    assert sewn > 0

    # Before any count: stitches over the style's default stitches a piece (SAM x stitches a SAM-minute).
    per_piece = sum(SAMPLE_SAM.values()) * STITCHES_PER_SAM_MINUTE
    expected = min(planned[owner], int(sewn / per_piece))
    progress = hub.api.get(f"/api/v1/orders/{ORDER}/progress").json()["workshops"][owner]
    assert (progress["stitches"], progress["estimated"], progress["counted"]) == (sewn, expected, 0), progress
    assert expected > 0
    console.goto(f"{hub.url}/orders/{ORDER}")
    row = console.locator(f'#offers tr[data-workshop="{owner}"][data-status="accepted"]')
    expect(row).to_contain_text(f"추정 {expected:,}")
    expect(row).to_contain_text("셈 0")

    # The owner counts the finished pieces on the gateway's page: the hub calibrates from it.
    counted = expected + 3
    wait_past_the_last_stitch(loop.influx)
    page = pages[owner]
    page.goto(f"{urls[owner]}/")
    page.click(f"#offer-{offer_of[owner]} a.button.small")
    page.fill("#pieces", str(counted))
    page.click("#count-button")
    reload_until(page, f"{urls[owner]}/", f"#offer-{offer_of[owner]} .counted", f"{counted:,}")
    calibrated = min(planned[owner], int(sewn / (sewn / counted)))
    reload_until(page, f"{urls[owner]}/", f"#offer-{offer_of[owner]} .estimated", f"{calibrated:,}")
    progress = hub.api.get(f"/api/v1/orders/{ORDER}/progress").json()["workshops"][owner]
    assert (progress["counted"], progress["estimated"], progress["calibrated"]) == (counted, calibrated, True)

    # They sew on: the estimate grows by the new stitches over the calibrated stitches a piece.
    for i, b in enumerate(ws.boards):
        b.stop()
        (b.flash / "truth.json").unlink()  # the next run's own truth, not the last one's
        start_board(ws, b, seed=600 + i, sew_seconds=SEW_SECONDS / 2)
    wait_all_sewn([ws], timeout=60)
    more = ground_truth([ws])
    wait_hub(lambda: influx_stitches_per_machine(loop.influx) == {k: truth[k] + more[k] for k in truth},
             "InfluxDB to hold the second run's stitches too")
    total = sewn + sum(more.values())
    expected = min(planned[owner], int(total / (sewn / counted)))
    progress = hub.api.get(f"/api/v1/orders/{ORDER}/progress").json()["workshops"][owner]
    assert (progress["stitches"], progress["estimated"], progress["counted"]) == (total, expected, counted), progress
    console.goto(f"{hub.url}/orders/{ORDER}")
    expect(row).to_contain_text(f"추정 {expected:,}")
    expect(row).to_contain_text(f"셈 {counted:,}")
    expect(console.locator(f'#progress .card[data-workshop="{owner}"] .done-figure')).to_contain_text(f"{expected:,}")


def test_answers_given_while_the_hub_is_cut_arrive_once_when_it_is_back(loop, browser, tmp_path):
    hub, shops = loop.hub, loop.shops
    owner, decliner = OWNERS
    console = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}).new_page()
    log_in_console(console, hub.url)
    enter_order(console, hub.url, hub)
    offer_of = {w: o["id"] for w, o in hub.offers_of(ORDER).items()}
    pages, urls = {}, {}
    for w in OWNERS:
        pages[w] = browser.new_context(locale="ko-KR", viewport={"width": 800, "height": 1200}).new_page()
        urls[w] = log_in_gateway(pages[w], shops[w])
        reload_until(pages[w], f"{urls[w]}/", f"#offer-{offer_of[w]} button.accept")

    hub.cut()  # the uplink is down while the owners answer
    pages[owner].click(f"#offer-{offer_of[owner]} button.accept")
    pages[decliner].click(f"#offer-{offer_of[decliner]} a.decline")
    pages[decliner].click('button[data-reason="price_too_low"]')
    for w in OWNERS:
        reload_until(pages[w], f"{urls[w]}/", f"#offer-{offer_of[w]} .offer-local", "인터넷이 돌아오면 전달됩니다")
        expect(pages[w].locator("#answers-waiting")).to_contain_text("대기")
        expect(pages[w].locator(f"#offer-{offer_of[w]} button.accept")).to_have_count(0)  # no second answer
    assert hub.answers() == []

    hub.restore()
    wait_hub(lambda: len(hub.answers()) == 2, "both answers on the hub's record")
    reload_until(pages[owner], f"{urls[owner]}/", f"#offer-{offer_of[owner]} .offer-status", "수락함")
    reload_until(pages[decliner], f"{urls[decliner]}/", f"#offer-{offer_of[decliner]} .offer-status", "거절함")
    for w in OWNERS:
        expect(pages[w].locator("#answers-waiting")).to_have_count(0)
    # Once each: one row each on the hub's record, and each answer sent once after the link came back.
    assert hub.answers() == sorted([(offer_of[owner], "accept", "applied", None),
                                    (offer_of[decliner], "decline", "applied", "price_too_low")])
    for w in OWNERS:
        sent = hub.answers_sent(w)
        assert [a["offer_id"] for a in sent] == [offer_of[w]], sent
    wait_hub(lambda: hub.api.get(f"/api/v1/orders/{ORDER}").json()["status"] == "replanned", "the re-plan", 60)
