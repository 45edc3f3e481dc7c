"""Token guessing against the hub over real HTTP (uvicorn on a free port): every door that checks
a secret (the login form, `/?token=` links, Bearer API calls, the embedded store's write and
query credentials) refuses an address after a few wrong secrets, says when to try again, and
counts it; another address is not affected. The API docs need a login like everything else."""

from __future__ import annotations

import base64
from typing import Callable

import httpx
import pytest

from hub.app import create_app
from hub.core.settings import load_settings
from hub.server import BackgroundServer
from tests.waiting import wait_for

TOKEN = "logins-reader-token"
WRITE_TOKEN = "logins-writer-token"
ALLOWED = 5
LINE = b"sewing,machine=m03,workshop=ws-changsin-01 interval_ms=10000i,run_ms=10i,stitches=1i"


@pytest.fixture
def hub(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN])
    with BackgroundServer(create_app(settings)) as server:
        yield server


def client_from(url: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client connecting from `address`: the whole of 127/8 is this machine, so a second
    loopback address stands in for a second computer."""
    return httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address))


def counts(url: str) -> dict:
    with client_from(url, "127.0.0.9") as c:  # an address no test locks out
        r = c.get("/api/v1/rejections", headers={"Authorization": f"Bearer {TOKEN}"})
    return r.json()["counts"]


# Each door: how to try a secret, and the status a wrong and a right secret get.
def login_form(c: httpx.Client, secret: str) -> httpx.Response:
    return c.post("/login", data={"token": secret})


def token_link(c: httpx.Client, secret: str) -> httpx.Response:
    return c.get("/", params={"token": secret})


def bearer_api(c: httpx.Client, secret: str) -> httpx.Response:
    return c.get("/api/v1/capacity", headers={"Authorization": f"Bearer {secret}"})


def store_write(c: httpx.Client, secret: str) -> httpx.Response:
    return c.post("/api/v2/write", params={"bucket": "sewnet", "precision": "s"}, content=LINE,
                  headers={"Authorization": f"Token {secret}"})


def store_write_v1_basic(c: httpx.Client, secret: str) -> httpx.Response:
    basic = base64.b64encode(f"gateway:{secret}".encode()).decode()
    return c.post("/write", params={"db": "sewnet", "precision": "s"}, content=LINE,
                  headers={"Authorization": f"Basic {basic}"})


def store_query(c: httpx.Client, secret: str) -> httpx.Response:
    q = 'SELECT last("stitches") FROM "sewing" WHERE time > now() - 30d GROUP BY "workshop", "machine"'
    return c.get("/query", params={"db": "sewnet", "q": q, "u": "hub", "p": secret})


DOORS = [
    # door, right secret, status for it, status for a wrong one, rejection counter when locked
    (login_form, TOKEN, 303, 401, "login:locked_out"),
    (token_link, TOKEN, 303, 401, "login:locked_out"),
    (bearer_api, TOKEN, 200, 401, "api:locked_out"),
    (store_write, WRITE_TOKEN, 204, 401, "write:locked_out"),
    (store_write_v1_basic, WRITE_TOKEN, 204, 401, "write:locked_out"),
    (store_query, TOKEN, 200, 401, "query:locked_out"),
]


@pytest.mark.parametrize("door,right,ok,wrong,counter", DOORS, ids=[d[0].__name__ for d in DOORS])
def test_each_door_locks_an_address_out_after_a_few_wrong_secrets(hub, door: Callable, right, ok, wrong, counter):
    with client_from(hub.url) as guesser, client_from(hub.url, "127.0.0.2") as neighbour:
        assert door(guesser, right).status_code == ok  # the door works
        for i in range(ALLOWED):
            r = door(guesser, f"guess-number-{i:04d}")
            assert r.status_code == wrong, (i, r.text)
        # Before the fix a guesser went on at 700 tries a second.
        for secret in ("guess-number-9999", right):  # even the right secret, once locked out
            r = door(guesser, secret)
            assert r.status_code == 429, r.text
            wait_s = int(r.headers["retry-after"])
            assert 14 * 60 < wait_s <= 15 * 60
            assert "틀린 토큰이 너무 많이 입력되었습니다. 15분 뒤에 다시 시도하세요." in r.text
            assert "Too many wrong tokens. Try again in 15 min." in r.text
        # Another address, and the same address at another door, are not affected.
        assert door(neighbour, right).status_code == ok
        other = bearer_api if door is not bearer_api else store_query
        assert other(guesser, TOKEN).status_code == 200
    assert counts(hub.url)[counter] == 2


def test_the_login_page_says_when_to_try_again(hub):
    with client_from(hub.url) as c:
        for i in range(ALLOWED):
            assert login_form(c, f"wrong-{i}-token").status_code == 401
        r = login_form(c, TOKEN)
        assert r.status_code == 429 and r.headers["content-type"].startswith("text/html")
        assert 'id="login-locked"' in r.text and "15분 뒤에 다시 시도하세요" in r.text
        assert "sewnet_hub_session" not in r.cookies


def test_a_lockout_ends_when_its_window_has_passed(tmp_path):
    settings = load_settings(telemetry="embedded", embedded_path=tmp_path / "hub.sqlite",
                             embedded_write_token=WRITE_TOKEN, api_tokens=[TOKEN],
                             login_failures_allowed=2, login_lockout=2)
    with BackgroundServer(create_app(settings)) as server, client_from(server.url) as c:
        assert [bearer_api(c, "not-the-token").status_code for _ in range(3)] == [401, 401, 429]
        r = bearer_api(c, TOKEN)
        assert r.status_code == 429 and int(r.headers["retry-after"]) <= 2
        assert "Try again in 2 s" in r.json()["detail"] or "Try again in 1 s" in r.json()["detail"]
        wait_for(lambda: bearer_api(c, TOKEN).status_code == 200, timeout=10, what="the lockout to end")


def test_missing_credentials_are_not_guesses(hub):
    with client_from(hub.url) as c:
        for _ in range(3 * ALLOWED):
            assert c.get("/api/v1/capacity").status_code == 401
            assert c.post("/api/v2/write", params={"bucket": "sewnet"}, content=LINE).status_code == 401
        assert bearer_api(c, TOKEN).status_code == 200
        assert store_write(c, WRITE_TOKEN).status_code == 204


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_api_docs_need_a_login(hub, path):
    with client_from(hub.url) as c:
        r = c.get(path)
        if path == "/openapi.json":
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        else:
            assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get(path, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
        r = c.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        if path == "/openapi.json":
            assert "/api/v1/capacity" in r.json()["paths"]
        # A page session opens them too, so a person logged in can read them in the browser.
        assert login_form(c, TOKEN).status_code == 303
        assert c.get(path).status_code == 200
    with client_from(hub.url, "127.0.0.3") as c:
        # A wrong Bearer token on the docs is a guess like any other.
        for _ in range(ALLOWED):
            assert c.get(path, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
        assert c.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429
