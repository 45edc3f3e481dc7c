"""The made-to-measure kiosk in a real headless Chromium against a real uvicorn over a real
PostgreSQL holding a generated Dongdaemun (a few of its workshops registered as taking single
pieces): a full order in each language, the estimate path, a refused and a questioned
measurement, the idle time-out's warning and clearing, and the tracking page advancing as the
workshop answers its offer through the offers API and its machines' stitches arrive through the
hub's own write API; no measurement value in any log line meanwhile.

The pattern and fit modules are the contract's (hub.kiosk.parts); nothing is mocked."""

from __future__ import annotations

import csv
import io
import logging
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from hub import registry
from hub.app import create_app
from hub.core import db
from hub.core.settings import load_settings
from hub.kiosk.config import KioskSettings
from hub.planning import offers
from hub.server import BackgroundServer
from tests.integration.planning_world import NET, TOKEN, seed

WRITE_TOKEN = "kiosk-writer-token"
#: Three knit and three woven workshops that take single pieces (sample makers), each with every
#: machine type its design needs.
def _having(family: str, types: set[str]) -> list[str]:
    return [w.id for w in NET.workshops if family in w.families
            and types <= {m.type for m in NET.machines if m.workshop_id == w.id}]


KNIT = [w for w in _having("knit_tops", {"overlock", "coverstitch", "lockstitch"})][:3]
WOVEN = [w for w in _having("woven_shirts", {"lockstitch", "overlock", "buttonhole", "button_sew"})
         if w not in KNIT][:3]
SINGLE = KNIT + WOVEN


