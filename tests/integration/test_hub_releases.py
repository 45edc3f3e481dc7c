"""The hub publishes signed firmware releases to the gateways (issue 10 §2): `sewnet hub release
publish|sign --publish|list|withdraw` and `GET /api/v1/releases…` behind the gateways' workshop
tokens, on SQLite and a real PostgreSQL (the files are kept in the database)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.app import create_app
from hub.core.db import Database
from hub.core.settings import load_settings
from hub.release import load_private_key, service
from hub.server import BackgroundServer
from sewnet.cli import app as sewnet_app
from tests.ota_world import firmware_copy, make_release, new_key, workshop_token

runner = CliRunner()
API_TOKEN = "api-token-for-release-tests"


def test_publish_list_and_withdraw_from_the_command_line(tmp_path, monkeypatch, hub_database):
    key, _ = new_key(tmp_path)
    monkeypatch.setenv("SEWNET_HUB_RELEASE_KEY_FILE", str(key))
    fw = firmware_copy(tmp_path / "fw", "0.7.0")
    r = runner.invoke(sewnet_app, ["hub", "release", "sign", "--firmware", str(fw), "--out", str(tmp_path / "r"),
                                   "--publish"])
    assert r.exit_code == 0, r.output
    assert "release 0.7.0 published" in r.output
    again = runner.invoke(sewnet_app, ["hub", "release", "publish", str(tmp_path / "r")])
    assert again.exit_code == 0 and "published already: nothing changed" in again.output

    # Another build under the same version: boards and gateways know 0.7.0 as the first one.
    other = make_release(tmp_path, key, "0.7.0", edit=lambda d: (d / "sn_queue.py").write_text(
        (d / "sn_queue.py").read_text() + "\n# changed\n"))
    clash = runner.invoke(sewnet_app, ["hub", "release", "publish", str(other)])
    assert clash.exit_code == 2 and "published once" in clash.output, clash.output

    # Signed with another key: no board would take it.
    foreign_key, _ = new_key(tmp_path / "elsewhere")
    foreign = make_release(tmp_path / "elsewhere", foreign_key, "0.8.0")
    refused = runner.invoke(sewnet_app, ["hub", "release", "publish", str(foreign)])
    assert refused.exit_code == 2 and "does not match the release key" in refused.output, refused.output
    # ... unless the hub is told that key is the one (an offline signing machine's public key).
    own = runner.invoke(sewnet_app, ["hub", "release", "publish", str(foreign), "--public-key",
                                     str(foreign_key) + ".pub"])
    assert own.exit_code == 0, own.output

    listed = runner.invoke(sewnet_app, ["hub", "release", "list"])
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert [ln.split("\t")[0] for ln in lines] == ["0.8.0", "0.7.0"] and "no gateway yet" in lines[1]

    no_reason = runner.invoke(sewnet_app, ["hub", "release", "withdraw", "0.7.0", "--reason", " "])
    assert no_reason.exit_code == 1 and "say why" in no_reason.output
    gone = runner.invoke(sewnet_app, ["hub", "release", "withdraw", "0.7.0", "--reason", "counts double on C3"])
    assert gone.exit_code == 0 and "withdrawn" in gone.output
    assert "withdrawn" in runner.invoke(sewnet_app, ["hub", "release", "list"]).output
    back = runner.invoke(sewnet_app, ["hub", "release", "publish", str(tmp_path / "r")])
    assert back.exit_code == 2 and "was withdrawn" in back.output and "new version" in back.output
    unknown = runner.invoke(sewnet_app, ["hub", "release", "withdraw", "9.9.9", "--reason", "x"])
    assert unknown.exit_code == 1 and "no published release 9.9.9" in unknown.output


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, hub_database):
    if request.param == "postgresql":
        from hub.core.db import upgrade

        url = request.getfixturevalue("postgresql").url
        upgrade(url)
        return url
    return hub_database


def _publish(url: str, folder: Path, key: Path) -> service.Published:
    db = Database(url)
    try:
        with db.session() as session:
            return service.publish_folder(session, folder, load_private_key(key).public_key())
    finally:
        db.close()


def test_the_gateways_api(tmp_path, database_url):
    key, _ = new_key(tmp_path)
    first = make_release(tmp_path, key, "0.5.0")
    assert _publish(database_url, first, key).new
    token = workshop_token(database_url, "ws-rel-01")
    settings = load_settings(database_url=database_url, api_tokens=[API_TOKEN],
                             embedded_path=tmp_path / "telemetry.sqlite")
    app = create_app(settings)
    with BackgroundServer(app) as hub, httpx.Client(base_url=hub.url, timeout=20) as client:
        gateway = {"Authorization": f"Bearer {token}"}

        none = client.get("/api/v1/releases")
        assert none.status_code == 401 and none.json()["detail"].startswith("작업장 토큰이 필요합니다 / ")
        wrong = client.get("/api/v1/releases", headers={"Authorization": "Bearer swk_not-a-token"})
        assert wrong.status_code == 401 and wrong.json()["detail"].startswith("토큰이 맞지 않습니다 / ")
        assert app.state.rejections.counts["releases:bad_token"] == 1
        assert app.state.rejections.counts["releases:no_token"] == 1

        r = client.get("/api/v1/releases", headers=gateway)
        assert r.status_code == 200, r.text
        doc, etag = r.json(), r.headers["etag"]
        manifest = (first / "manifest.json").read_bytes()
        assert [x["version"] for x in doc["releases"]] == ["0.5.0"] and doc["withdrawn"] == []
        entry = doc["releases"][0]
        assert entry["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
        assert entry["files"] == len(json.loads(manifest)["files"])
        idle = client.get("/api/v1/releases", headers={**gateway, "If-None-Match": etag})
        assert idle.status_code == 304 and idle.content == b""

        # The manifest exactly as signed, the signature, every file (gzip'd on the wire).
        m = client.get("/api/v1/releases/0.5.0/manifest.json", headers={**gateway, "Accept-Encoding": "gzip"})
        assert m.headers.get("content-encoding") == "gzip" and m.content == manifest
        sig = client.get("/api/v1/releases/0.5.0/manifest.sig", headers=gateway)
        assert sig.text.strip() == (first / "manifest.sig").read_text().strip()
        for f in json.loads(manifest)["files"]:
            got = client.get(f"/api/v1/releases/0.5.0/files/{f['name']}", headers={**gateway, "Accept-Encoding": "gzip"})
            assert got.status_code == 200 and got.content == (first / "files" / f["name"]).read_bytes()
            assert int(got.headers["content-length"]) < f["size"] or f["size"] < 200
        for path in ("/api/v1/releases/0.9.9/manifest.json", "/api/v1/releases/0.5.0/files/nope.py",
                     "/api/v1/releases/0.5.0/files/..%2Fsecret", "/api/v1/releases/0.5.0/other.txt"):
            assert client.get(path, headers=gateway).status_code == 404, path
        # An API token reads too (a person checking), without counting as a gateway's fetch.
        assert client.get("/api/v1/releases/0.5.0/manifest.json",
                          headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200

        # A newer release changes the index (newest first); withdrawing the old one too.
        second = make_release(tmp_path, key, "0.6.0")
        _publish(database_url, second, key)
        changed = client.get("/api/v1/releases", headers={**gateway, "If-None-Match": etag})
        assert changed.status_code == 200 and [x["version"] for x in changed.json()["releases"]] == ["0.6.0", "0.5.0"]
        db = Database(database_url)
        try:
            with db.session() as session:
                service.withdraw(session, "0.5.0", "stitch counts doubled on one machine type")
            with db.session() as session:
                fetched = {r["version"]: r["fetched_by"] for r in service.releases(session)}
        finally:
            db.close()
        assert fetched == {"0.6.0": [], "0.5.0": ["ws-rel-01"]}
        after = client.get("/api/v1/releases", headers={**gateway, "If-None-Match": changed.headers["etag"]}).json()
        assert [x["version"] for x in after["releases"]] == ["0.6.0"]
        assert after["withdrawn"][0]["version"] == "0.5.0" and "doubled" in after["withdrawn"][0]["reason"]
        gone = client.get("/api/v1/releases/0.5.0/files/sn_app.py", headers=gateway)
        assert gone.status_code == 410 and gone.json()["error"] == "withdrawn"
