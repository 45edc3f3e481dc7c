"""The gateway fetches firmware releases from the REAL hub (issue 10 §2): the hub app under uvicorn
over its database, releases published by `hub.release.service`, the gateway's hub link with its
workshop token, its OTA store and its operator page.

A published release is fetched on the hub link's poll, checked by the same code as `release add`
and kept; it waits on /updates for the operator (nothing is offered to a board before a rollout is
started). An unchanged index is a 304. A release from another key is refused after its manifest
and signature alone (no file fetched), a damaged one after its files; each with its reason,
counted, shown, and not fetched again. A withdrawn release cannot be rolled out. A link that
fails in the middle of a download is not a refusal: the next check fetches the release."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import httpx
import pytest

from edge_gateway.config import HubConfig
from edge_gateway.hub_link import HubLink
from edge_gateway.ota import Ota, OtaError, load_release_key
from edge_gateway.outbox import Outbox
from edge_gateway.release_link import ReleaseLink
from edge_gateway.web import create_app as gateway_app
from hub.app import create_app
from hub.core.db import Database
from hub.core.settings import load_settings
from hub.release import load_private_key, service
from hub.server import BackgroundServer
from tests.ota_world import make_release, new_key, workshop_token
from tests.waiting import async_wait_for

WORKSHOP = "ws-fetch-01"
DEVICE = "sn-0a0b0c0d0f01"
REGISTRY = {DEVICE: "m01"}
OPERATOR = "operator-pw-1"


def publish(url: str, folder: Path, key: Path) -> None:
    db = Database(url)
    try:
        with db.session() as session:
            service.publish_folder(session, folder, load_private_key(key).public_key())
    finally:
        db.close()


class FailOnce(httpx.AsyncBaseTransport):
    """The real transport, except that the first request whose path holds `fail_on` (once armed)
    fails as a dropped LTE link does."""

    def __init__(self):
        self.inner = httpx.AsyncHTTPTransport()
        self.fail_on: str | None = None
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.fail_on and self.fail_on in request.url.path:
            self.fail_on = None
            raise httpx.ReadError("connection reset by peer", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def world(tmp_path, hub_database):
    key, pub = new_key(tmp_path)
    token = workshop_token(hub_database, WORKSHOP)
    hub = BackgroundServer(create_app(load_settings(database_url=hub_database,
                                                    embedded_path=tmp_path / "telemetry.sqlite"))).start()
    ota = Ota(tmp_path / "ota.sqlite", load_release_key(Path(str(key) + ".pub")), devices=lambda: list(REGISTRY))
    outbox = Outbox(tmp_path / "gw.sqlite", WORKSHOP, REGISTRY)
    transport = FailOnce()
    releases = ReleaseLink(ota, hub.url, check_every_s=3600)
    link = HubLink(HubConfig(url=hub.url, workshop_token=token, poll_interval_s=5, backoff_max_s=1), outbox,
                   workshop=WORKSHOP, transport=transport, releases=releases)
    page = BackgroundServer(gateway_app(outbox, workshop=WORKSHOP, operator_password=OPERATOR, hub=link, ota=ota,
                                        ota_passwd_file=tmp_path / "passwd")).start()
    operator = httpx.Client(base_url=page.url, timeout=20)
    assert operator.post("/login", data={"password": OPERATOR}).status_code in (200, 303)
    try:
        yield {"tmp": tmp_path, "key": key, "hub": hub, "db": hub_database, "ota": ota, "link": link,
               "releases": releases, "transport": transport, "operator": operator}
    finally:
        operator.close()
        page.stop()
        hub.stop()
        outbox.close()
        ota.close()


async def test_a_published_release_reaches_the_gateways_page_and_waits_for_the_operator(world):
    ota, link, releases, operator = world["ota"], world["link"], world["releases"], world["operator"]
    first = make_release(world["tmp"], world["key"], "0.5.0")
    publish(world["db"], first, world["key"])

    # The hub link's own loop: its first poll checks the offers, then the releases.
    running = asyncio.create_task(link.run())
    try:
        await async_wait_for(lambda: ota.release_sha("0.5.0"), timeout=30, what="0.5.0 fetched on the poll")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    kept = {r["version"]: r for r in ota.releases()}
    assert kept["0.5.0"]["source"] == "hub"
    assert kept["0.5.0"]["manifest_sha256"] == hashlib.sha256((first / "manifest.json").read_bytes()).hexdigest()
    h = releases.health
    assert h.fetched == 1 and h.refused == 0 and h.problem is None
    assert h.last_fetch["version"] == "0.5.0" and h.last_fetch["bytes_down"] > 0
    # Kept byte for byte, ready for the boards: exactly the files the hub signed.
    for f in (first / "files").iterdir():
        assert ota.release_blob("0.5.0", f.name, DEVICE) == f.read_bytes()

    # Nothing rolls out by itself: a board checking in is offered nothing.
    offer = ota.check(DEVICE, {"firmware": "0.4.0", "bootloader": 1})
    assert offer.firmware is None and ota.view()["rollout"] is None
    page = await asyncio.to_thread(operator.get, "/updates")
    assert 'id="release-0.5.0"' in page.text and "허브에서 받음" in page.text
    assert '<option value="0.5.0">' in page.text  # the operator's start form offers it

    # Idle: the index unchanged is a 304 without a body, over the kept connection.
    client, auth = link._http(), link._auth()
    up, down = h.bytes_up, h.bytes_down
    for _ in range(5):
        assert await releases.check(client, auth)
    assert h.not_modified == 5
    per_check = (h.bytes_up - up + h.bytes_down - down) / 5
    assert per_check < 600, per_check
    print(f"\nidle release check: {per_check:.0f} bytes (request and 304, headers included)")

    # Another key's release: refused on its manifest and signature, no file fetched.
    elsewhere = world["tmp"] / "elsewhere"
    elsewhere.mkdir()
    foreign_key, _ = new_key(elsewhere)
    foreign = make_release(elsewhere, foreign_key, "0.6.0")
    publish(world["db"], foreign, foreign_key)  # the hub told another key is its own (a mistake)
    world["transport"].paths.clear()
    down = h.bytes_down
    releases.check_now()
    assert await releases.check(client, auth)
    assert h.refused == 1 and ota.release_sha("0.6.0") is None
    assert not [p for p in world["transport"].paths if "/files/" in p]
    assert h.bytes_down - down < sum(f.stat().st_size for f in (foreign / "files").iterdir()) / 4
    refusal = ota.refusals()[0]
    assert refusal["version"] == "0.6.0" and refusal["count"] == 1
    assert "does not match the hub's release key" in refusal["reason_en"] and ota.key_id in refusal["reason_en"]
    assert refusal["reason_ko"].startswith("서명이")
    page = await asyncio.to_thread(operator.get, "/updates")
    assert 'id="refused-0.6.0"' in page.text and "서명이 허브의 릴리스 키와 맞지 않습니다" in page.text

    # The hub withdraws 0.5.0: the gateway marks it, the operator cannot start it, and the
    # refused 0.6.0 (still the newest) is not fetched again.
    db = Database(world["db"])
    try:
        with db.session() as session:
            service.withdraw(session, "0.5.0", "counts double on one machine type")
    finally:
        db.close()
    world["transport"].paths.clear()
    assert await releases.check(client, auth)
    assert h.withdrawn == 1 and h.refused == 1 and ota.refusals()[0]["count"] == 1
    assert not [p for p in world["transport"].paths if "0.6.0" in p]
    assert {r["version"]: r["withdrawn"] for r in ota.releases()} == {"0.5.0": "counts double on one machine type"}
    with pytest.raises(OtaError, match="withdrew"):
        ota.start_rollout("0.5.0")
    page = await asyncio.to_thread(operator.get, "/updates")
    assert "허브가 철회함" in page.text and '<option value="0.5.0">' not in page.text
    # ... nor add it again from a folder.
    with pytest.raises(OtaError, match="withdrew"):
        ota.add_release(first)

    # A release damaged on the hub's side (its stored file changed): refused after the files.
    damaged = make_release(world["tmp"], world["key"], "0.7.0")
    publish(world["db"], damaged, world["key"])
    with sqlite3.connect(world["db"].removeprefix("sqlite:///")) as hub_db:
        hub_db.execute("UPDATE release_files SET data = CAST(data || X'23' AS BLOB) WHERE version='0.7.0' AND name='sn_app.py'")
    assert await releases.check(client, auth)
    assert h.refused == 2 and ota.release_sha("0.7.0") is None
    assert ota.refusals()[0]["reason_en"] == "files/sn_app.py does not match the signed manifest"

    # The link drops in the middle of a download: not a refusal; the next check fetches it.
    good = make_release(world["tmp"], world["key"], "0.8.0")
    publish(world["db"], good, world["key"])
    world["transport"].fail_on = "/api/v1/releases/0.8.0/files/"
    assert not await releases.check(client, auth)
    assert h.problem == "network" and h.refused == 2 and ota.release_sha("0.8.0") is None
    releases.check_now()  # (the operator's button; otherwise the backoff's next poll)
    assert await releases.check(client, auth)
    assert ota.release_sha("0.8.0") and h.fetched == 2 and h.problem is None

    # The operator starts it from the page: now, and only now, the board is offered it.
    started = await asyncio.to_thread(operator.post, "/updates/rollout", data={"version": "0.8.0", "first": DEVICE})
    assert started.status_code in (200, 303)
    offer = ota.check(DEVICE, {"firmware": "0.4.0", "bootloader": 1})
    assert offer.firmware is not None and offer.firmware["version"] == "0.8.0"


async def test_a_refused_token_is_said_and_nothing_is_kept(world):
    link, releases = world["link"], world["releases"]
    publish(world["db"], make_release(world["tmp"], world["key"], "0.5.0"), world["key"])
    assert not await releases.check(link._http(), {"Authorization": "Bearer swk_wrong"})
    assert releases.health.problem == "token" and releases.status()["level"] == "error"
    assert world["ota"].releases() == [] and world["ota"].hub_state()["etag"] is None
    snapshot = await asyncio.to_thread(world["operator"].get, "/api/v1/devices",
                                       headers={"Authorization": f"Bearer {OPERATOR}"})
    assert snapshot.json()["releases"]["problem"] == "token"
    await link.aclose()