def _single_pieces(url: str) -> None:
    database = db.Database(url)
    try:
        with database.session() as s:
            rows = list(csv.DictReader(io.StringIO(registry.export_csv(s, "workshops"))))
            for r in rows:
                if r["id"] in SINGLE:
                    r["min_order_pieces"] = "1"
            out = io.StringIO()
            w = csv.DictWriter(out, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
            report = registry.import_csv(s, "workshops", out.getvalue().encode())
            assert report.ok and report.changed == len(SINGLE), report.summary()
    finally:
        database.close()


class Kiosk:
    def __init__(self, server: BackgroundServer, url: str):
        self.server, self.url, self.base = server, url, server.url
        self.db = db.Database(url)

    def token(self, workshop: str) -> dict:
        with self.db.session() as s:
            return {"Authorization": f"Bearer {offers.issue_workshop_token(s, workshop)}"}

    def row(self, code: str) -> dict:
        with self.db.session() as s:
            return dict(s.execute(text("SELECT * FROM kiosk_orders WHERE code = :c"), {"c": code}).mappings().one())

    def live_offer(self, code: str) -> dict | None:
        order_id = self.row(code)["planning_order_id"]
        with self.db.session() as s:
            found = [o for o in offers.offers_for_order(s, order_id) if o["status"] in ("offered", "accepted")]
        return found[-1] if found else None

    def answer(self, offer: dict, kind: str = "accept", reason: str | None = None) -> None:
        w = offer["workshop_id"]
        body = {"answers": [{"answer_id": str(uuid.uuid4()), "offer_id": offer["id"], "answer": kind,
                             "reason": reason, "answered_at": datetime.now(timezone.utc).isoformat()}]}
        r = httpx.post(f"{self.base}/api/v1/workshops/{w}/answers", json=body, headers=self.token(w), timeout=30)
        assert r.json()["answers"][0]["result"] == "applied", r.text

    def report(self, offer: dict, kind: str, at: datetime, **fields) -> None:
        w = offer["workshop_id"]
        body = {"reports": [{"report_id": str(uuid.uuid4()), "kind": kind, "offer_id": offer["id"],
                             "at": at.isoformat(), **fields}]}
        r = httpx.post(f"{self.base}/api/v1/workshops/{w}/answers", json=body, headers=self.token(w), timeout=30)
        assert r.json()["reports"][0]["result"] == "applied", r.text

    def stitches(self, workshop: str, machine: str, at: datetime, n: int) -> None:
        line = (f"sewing,machine={machine},workshop={workshop} interval_ms=60000i,peak_spm=3000i,run_ms=50000i,"
                f"stitches={n}i,stops=0i {int(at.timestamp())}")
        r = httpx.post(f"{self.base}/api/v2/write", params={"bucket": "sewnet", "precision": "s"},
                       content=line.encode(), headers={"Authorization": f"Token {WRITE_TOKEN}"}, timeout=30)
        assert r.status_code == 204, r.text


@pytest.fixture
def kiosk(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    _single_pieces(postgresql.url)
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "telemetry.sqlite", api_tokens=[TOKEN],
                             embedded_write_token=WRITE_TOKEN, database_url=postgresql.url, planning_time_limit=5)
    ks = KioskSettings(idle_timeout_s=6, idle_warning_s=20, store="SewNet 동대문점", reroute_check_s=1,
                       cutoff="23:59", orders_per_minute=20)
    with BackgroundServer(create_app(settings, kiosk_settings=ks)) as server:
        k = Kiosk(server, postgresql.url)
        try:
            yield k
        finally:
            k.db.close()


def wait_for(check: Callable[[], object], what: str, deadline_s: float = 30.0):
    end = time.monotonic() + deadline_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# Distinctive values (cm), so a log line holding one is found: none may appear in any log.
BODY = {"height": "173.3", "chest": "97.7", "waist": "83.9", "hip": "96.1", "shoulder": "41.3", "arm": "59.3",
        "neck": "38.7", "weight": "68.9"}


def order_in(page, base: str, lang: str, design: str = "tshirt", body: dict = BODY) -> str:
    """A full order through every screen in `lang`; returns the tracking link."""
    page.goto(f"{base}/kiosk")
    page.click(f"#lang-{lang}")
    expect(page.locator("#main")).to_have_attribute("lang", lang)
    page.click(f"#pick-{design}")
    page.click("#colour-" + {"tshirt": "navy", "shirt": "sky"}[design] + " + span")
    page.click("#sleeve-long + span")
    page.click("#pocket-chest + span")
    page.click("#next")
    page.click("#gender-male + span")
    for f, v in body.items():
        if page.locator(f"#{f}").count():
            page.fill(f"#{f}", v)
    page.click("#next")
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#fit tbody tr")).to_have_count(6)
    page.click("#next")
    expect(page.locator("#promise")).to_be_visible()
    assert page.locator("#order").count(), page.locator("#main").inner_text()
    page.click("#order")
    expect(page.locator("#order-code")).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator("#qr")).to_be_visible()
    return page.locator("#track-link").get_attribute("href")


WORDS_SEEN = {"ko": ("주문 번호", "계산대에서 결제해 주세요", "준비"), "en": ("Order number", "Please pay at the counter", "Ready"),
              "zh": ("订单号", "请到收银台付款", "可取")}


