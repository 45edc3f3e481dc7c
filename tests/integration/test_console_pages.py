"""The coordinator's console in a real headless Chromium (Debian's, driven by Playwright) against a
real uvicorn over a real PostgreSQL holding a generated Dongdaemun, with machine summaries written
through the hub's own write API: log in, look over the network and one workshop, enter an order
(wrong first: every problem beside its field), see the plan, compare a what-if, accept, export the
plan as CSV and a dispatch sheet as PDF, and accept a re-plan after a workshop declines.

Screenshots of every page go to SEWNET_SCREENS when it names a folder (docs/screens for the README)."""

from __future__ import annotations

import csv
import gzip
import io
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pypdf
import pytest
from playwright.sync_api import expect

from hub.app import create_app
from hub.core import db
from hub.planning import offers
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from tests.integration.planning_world import AUTH, NET, TOKEN, seed, today

WRITE_TOKEN = "console-writer-token"
# A workshop with at least four machines: sewing, idle, stopped and off, one of each.
SHOP = next(w for w in NET.workshops if sum(m.workshop_id == w.id for m in NET.machines) >= 4)
WORKSHOP = SHOP.id


def _write(url: str, lines: list[str]) -> None:
    r = httpx.post(f"{url}/api/v2/write", params={"org": "sewnet", "bucket": "sewnet", "precision": "s"},
                   content=gzip.compress("\n".join(lines).encode()),
                   headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 204, r.text


@pytest.fixture
def hub(postgresql, tmp_path):
    seed(postgresql.url, tmp_path / "network")
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "telemetry.sqlite", api_tokens=[TOKEN],
                             embedded_write_token=WRITE_TOKEN, database_url=postgresql.url, planning_time_limit=5)
    with BackgroundServer(create_app(settings)) as server:
        machines = sorted(m.machine_id for m in NET.machines if m.workshop_id == WORKSHOP)
        assert len(machines) >= 4
        now = int(time.time())

        def line(machine: str, ago_s: int, run_ms: int, stitches: int) -> str:
            return (f"sewing,machine={machine},workshop={WORKSHOP} interval_ms=10000i,run_ms={run_ms}i,"
                    f"stitches={stitches}i {now - ago_s}")

        _write(server.url, [line(machines[0], 10, 6000, 480),  # ran in the latest summary: sewing
                            line(machines[1], 20, 0, 0), line(machines[1], 8 * 60, 4000, 300),  # ran 8 min ago: idle
                            line(machines[2], 30, 0, 0), line(machines[2], 40 * 60, 5000, 300)])
        # machines[2] reports but last ran 40 minutes ago: stopped since then; the rest: off
        server.db_url = postgresql.url
        server.stopped_at = datetime.fromtimestamp(now - 40 * 60, timezone.utc)
        yield server, machines


def server_db_url(server) -> str:
    return server.db_url


def _shot(page, name: str, tmp_path: Path) -> None:
    folder = os.environ.get("SEWNET_SCREENS")
    path = Path(folder) / f"{name}.png" if folder else tmp_path / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))  # the first screenful: what a person sees on arrival
    assert path.stat().st_size > 10_000


