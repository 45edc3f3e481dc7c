"""The operator page with work offers in a real Chromium (issue 7): the gateway runs as its own
process against a real Mosquitto, boards publish real summaries, and the hub is the real one
(PostgreSQL, two accepted plans offered to the same workshop: the `offers_hub` fixture of
test_gateway_offers.py).

A person logs in, reads each machine's state in words, accepts one offer, declines another with
a reason, enters a count, and moves a machine to another offer; each lands on the hub's record,
and the decline makes the hub re-plan that order as a proposal."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.integration.test_gateway_ingest import gateway_config, start_gateway, summary, toml
from tests.integration.test_gateway_offers import offers_hub  # noqa: F401 (fixture)
from tests.mqtt_helpers import publish_sync
from tests.servers import free_port
from tests.waiting import wait_for

PASSWORD = "재봉비밀번호7"
SECOND_STYLE = "긴팔 티셔츠 / long-sleeve tee"
BOARDS = {"sn-aaaaaaaaaa01": "m01", "sn-aaaaaaaaaa02": "m02", "sn-aaaaaaaaaa03": "m03"}


@pytest.fixture
def gateway(tmp_path, mosquitto, offers_hub):  # noqa: F811
    shirt = offers_hub.another_order("tee-gw-2", style=SECOND_STYLE)
    passwords = {d: mosquitto.add_device(d) for d in BOARDS}
    web_port = free_port()
    cfg = gateway_config(tmp_path, mosquitto, host="127.0.0.1", port=web_port, operator_password=PASSWORD)
    cfg["workshop"], cfg["registry"] = offers_hub.workshop, BOARDS
    cfg["hub"] = {"url": offers_hub.url, "workshop_token": offers_hub.token, "poll_interval_s": 5,
                  "backoff_max_s": 1}
    path = tmp_path / "gateway.toml"
    path.write_text(toml(cfg))
    proc = start_gateway(path, tmp_path / "gateway.log")
    url = f"http://127.0.0.1:{web_port}"
    try:
        wait_for(lambda: _up(url), timeout=20, what="the gateway's page")
        now = int(time.time())
        d1, d2, d3 = BOARDS
        # m01 sews (300 stitches, 4 s of motor per 10 s); m02 sends summaries without sewing;
        # m03's board said goodbye (its last will, retained).
        publish_sync(mosquitto, d1, passwords[d1], [(f"sewnet/v1/{d1}/summary",
                                                    summary(d1, s, stitches=300, time=now - 30 + 10 * s), False)
                                                   for s in range(1, 4)])
        publish_sync(mosquitto, d2, passwords[d2], [(f"sewnet/v1/{d2}/summary",
                                                    summary(d2, s, stitches=0, run_ms=0, time=now - 30 + 10 * s),
                                                    False) for s in range(1, 4)])
        # ... and one message m02's board sent that cannot be read: rejected, named on the page.
        publish_sync(mosquitto, d2, passwords[d2], [(f"sewnet/v1/{d2}/summary", b"{not json", False)])
        offline = {"v": 1, "device": d3, "state": "offline", "boot": 1, "uptime_ms": 5, "fw": "0.1.0",
                   "counter": "pcnt", "interval_ms": 10000, "queued": 0, "dropped": 0}
        publish_sync(mosquitto, d3, passwords[d3], [(f"sewnet/v1/{d3}/status", json.dumps(offline).encode(), True)])
        yield url, offers_hub, shirt
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_log_in_read_the_machines_accept_decline_count_and_assign(gateway, browser, tmp_path_factory):
    url, hub, second = gateway
    first, real = hub.offer_id, hub.hub
    context = browser.new_context(locale="ko-KR", viewport={"width": 800, "height": 1200})
    page = context.new_page()
    page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login")
    page.locator("#password").press_sequentially(PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")

    def reload_until(locator, text, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            page.goto(f"{url}/")
            try:
                expect(page.locator(locator)).to_contain_text(text, timeout=500)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    # Machine states in words (and a colour class beside the word), from the real summaries.
    reload_until('#machine-m01 .run', "재봉 중")
    expect(page.locator("#machine-m01")).to_have_attribute("data-state", "sewing")
    reload_until('#machine-m01 .stitches', "900")  # all three summaries stored
    reload_until('#machine-m02 .run', "정지")
    expect(page.locator('#machine-m02 .run')).to_contain_text("stopped since")
    reload_until('#machine-m03 .run', "꺼짐")
    expect(page.locator('#hours .hour').last).to_contain_text("900")
    # The rejected message: which board (its device id and machine) and why, in words.
    reload_until('#rejected li[data-device="sn-aaaaaaaaaa02"]', "읽을 수 없는 내용")
    expect(page.locator('#rejected li[data-device="sn-aaaaaaaaaa02"]')).to_contain_text("(m02)")

    # Offers arrive from the hub.
    reload_until(f"#offer-{first}", "반팔 라운드 티셔츠")
    expect(page.locator(f"#offer-{second} .style")).to_have_text(SECOND_STYLE)

    # Accept the first with its one large button.
    button = page.locator(f"#offer-{first} button.accept")
    box = button.bounding_box()
    assert box["height"] >= 80 and box["width"] >= 200  # a big touch target
    button.click()
    expect(page).to_have_url(f"{url}/#offer-{first}")
    reload_until(f"#offer-{first} .offer-status", "수락함")
    wait_for(lambda: hub.offer()["status"] == "accepted", timeout=10, what="the accept on the hub's record")
    sent = [a for b in real.answer_bodies(hub.workshop) for a in b["answers"]]
    assert [(a["offer_id"], a["answer"]) for a in sent] == [(first, "accept")]

    # Decline the second: a reason from the short list, Korean first.
    page.click(f"#offer-{second} a.decline")
    expect(page.locator('button[data-reason="price_too_low"]')).to_contain_text("단가가 너무 낮음")
    page.click('button[data-reason="price_too_low"]')
    reload_until(f"#offer-{second} .offer-status", "거절함")
    expect(page.locator(f"#offer-{second} .offer-status")).to_contain_text("단가가 너무 낮음")
    wait_for(lambda: hub.offer(second)["decline_reason"] == "price_too_low", timeout=10,
             what="the decline on the hub's record")
    assert hub.offer(second)["status"] == "declined"
    expect(page.locator(f"#offer-{second} button.accept")).to_have_count(0)
    # The hub re-plans the declined order without the workshop, as a proposal for the coordinator.
    wait_for(lambda: real.order_status("tee-gw-2")["status"] == "replanned", timeout=30, what="the re-plan")
    assert {(a[1], a[2]) for a in real.answers_applied()} == {(first, "applied"), (second, "applied")}

    # The one open order: every machine works on it by default, named by its style, not an id.
    reload_until("#machine-m02 .assigned", "반팔 라운드 티셔츠")
    expect(page.locator("#machine-m02 .assigned")).to_have_attribute("data-order", "tee-gw-1")

    # A count: a wrong entry is refused in words next to the field, then a right one goes.
    page.click(f"#offer-{first} a.button.small")
    page.fill("#pieces", "많이")
    page.click("#count-button")
    expect(page.locator("#count-error")).to_contain_text("숫자로")
    page.fill("#pieces", "340")
    page.click("#count-button")
    reload_until(f"#offer-{first} .counted", "340")
    wait_for(lambda: hub.offer()["progress"]["counted"] == 340, timeout=10, what="the count on the hub")

    # Tap a machine, pick the order ("none" here: the only accepted one is the first).
    page.click("#machine-m03 a.assign")
    page.click('button[data-order="none"]')
    reload_until("#machine-m03 .assigned", "없음")
    wait_for(lambda: any(r.kind == "assign" and r.result == "applied" and r.offer_id == first
                         and sorted(r.machines) == ["m01", "m02"] for r in real.reports()),
             timeout=10, what="the new list applied on the hub")
    context.close()
    phone_check(browser, url, tmp_path_factory)


def phone_check(browser, url: str, tmp_path_factory) -> None:
    """The pages on a phone (390 x 844, as an owner holds it): every button and link at least
    48 px tall (a finger, not a mouse), no sideways scrolling, Korean on every page."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.locator("#password").fill(PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")
    shots = tmp_path_factory.mktemp("phone")
    first_accepted = page.locator('.offer[data-status="accepted"]').first.get_attribute("data-offer")
    for path in ("/login-shown", "/", "/machines/m01/assign", f"/offers/{first_accepted}/count",
                 f"/offers/{first_accepted}/decline"):
        if path == "/login-shown":
            other = context.browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
            p = other.new_page()
            p.goto(f"{url}/login")
        else:
            p = page
            p.goto(f"{url}{path}")
        name = path.strip("/").replace("/", "_") or "home"
        p.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        small = p.evaluate("""() => [...document.querySelectorAll('button, a, input[type=submit]')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.textContent.trim().slice(0, 40), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 48)""")
        assert small == [], f"{path}: touch targets under 48 px: {small}"
        wide = p.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], f"{path}: the page scrolls sideways at 390 px ({wide[0]} > {wide[1]})"
        assert p.evaluate("() => /[가-힣]/.test(document.body.innerText)"), path
        if path == "/login-shown":
            other.close()
    context.close()
