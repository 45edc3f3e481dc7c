"""The gateway's operator page in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright), served by a real uvicorn from a real store: a person logs in with a Korean password."""

from __future__ import annotations

import time

import pytest

from edge_gateway.outbox import Outbox
from edge_gateway.web import SESSION_COOKIE, create_app, load_session_key
from hub.server import BackgroundServer
from tests.integration.test_gateway_page import PASSWORD, REGISTRY, WORKSHOP, store  # noqa: F401 (fixture)

from playwright.sync_api import expect



@pytest.fixture
def gateway_page(store: Outbox, tmp_path):
    app = create_app(store, workshop=WORKSHOP, operator_password=PASSWORD,
                     session_key=load_session_key(tmp_path / "web-session.key"))
    with BackgroundServer(app) as server:
        yield server


def test_type_the_korean_password_see_the_machines_stay_logged_in_and_log_out(gateway_page, browser):
    url = gateway_page.url
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login")  # a form, not the browser's own password dialog
    assert response.status == 200 and not dialogs

    page.locator("#password").press_sequentially("틀린비밀번호")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("비밀번호가 틀렸습니다")
    expect(page.locator("#login-error")).to_contain_text("Wrong password")

    page.locator("#password").fill("")
    page.locator("#password").press_sequentially(PASSWORD)  # typed key by key, as a person would
    page.click("#login-button")
    expect(page).to_have_url(f"{url}/")
    for machine in REGISTRY.values():
        expect(page.locator(f'.card[data-machine="{machine}"] .machine')).to_have_text(machine)
    expect(page.locator('.card[data-machine="m01"] .stitches')).to_have_text("1,234")

    session = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
    assert session[0]["expires"] > time.time() + 29 * 86400  # remembered on this device
    assert SESSION_COOKIE not in page.evaluate("document.cookie")  # scripts cannot read it

    page.reload()
    expect(page).to_have_url(f"{url}/")
    expect(page.locator('.card[data-machine="m02"] .stitches')).to_have_text("1,235")

    page.click("#logout-button")
    expect(page).to_have_url(f"{url}/login")
    page.goto(f"{url}/")
    expect(page).to_have_url(f"{url}/login")
    context.close()