def test_coordinator_plans_an_order_from_the_console(hub, browser, tmp_path):
    server, machines = hub
    url = server.url
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # Every page needs the login.
    for path in ("/network", f"/network/{WORKSHOP}", "/orders/new", "/orders/x/plan.csv", "/orders/x/dispatch/y.pdf"):
        page.goto(url + path)
        expect(page).to_have_url(f"{url}/login")
    page.fill("#token", TOKEN)
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")

    # The network: every workshop, paged; a bad filter is said beside its field; filters narrow.
    page.goto(f"{url}/network")
    expect(page.locator("#network-count")).to_contain_text(f"{len(NET.workshops):,}곳")
    expect(page.locator("#network-table tbody tr")).to_have_count(25)
    expect(page.locator("#network-table svg.loading").first).to_be_visible()
    _shot(page, "network", tmp_path)
    page.click("#next-page")
    expect(page.locator("#network-count")).to_contain_text("2 / 8쪽")
    page.select_option("#family", "knit_tops")
    page.fill("#min_free", "lots")
    page.click("#filter-button")
    expect(page.locator("#min_free-error")).to_contain_text("number of SAM-minutes")
    knit = sum("knit_tops" in w.families for w in NET.workshops)
    expect(page.locator("#network-count")).to_contain_text(f"{knit:,}곳")
    page.fill("#min_free", "20000")
    page.click("#filter-button")
    frees = [int(t.replace(",", "")) for t in page.locator("#network-table .free").all_inner_texts()]
    assert frees and all(f >= 20000 for f in frees)

    # One workshop: its machines now, from the summaries written above.
    page.goto(f"{url}/network/{WORKSHOP}")
    states = {m: page.locator(f'#machines tr[data-machine="{m}"]').get_attribute("data-state") for m in machines}
    assert [states[m] for m in machines[:3]] == ["sewing", "idle", "stopped"]
    assert all(states[m] == "off" for m in machines[3:])
    expect(page.locator(f'#machines tr[data-machine="{machines[0]}"]')).to_contain_text("재봉 중")
    since = server.stopped_at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%H:%M")  # Seoul time, as the page says
    expect(page.locator(f'#machines tr[data-machine="{machines[2]}"] .machine-state')).to_contain_text(
        f"정지 {since}부터")
    expect(page.locator(f'#machines tr[data-machine="{machines[2]}"] .machine-state')).to_contain_text(
        f"stopped since {since}")
    expect(page.locator("#on-time")).to_contain_text(f"{round(SHOP.on_time_rate * 100)}%")
    expect(page.locator("#history svg")).to_be_visible()
    _shot(page, "workshop", tmp_path)

    # A new order, wrong first: each problem beside its field, in Korean and English.
    page.click("#nav-new-order")
    page.fill("#style", "반팔 라운드 티셔츠 / crew-neck tee")
    page.fill("#quantity", "lots")
    page.fill("#due", today().isoformat())
    page.fill("#bundle_size", "50")
    page.fill("#sam_overlock", "3.6")
    page.fill("#sam_coverstitch", "1.8")
    page.fill("#sam_lockstitch", "700")
    page.click("#plan-button")
    expect(page.locator("#form-problems")).to_be_visible()
    expect(page.locator("#quantity-error")).to_contain_text("must be a whole number")
    expect(page.locator("#family-error")).to_contain_text("꼭 필요한 항목입니다")
    expect(page.locator("#sam-fieldset .field-error")).to_contain_text("from 0 to 600")
    _shot(page, "order-new", tmp_path)
    page.fill("#id", "tee-console")
    page.select_option("#family", "knit_tops")
    page.fill("#quantity", "20000")
    page.fill("#sam_lockstitch", "0.6")
    page.fill("#min_lot", "500")
    page.fill("#max_workshops", "25")
    page.fill("#price_per_piece_krw", "2500")
    page.click("#plan-button")
    expect(page.locator("#due-error")).to_contain_text("no sewing day is left")  # the engine's own rule
    page.fill("#due", (today().fromordinal(today().toordinal() + 10)).isoformat())
    page.click("#plan-button")

    # The proposed plan: timeline, cost, reasons; each figure from the stored plan.
    expect(page).to_have_url(f"{url}/orders/tee-console")
    plan = httpx.get(f"{url}/api/v1/orders/tee-console/plan", headers=AUTH, timeout=30).json()
    assert plan["feasible"] and plan["pieces"] == 20000
    expect(page.locator("#timeline svg g[data-workshop]").first).to_be_visible()
    cells = page.locator("#timeline svg g[data-workshop]").count()
    assert cells == sum(1 for a in plan["assignments"] for s in a["schedule"] if s["pieces"] > 0)
    expect(page.locator("#plan-cost")).to_contain_text(f"{plan['cost']['total']:,.0f}원")
    expect(page.locator("#assignments tbody tr")).to_have_count(len(plan["assignments"]))
    first = plan["assignments"][0]
    expect(page.locator(f'#assignments tr[data-workshop="{first["workshop"]}"] .reasons')).to_contain_text(
        first["reasons"][0]["ko"])
    _shot(page, "plan", tmp_path)

    # What-if: half the quantity, beside the current plan; nothing stored.
    page.fill("#wi-quantity", "10000")
    page.click("#whatif-button")
    expect(page.locator("#whatif-plan")).to_contain_text("10,000벌")
    expect(page.locator("#current-plan svg.timeline")).to_be_visible()
    expect(page.locator("#whatif-plan svg.timeline")).to_be_visible()
    assert page.locator('#whatif-diff tr[data-kind="cut"]').count() >= 1
    _shot(page, "whatif", tmp_path)
    page.fill("#wi-quantity", "10010")
    page.click("#whatif-button")
    expect(page.locator("#quantity-error")).to_contain_text("10,000 or 10,050")
    assert len(httpx.get(f"{url}/api/v1/orders/tee-console/plans", headers=AUTH).json()) == 1

    # Accept; the orders page shows it with its expected finish.
    page.goto(f"{url}/orders/tee-console")
    page.click("#accept-button")
    expect(page.locator("#accepted-note")).to_be_visible()
    expect(page.locator("#order-status")).to_contain_text("승인됨")
    expect(page.locator("#progress .card")).to_have_count(len(plan["assignments"]))
    # The accepted plan became one offer per workshop, waiting for answers.
    expect(page.locator("#offers tbody tr")).to_have_count(len(plan["assignments"]))
    assert set(page.locator("#offers tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)")) == {"offered"}
    page.click("#nav-orders")
    last_day = max(s["day"] for a in plan["assignments"] for s in a["schedule"] if s["pieces"] > 0)
    row = page.locator('#orders-table tr[data-order="tee-console"]')
    expect(row.locator(".finish")).to_contain_text(f"{int(last_day[5:7])}/{int(last_day[8:10])}")
    _shot(page, "orders", tmp_path)

    # The second workshop's owner accepts and counts 300 finished pieces; the first declines (as
    # its gateway sends them): the hub re-plans the declined share as a proposal.
    first, second = plan["assignments"][0], plan["assignments"][1]
    offer_of = {o["workshop_id"]: o["id"] for o in
                httpx.get(f"{url}/api/v1/orders/tee-console/offers", headers=AUTH).json()["offers"]}
    database = db.Database(server_db_url(server))
    try:
        with database.session() as session:
            tokens = {w: offers.issue_workshop_token(session, w) for w in (first["workshop"], second["workshop"])}
    finally:
        database.close()
    now = datetime.now(timezone.utc).isoformat()

    def answer(workshop: str, body: dict) -> dict:
        r = httpx.post(f"{url}/api/v1/workshops/{workshop}/answers", json=body, timeout=30,
                       headers={"Authorization": f"Bearer {tokens[workshop]}"})
        assert r.status_code == 200, r.text
        return r.json()

    answer(second["workshop"], {"answers": [{"answer_id": str(uuid.uuid4()), "offer_id": offer_of[second["workshop"]],
                                             "answer": "accept", "reason": None, "answered_at": now}],
                                "reports": [{"report_id": str(uuid.uuid4()), "kind": "count", "pieces": 300,
                                             "offer_id": offer_of[second["workshop"]], "at": now}]})

    # Exports, with the page's session; the accepted workshop's sheet carries its offer's phone link.
    answer_csv = page.request.get(f"{url}/orders/tee-console/plan.csv")
    assert answer_csv.status == 200 and answer_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer_csv.text().lstrip("\ufeff"))))
    assert sum(int(r["pieces"]) for r in rows) == 20000
    assert {r["workshop"] for r in rows} == {a["workshop"] for a in plan["assignments"]}
    sheet = page.request.get(f"{url}/orders/tee-console/dispatch/{second['workshop']}.pdf")
    assert sheet.status == 200 and sheet.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(sheet.body())).pages)
    assert "작업 지시서" in text and second["name_ko"] in text and f"{second['pieces']:,}벌" in text
    assert f"/offer/{offer_of[second['workshop']]}?exp=" in text.replace("\n", "")
    assert page.request.get(f"{url}/orders/tee-console/dispatch/ws-nobody.pdf").status == 404

    answer(first["workshop"], {"answers": [{"answer_id": str(uuid.uuid4()), "offer_id": offer_of[first["workshop"]],
                                            "answer": "decline", "reason": "machines_busy", "answered_at": now}]})
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/api/v1/orders/tee-console", headers=AUTH).json()["status"] != "replanned":
        assert time.monotonic() < deadline, "the decline was not re-planned within 60 s"
        time.sleep(0.2)
    page.goto(f"{url}/orders/tee-console")
    expect(page.locator(f'#offers tr[data-workshop="{first["workshop"]}"]')).to_have_attribute("data-status",
                                                                                               "declined")
    expect(page.locator(f'#offers tr[data-workshop="{first["workshop"]}"]')).to_contain_text("기계가 다른 일을 하는 중")
    expect(page.locator(f'#progress .card[data-workshop="{second["workshop"]}"] .done-figure')).to_contain_text("300")
    expect(page.locator(f'#progress .card[data-workshop="{second["workshop"]}"] polyline.done')).to_have_count(1)
    expect(page.locator("#replan")).to_be_visible()
    expect(page.locator(f'#diff tr[data-workshop="{first["workshop"]}"]')).to_have_attribute("data-kind", "cut")
    expect(page.locator("#replan-why")).to_contain_text(first["workshop"])
    replanned = httpx.get(f"{url}/api/v1/orders/tee-console/plan", headers=AUTH).json()
    expect(page.locator("#moved-pieces")).to_have_text(f"{replanned['moved_pieces']:,}")
    _shot(page, "replan", tmp_path)
    page.goto(f"{url}/network/{second['workshop']}")  # the workshop's own page shows its offer and count
    expect(page.locator(f'#workshop-offers tr[data-offer="{offer_of[second["workshop"]]}"]')).to_contain_text("300")
    expect(page.locator('#jobs tr[data-order="tee-console"]')).to_be_visible()
    page.goto(f"{url}/orders/tee-console")
    page.click("#accept-replan")
    expect(page.locator("#accepted-note")).to_be_visible()
    expect(page.locator("#replan")).to_have_count(0)
    assert httpx.get(f"{url}/api/v1/orders/tee-console", headers=AUTH).json()["accepted_version"] == 2
    page.goto(f"{url}/orders")
    expect(page.locator('#orders-table tr[data-order="tee-console"] .offers [data-status="declined"]')).to_be_visible()
    context.close()