def test_a_full_order_in_each_language_with_no_measurement_in_any_log(kiosk, browser, caplog):
    caplog.set_level(logging.DEBUG)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    links = {}
    for lang, design in (("ko", "tshirt"), ("en", "shirt"), ("zh", "tshirt")):
        links[lang] = order_in(page, kiosk.base, lang, design)
        for words in WORDS_SEEN[lang]:
            expect(page.locator("#main")).to_contain_text(words)
    # Each order is an offer to a workshop that sews the family and takes single pieces.
    for lang, link in links.items():
        code = re.search(r"/kiosk/t/(\d+)", link).group(1)
        row = kiosk.row(code)
        assert row["workshop_id"] in SINGLE and row["body"]["chest"] == pytest.approx(977)
        offer = kiosk.live_offer(code)
        assert offer is not None and offer["status"] == "offered" and offer["workshop_id"] == row["workshop_id"]
        page.goto(link)
        expect(page.locator("#now")).to_have_attribute("data-stage", "received")
        expect(page.locator("#main")).to_have_attribute("lang", lang)
    # Every target is at least 44 px (56 by design) on every screen type seen last.
    page.goto(f"{kiosk.base}/kiosk?big=1")
    sizes = page.eval_on_selector_all("button, a.button", "els => els.filter(e => e.offsetParent)"
                                      ".map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
    assert sizes and all(w >= 44 and h >= 44 for w, h in sizes), sizes
    logged = caplog.text
    for v in BODY.values():
        for form in (v, str(round(float(v) * 10)), f"{float(v) * 10:g}"):
            # A whole number on its own, so a random order code that happens to hold the digits
            # (order 459354 holds 593) is not taken for a measurement.
            found = re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", logged)
            assert found is None, f"a measurement ({form}) reached the log"
    context.close()


def _to_measurements(page, base: str, lang: str, design: str = "shirt") -> None:
    page.goto(f"{base}/kiosk?lang={lang}")
    page.click(f"#pick-{design}")
    page.click("#next")
    expect(page.locator("#privacy")).to_be_visible()


def test_the_estimate_path_a_refused_and_a_questioned_measurement(kiosk, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    _to_measurements(page, kiosk.base, "en")
    # Refused: a height no adult has is said next to its field, with the range, and the page stays.
    page.click("#gender-female + span")
    page.fill("#height", "30")
    page.fill("#weight", "55")
    page.click("#estimate")
    expect(page.locator("#height-error")).to_contain_text("cm")
    expect(page.locator("#field-height")).to_have_class(re.compile("bad"))
    # Estimated from height, weight and gender: every field filled, then adjusted.
    page.fill("#height", "162")
    page.click("#estimate")
    expect(page.locator("#estimated")).to_be_visible()
    chest = float(page.input_value("#chest"))
    assert 70 <= chest <= 120 and all(page.input_value(f"#{f}") for f in ("waist", "hip", "shoulder", "arm", "neck"))
    # A refused value beside its field in Chinese, after switching language on this screen.
    page.fill("#chest", "400")
    page.click("#lang-zh")
    expect(page.locator("#main")).to_have_attribute("lang", "zh")
    assert page.input_value("#chest") == "400"  # the entries survive the switch
    page.click("#next")
    expect(page.locator("#chest-error")).to_contain_text("之间")
    expect(page.locator("#preview")).to_have_count(0)
    # A waist far above the chest asks to confirm; confirmed, it goes on to the preview.
    page.fill("#chest", str(chest))
    page.fill("#waist", str(round(chest * 1.3, 1)))
    page.click("#next")
    expect(page.locator("#waist-confirm")).to_be_visible()
    expect(page.locator("#preview")).to_have_count(0)
    page.click("#confirm-waist")
    page.click("#next")
    expect(page.locator("#preview")).to_be_visible()
    expect(page.locator("#fit tr[data-area=waist]")).to_be_visible()
    # Counted where the hub counts what it refused (field names only, never the values).
    r = httpx.get(f"{kiosk.base}/api/v1/rejections", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200 and "measurement_refused" in r.text and "400" not in r.text


def test_the_idle_time_out_warns_offers_more_time_then_clears(kiosk, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    _to_measurements(page, kiosk.base, "ko", "tshirt")
    page.fill("#height", "171")
    # 6 s without a touch: the warning, with at least 20 s left and a button for more time.
    expect(page.locator("#idle")).to_be_visible(timeout=15_000)
    left = int(re.search(r"(\d+)", page.locator("#idle-text").inner_text()).group(1))
    assert 15 <= left <= 20
    page.click("#idle-more")
    expect(page.locator("#idle")).to_be_hidden()
    assert page.input_value("#height") == "171"
    # Warned again, and no answer: the kiosk starts over and the entries are gone.
    expect(page.locator("#idle")).to_be_visible(timeout=15_000)
    expect(page.locator("#cleared")).to_be_visible(timeout=30_000)
    assert "/kiosk" in page.url and page.locator("#height").count() == 0


def test_the_tracking_page_follows_the_workshop_through_a_decline_to_pick_up(kiosk, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    link = order_in(page, kiosk.base, "ko", "tshirt")
    code = re.search(r"/kiosk/t/(\d+)", link).group(1)
    first = kiosk.live_offer(code)
    # The offer carries the signed link to the pattern files: the workshop downloads the DXF.
    with kiosk.db.session() as s:
        style = s.execute(text("SELECT style FROM planning_orders WHERE id = :i"),
                          {"i": kiosk.row(code)["planning_order_id"]}).scalar_one()
    files = re.search(r"(https?://\S+/kiosk/files/\S+)", style).group(1)
    dxf = httpx.get(files.replace("?", "/pattern.dxf?"), timeout=30)
    assert dxf.status_code == 200 and b"SECTION" in dxf.content
    assert httpx.get(files.replace("sig=", "sig=0"), timeout=10).status_code == 403

    # The workshop declines: the order moves to another that takes single pieces, the page says so.
    kiosk.answer(first, "decline", "no_capacity")
    second = wait_for(lambda: (o := kiosk.live_offer(code)) and o["workshop_id"] != first["workshop_id"] and o,
                      "the order to move to another workshop")
    assert second["workshop_id"] in KNIT
    page.goto(link)
    expect(page.locator("#main")).to_contain_text("옮겼습니다")
    expect(page.locator("#now")).to_have_attribute("data-stage", "received")
    # It accepts: cutting. Its machine sews: sewing, with the stitches. It counts the piece: ready.
    kiosk.answer(second)
    page.goto(link)
    expect(page.locator("#now")).to_have_attribute("data-stage", "cutting")
    now = datetime.now(timezone.utc)
    machine = next(m.machine_id for m in NET.machines if m.workshop_id == second["workshop_id"])
    kiosk.report(second, "assign", now - timedelta(minutes=3), machines=[machine])
    kiosk.stitches(second["workshop_id"], machine, now - timedelta(minutes=1), 1234)
    page.goto(link)
    expect(page.locator("#now")).to_have_attribute("data-stage", "sewing")
    expect(page.locator("#now")).to_contain_text("1,234")
    kiosk.report(second, "count", now, pieces=1)
    page.goto(link)
    expect(page.locator("#now")).to_have_attribute("data-stage", "ready")
    expect(page.locator("#body-kept")).to_be_visible()

    # Staff actions need the hub's login; picked up, the measurements are gone, and the files too.
    assert httpx.post(f"{kiosk.base}/kiosk/staff/{code}/picked_up", timeout=10).status_code == 303
    assert kiosk.row(code)["body"] is not None
    page.goto(f"{kiosk.base}/kiosk/staff")
    expect(page).to_have_url(f"{kiosk.base}/login")
    page.fill("#token", TOKEN)
    page.click("#login-button")
    page.goto(f"{kiosk.base}/kiosk/staff")
    page.click(f"#picked-{code}")
    row = kiosk.row(code)
    assert row["status"] == "picked_up" and row["body"] is None and row["body_deleted_at"] is not None
    assert httpx.get(files.replace("?", "/pattern.dxf?"), timeout=30).status_code == 410
    page.goto(link)
    expect(page.locator("#now")).to_have_attribute("data-stage", "picked_up")
    expect(page.locator("#body-deleted")).to_be_visible()
    context.close()


def test_the_shopper_deletes_their_measurements_from_the_tracking_page(kiosk, browser):
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    link = order_in(page, kiosk.base, "en", "tshirt")
    code = re.search(r"/kiosk/t/(\d+)", link).group(1)
    page.goto(link)
    expect(page.locator("#privacy")).to_contain_text("cancels this order")
    page.click("#forget")
    expect(page.locator("#body-deleted")).to_be_visible()
    expect(page.locator("#now")).to_contain_text("cancelled")
    row = kiosk.row(code)
    assert row["body"] is None and row["status"] == "cancelled"
    # The workshop is told: its offer withdrawn (nothing offered or accepted is left).
    assert kiosk.live_offer(code) is None
    # Without the key, nothing: an order number alone shows no order.
    assert httpx.get(f"{kiosk.base}/kiosk/t/{code}", timeout=10).status_code == 404
    assert httpx.get(f"{kiosk.base}/kiosk/api/orders/{code}?k=wrong", timeout=10).status_code == 404
