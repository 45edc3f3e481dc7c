"""The capacity page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright),
served by a real uvicorn with the embedded store written through the hub's own write API."""

from __future__ import annotations

import gzip
import time

import httpx
import pytest

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer

from playwright.sync_api import expect

TOKEN = "page-reader-token"
WRITE_TOKEN = "page-writer-token"


def line(workshop: str, machine: str, ago_s: int, stitches: int, run_ms: int, now: int) -> str:
    return (f"sewing,machine={machine},workshop={workshop} interval_ms=10000i,run_ms={run_ms}i,"
            f"stitches={stitches}i {now - ago_s}")


def write(url: str, lines: list[str]) -> None:
    r = httpx.post(f"{url}/api/v2/write", params={"org": "sewnet", "bucket": "sewnet", "precision": "s"},
                   content=gzip.compress("\n".join(lines).encode()),
                   headers={"Authorization": f"Token {WRITE_TOKEN}", "Content-Encoding": "gzip"}, timeout=10)
    assert r.status_code == 204, r.text


@pytest.fixture
def hub(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN], page_refresh_s=2)
    with BackgroundServer(create_app(settings)) as server:
        now = int(time.time())
        write(server.url, [
            line("ws-changsin-01", "m03", 30, 812, 7400, now),
            line("ws-changsin-01", "m03", 20, 500, 4000, now),
            line("ws-changsin-01", "m07", 20 * 60, 300, 2500, now),   # 20 min ago: offline
            line("ws-changsin-01", "m09", 2 * 86400, 999, 9999, now),  # two days ago: known only
            line("ws-sinseol-02", "m01", 5, 1000, 9000, now),
        ])
        yield server


def row(page, workshop: str, cell: str):
    return page.locator(f'#capacity-table tr[data-workshop="{workshop}"] .{cell}')


def test_login_see_capacity_refresh_and_log_out(hub, browser):
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(f"{hub.url}/")
    expect(page).to_have_url(f"{hub.url}/login")  # no session: sent to the login form

    page.fill("#token", "not-the-token")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("토큰이 올바르지 않습니다")
    expect(page.locator("#login-error")).to_contain_text("That token is not valid")
    expect(page).to_have_url(f"{hub.url}/login")

    page.fill("#token", TOKEN)
    page.click("#login-button")
    expect(page).to_have_url(f"{hub.url}/")
    expect(page.locator("h1")).to_contain_text("작업장 생산 능력")
    expect(row(page, "ws-changsin-01", "machines")).to_have_text("1 / 3")
    expect(row(page, "ws-changsin-01", "stitches")).to_have_text("1,612")
    expect(row(page, "ws-changsin-01", "ratio")).to_have_text("46%")  # 13,900 ms running of 30,000 observed
    expect(row(page, "ws-sinseol-02", "machines")).to_have_text("1 / 1")
    expect(row(page, "ws-sinseol-02", "stitches")).to_have_text("1,000")
    expect(row(page, "ws-sinseol-02", "ratio")).to_have_text("90%")

    session = [c for c in context.cookies() if c["name"] == "sewnet_hub_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
    assert "sewnet_hub_session" not in page.evaluate("document.cookie")  # scripts cannot read it

    # New summaries show up without a reload: the page polls every 2 s here.
    write(hub.url, [line("ws-sinseol-02", "m04", 2, 234, 1000, int(time.time()))])
    expect(row(page, "ws-sinseol-02", "stitches")).to_have_text("1,234", timeout=15_000)
    expect(row(page, "ws-sinseol-02", "machines")).to_have_text("2 / 2")
    expect(page.locator("#refresh-status")).to_contain_text("갱신됨")

    page.click("#logout-button")
    expect(page).to_have_url(f"{hub.url}/login")
    page.goto(f"{hub.url}/")
    expect(page).to_have_url(f"{hub.url}/login")
    context.close()


def test_a_printed_link_with_the_token_logs_in(hub, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/?token=wrong-token-here")
    expect(page.locator("#login-error")).to_be_visible()

    # Tag values come from the field: markup in one is shown as text, never run.
    write(hub.url, [line("<b>ws-x</b>", "m01", 5, 10, 100, int(time.time()))])
    page.goto(f"{hub.url}/?token={TOKEN}")
    expect(page).to_have_url(f"{hub.url}/")  # the token leaves the address bar
    expect(row(page, "ws-changsin-01", "stitches")).to_have_text("1,612")
    expect(page.locator("#capacity-table")).to_contain_text("<b>ws-x</b>")
    assert page.locator("#capacity-table b").count() == 0
    context.close()