def test_an_order_behind_plan_is_flagged_and_a_replan_proposed_from_its_page(hub, browser, tmp_path):
    from tests.integration.planning_world import tee_order
    from tests.integration.test_offers_api import fall_behind

    server, _ = hub
    url = server.url
    api = httpx.Client(base_url=url, headers=AUTH, timeout=60)
    body = tee_order(id="tee-late", quantity=3000, min_lot=500, max_workshops=4)
    assert api.post("/api/v1/orders", json=body).status_code == 201
    plan = api.post("/api/v1/orders/tee-late/plan").json()
    assert plan["feasible"] and api.post("/api/v1/orders/tee-late/accept").status_code == 200
    late = plan["assignments"][0]
    offer_id = next(o["id"] for o in api.get("/api/v1/orders/tee-late/offers").json()["offers"]
                    if o["workshop_id"] == late["workshop"])
    database = db.Database(server_db_url(server))
    try:
        with database.session() as session:
            token = offers.issue_workshop_token(session, late["workshop"])
        r = httpx.post(f"{url}/api/v1/workshops/{late['workshop']}/answers", timeout=30,
                       headers={"Authorization": f"Bearer {token}"},
                       json={"answers": [{"answer_id": str(uuid.uuid4()), "offer_id": offer_id, "answer": "accept",
                                          "reason": None, "answered_at": datetime.now(timezone.utc).isoformat()}]})
        assert r.json()["answers"][0]["result"] == "applied"
        fall_behind(database, offer_id)  # its pieces were due yesterday; none are done
    finally:
        database.close()

    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("#token", TOKEN)
    page.click("#login-button")
    page.goto(f"{url}/orders")
    expect(page.locator('#orders-table tr[data-order="tee-late"] .behind')).to_contain_text("늦어짐")
    page.click('#orders-table tr[data-order="tee-late"] .order-link')
    item = page.locator(f'#behind-workshops li[data-workshop="{late["workshop"]}"]')
    expect(item).to_contain_text(f"{late['pieces']:,}벌 계획, 0벌 완료")
    expect(item).to_contain_text(f"0 done of {late['pieces']:,} planned by now")
    expect(page.locator(f'#progress .card[data-workshop="{late["workshop"]}"] circle.due-now.behind')).to_have_count(1)
    _shot(page, "behind", tmp_path)
    page.click("#propose-replan")
    expect(page.locator("#proposed-note")).to_be_visible()
    expect(page.locator("#replan")).to_be_visible()
    expect(page.locator("#replan-why")).to_contain_text(f"{late['workshop']}: 능력 10%만 남음")
    expect(page.locator("#propose-replan")).to_have_count(0)  # one proposal at a time
    order = api.get("/api/v1/orders/tee-late").json()
    assert order["status"] == "replanned" and order["accepted_version"] == 1
    page.click("#accept-replan")
    expect(page.locator("#accepted-note")).to_be_visible()
    assert api.get("/api/v1/orders/tee-late").json()["accepted_version"] == order["current_version"]
    context.close()
    api.close()
