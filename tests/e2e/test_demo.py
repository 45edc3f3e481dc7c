"""`sewnet demo` as a newcomer runs it: it comes up on embedded defaults (amqtt brokers, the hub's
own store, a SQLite registry) and the hub's capacity API shows stitches from every workshop; its
registry knows those workshops' machines and boards, and a generated Dongdaemun around them; the
bulk order it places at start is planned, and its plan page is a login and a link away; its own
workshops were offered a sample order, each demo gateway's page (after its login) shows that
offer with an accept button, and accepting it reaches the hub; its kiosk, on the printed link,
takes a shopper from a design through the estimate and the preview to a promise for each design,
and orders only from the registered device; My Style Lab serves a simulated market on the
registry's stalls: its quiz, a session's picks with their stalls, and, once trained in the
background, the recommender for the printed shopper."""

import json
import os
import re
import signal
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import httpx

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


class _Flow(HTMLParser):
    """What a browser submits from the kiosk's form (`#flow`): its hidden fields and checked
    choices; and its buttons by id (name, value, formaction)."""

    def __init__(self, html: str):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.buttons: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._inside = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "flow":
            self._inside = True
        elif self._inside and tag == "input" and a.get("name") and (
                a.get("type") not in ("radio", "checkbox") or "checked" in a):
            self.fields.append((a["name"], a.get("value") or ""))
        elif self._inside and tag == "button" and a.get("id"):
            self.buttons[a["id"]] = (a.get("name"), a.get("value"), a.get("formaction"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def press(client: httpx.Client, page: httpx.Response, button: str, **entries: str) -> httpx.Response:
    """Press `button` on a kiosk screen after typing or choosing `entries`, as a browser would."""
    assert page.status_code == 200, page.text[-500:]
    form = _Flow(page.text)
    assert button in form.buttons, f"no #{button} on the screen: {sorted(form.buttons)}"
    name, value, action = form.buttons[button]
    sent: dict[str, list[str]] = {}
    for n, v in [(n, v) for n, v in form.fields if n not in entries] + list(entries.items()):
        sent.setdefault(n, []).append(v)
    if name:
        sent.setdefault(name, []).append(value or "")
    return client.post(action or "/kiosk", data=sent)


def test_demo_shows_live_capacity(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    log = open(tmp_path / "demo.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "sewnet.cli", "demo", "--hub-port", "0", "--data-dir",
                             str(tmp_path / "demo"), "--interval-ms", "1000", "--flush-s", "1", "--duration", "120"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    try:
        info_path = tmp_path / "demo" / "demo.json"
        wait_for(lambda: proc.poll() is None and info_path.exists(), timeout=60, what="demo.json")
        info = json.loads(info_path.read_text())
        headers = {"Authorization": f"Bearer {info['api_token']}"}

        def every_workshop_sewing():
            r = httpx.get(f"{info['hub_url']}/api/v1/capacity", headers=headers, timeout=5)
            assert r.status_code == 200, r.text
            shops = {w["workshop"]: w for w in r.json()["workshops"]}
            assert set(shops) == {"ws-demo-01", "ws-demo-02"}, shops.keys()
            return all(w["stitches_last_hour"] > 0 and w["machines_online"] == 3 for w in shops.values())

        wait_for(every_workshop_sewing, timeout=60, what="stitches from both demo workshops", interval=0.5)
        assert httpx.get(f"{info['hub_url']}/api/v1/capacity", timeout=5).status_code == 401
        page = httpx.get(info["page"], timeout=5, follow_redirects=True)
        assert page.status_code == 200 and "ws-demo-01" in page.text

        registry = f"{info['hub_url']}/api/v1/registry"
        for n in (1, 2):
            shop = httpx.get(f"{registry}/workshops/ws-demo-0{n}", headers=headers, timeout=5).json()
            assert [(m["machine_id"], m["device_id"]) for m in shop["machines"]] == [
                (f"m0{m}", f"sn-demo0{n}00000{m}") for m in (1, 2, 3)], shop
        assert httpx.get(registry, headers=headers, timeout=5).json()["workshops"] == 202

        # The bulk order placed at start: planned, and its page reachable after the login, from the hub's page.
        order = info["order"]
        plan = httpx.get(f"{info['hub_url']}/api/v1/orders/{order['id']}/plan", headers=headers, timeout=5).json()
        assert plan["feasible"] and plan["pieces"] == 20000 and order["workshops"] == len(plan["assignments"]) > 1
        assert httpx.get(order["page"], timeout=5).status_code == 303  # to the login
        with httpx.Client(timeout=5, follow_redirects=True) as browser:
            assert 'href="/orders"' in browser.get(info["page"]).text
            assert f'href="/orders/{order["id"]}"' in browser.get(f"{info['hub_url']}/orders").text
            plan_page = browser.get(order["page"])
        assert plan_page.status_code == 200 and "20,000벌" in plan_page.text
        assert all(f'data-workshop="{a["workshop"]}"' in plan_page.text for a in plan["assignments"])

        # The sample order: planned onto the demo's own workshops, accepted, an offer to each.
        sample = info["sample_order"]
        offers = httpx.get(f"{info['hub_url']}/api/v1/orders/{sample['id']}/offers", headers=headers,
                           timeout=10).json()["offers"]
        assert {o["workshop_id"]: o["status"] for o in offers} == {"ws-demo-01": "offered", "ws-demo-02": "offered"}
        for shop in info["workshops"]:
            offer_id = shop["offer"]
            assert offer_id and shop["offer_pieces"] > 0
            with httpx.Client(base_url=shop["gateway_url"], timeout=10) as owner:
                assert owner.get("/").headers.get("location", "").endswith("/login")  # the page needs its login
                assert owner.post("/login", data={"password": shop["operator_password"]}).status_code == 303

                def offer_shown():
                    page = owner.get("/").text
                    return f'id="offer-{offer_id}"' in page and f'action="/offers/{offer_id}/accept"' in page

                wait_for(offer_shown, timeout=30, what=f"the offer on {shop['workshop']}'s page", interval=0.5)
                if shop["workshop"] == "ws-demo-01":  # its owner accepts: the answer reaches the hub
                    assert owner.post(f"/offers/{offer_id}/accept").status_code == 303

        def accepted_on_the_hub():
            offers = httpx.get(f"{info['hub_url']}/api/v1/orders/{sample['id']}/offers", headers=headers,
                               timeout=10).json()["offers"]
            return {o["workshop_id"]: o["status"] for o in offers}["ws-demo-01"] == "accepted"

        wait_for(accepted_on_the_hub, timeout=20, what="the demo owner's accept on the hub", interval=0.5)

        # The kiosk: each design through its options, the estimate from height, weight and gender,
        # and the preview with its fit map, to a promise the network can keep (the demo's sample makers).
        kiosk = info["kiosk"]
        assert kiosk["url"] == f"{info['hub_url']}/kiosk"
        wait_for(lambda: kiosk["device_url"] in (tmp_path / "demo.log").read_text(), timeout=10,
                 what="the kiosk's device link printed")
        with httpx.Client(base_url=info["hub_url"], timeout=30) as shopper:
            start = shopper.get("/kiosk")
            for design in ("tshirt", "shirt"):
                options = press(shopper, start, f"pick-{design}")
                assert 'id="choice-sleeve"' in options.text, options.text[-500:]
                measure = press(shopper, options, "next", sleeve="long", pocket="chest")
                estimated = press(shopper, measure, "estimate", gender="female", height="162", weight="56")
                assert 'id="estimated"' in estimated.text and 'id="problems"' not in estimated.text, estimated.text[-800:]
                preview = press(shopper, estimated, "next")
                assert 'id="preview"' in preview.text and preview.text.count("data-verdict=") == 6, preview.text[-800:]
                promise = press(shopper, preview, "next")
                words = re.search(r'id="promise">([^<]*)<', promise.text)
                assert words and "준비" in words.group(1) and 'id="order"' in promise.text, (
                    design, words.group(1) if words else "no promise on the screen")
            # Orders come from the store's device only: refused here, until the printed link registers it.
            assert press(shopper, promise, "order").status_code == 403
            registered = shopper.get(kiosk["device_url"])
            assert registered.status_code == 303 and registered.headers["location"] == "/kiosk"
            assert "kiosk_device" in shopper.cookies

        # My Style Lab: the simulated market imported on the registry's shops, the recommender trained
        # in the background (popularity until then), the kiosk's quiz and picks without a login.
        styles = info["styles"]
        assert styles["url"] == f"{info['hub_url']}/styles" and "added" in styles["imported"]["products"]
        api = f"{info['hub_url']}/api/v1/styles"

        def trained():
            status = httpx.get(f"{api}/model", headers=headers, timeout=10).json()
            assert status["state"] != "failed", status
            return status["model"] == "recommender"

        wait_for(trained, timeout=120, what="the styles recommender trained", interval=1)
        picks = httpx.get(f"{api}/recommendations", params={"shopper": styles["shopper"]}, headers=headers,
                          timeout=10).json()
        assert picks["model"] == "recommender" and len(picks["items"]) == 12
        assert all(i["where"]["shop_id"] for i in picks["items"])
        cards = httpx.get(f"{api}/quiz", timeout=10).json()["cards"]
        session = httpx.post(f"{api}/sessions", json={"liked": [c["article_id"] for c in cards[:3]],
                                                      "colour": "cool"}, timeout=30).json()
        assert session["items"] and all({"summer", "winter"} & set(i["colour"]["suits"]) for i in session["items"])
        assert "마이 스타일 랩" in httpx.get(styles["url"], timeout=10).text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert proc.returncode == 0, (tmp_path / "demo.log").read_text()[-3000:]
