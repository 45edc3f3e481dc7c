"""`sewnet demo`: the whole spine on one machine with nothing but Python.

Per workshop an in-process MQTT broker (amqtt) stands in for Mosquitto and a gateway runs as an
asyncio task; virtual boards run the firmware's own files, one process each. Instead of InfluxDB
the hub itself takes the gateways' line-protocol writes (/api/v2/write) into its embedded store.
The gateway's uplink code is the same one that writes to a real InfluxDB.

Instead of PostgreSQL the hub keeps its registry in a SQLite file under the data folder, through
the same code: the demo applies the migrations itself, then imports, through the registry's own
CSV import, its virtual workshops (ids, machines and boards as their gateways have them) and a
generated Dongdaemun of REGISTRY_WORKSHOPS more (the files stay in <data dir>/registry/). Once the
hub is up, the demo places one bulk order through the hub's API and plans it; the hub's page
links to the orders and the plan.

The loop of issue 7 runs too: the demo's own workshops are the market's cheapest for knit tops
(`own_workshops`), so a sample order sized to need them all (`quantity_needing_all`, from the
hub's spare capacity) is planned onto them and accepted, which makes an offer to each. Every
demo gateway has its workshop's token (`issue_workshop_token`) and a [hub] section, so its page
shows that offer with live accept and decline buttons; an answer goes back to the hub.

The made-to-measure kiosk (issue 8) is mounted at /kiosk. It promises only from a workshop that
sews the design's family, has the machines it needs and takes an order of one piece; a generated
Dongdaemun has none of those (its minimums are 30 pieces and up), so the demo registers a few of
its generated workshops per design as sample makers (`kiosk_workshops`). Orders need the store's
device: the demo makes a fresh device token and prints the link that registers a browser.

My Style Lab (issue 9) is mounted at /styles: the demo simulates a small market of shoppers and
products on the registry's wholesale stalls and designer brands (simulators/shoppers.py, seeded,
small enough that the recommender trains in seconds), writes its H&M files to <data dir>/styles/
and imports them through the styles import (`seed_styles`); the hub trains the recommender in the
background once it is up and serves popularity until then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sewnet.processes import terminate

ROOT = Path(__file__).resolve().parents[1]


def _free_port(preferred: int = 0) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


#: How often the demo's gateways check the hub for offers (production default: 60 s).
OFFER_POLL_S = 10
SHIFT_S = 3600  # a virtual machine sews for an hour, then its board restarts for the next shift
REGISTRY_WORKSHOPS = 200  # generated workshops the demo's registry holds besides its own
REGISTRY_SEED = 2019


#: The machine types a workshop of the demo (and of tests/e2e/test_offer_loop.py) has, in turn:
#: what a knit tee needs (SAMPLE_SAM), so the sample order fits its machines.
OWN_MACHINE_TYPES = ("overlock", "coverstitch", "lockstitch")
#: KRW a SAM-minute: below the generated market (220-420), so for an order in their family the
#: planner picks the demo's own workshops first.
OWN_PRICE_PER_SAM_MINUTE = 150


def own_workshops(shops: dict[str, dict[str, str]], seed: int, names: tuple[str, str] = ("데모 봉제", "Demo Sewing"),
                  price: int = OWN_PRICE_PER_SAM_MINUTE) -> list:
    """Registry records for workshops whose gateways we run (`shops`: workshop id: {device: machine
    id}, as the gateways have them): each takes its particulars from a generated one, sews knit tops,
    works every day, is the market's cheapest and keeps its dates; its machines are overlock,
    coverstitch and lockstitch in turn (brand and model from a generated machine of that type),
    with the gateways' ids and boards. So the planner sends them a knit order before anyone else."""
    from dataclasses import replace

    from simulators.network import generate_network

    models = generate_network(max(len(shops), 20), seed=seed)
    like = {t: next(m for w in models.workshops for m in w.machines if m.type == t) for t in OWN_MACHINE_TYPES}
    out = []
    for n, ((workshop, devices), model) in enumerate(zip(shops.items(), models.workshops), start=1):
        machines = tuple(replace(like[OWN_MACHINE_TYPES[i % len(OWN_MACHINE_TYPES)]], workshop_id=workshop,
                                 machine_id=machine, device_id=device)
                         for i, (device, machine) in enumerate(devices.items()))
        families = ("knit_tops",) + tuple(f for f in model.families if f != "knit_tops")
        out.append(replace(model, id=workshop, name_ko=f"{names[0]} {n}", name_en=f"{names[1]} {n}",
                           families=families, workdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
                           min_order_pieces=0, price_per_sam_minute_krw=price, price_level=1, on_time_rate=0.98,
                           orders_delivered=150, machines=machines))
    return out


#: Generated workshops per kiosk design registered as sample makers (two, so a decline can move).
KIOSK_WORKSHOPS_PER_DESIGN = 2


def kiosk_workshops(workshops, per_design: int = KIOSK_WORKSHOPS_PER_DESIGN) -> list:
    """`workshops` with, per design the kiosk sells, the first `per_design` that sew its family and
    have every machine type its standard minutes name (those that already take samples first)
    turned into sample makers: minimum order one piece. Without them the kiosk's promise finds no
    workshop, since generated minimums start at 30 pieces."""
    from dataclasses import replace

    from hub.kiosk.service import DESIGNS

    chosen: list[str] = []
    for design in DESIGNS.values():
        need = {t for t, minutes in design.sam_minutes.items() if minutes > 0}
        able = [w for w in workshops if w.id not in chosen and design.family in w.families
                and need <= {m.type for m in w.machines}]
        chosen += [w.id for w in sorted(able, key=lambda w: not w.takes_samples)[:per_design]]
    return [replace(w, min_order_pieces=1, takes_samples=True) if w.id in chosen else w for w in workshops]


def seed_registry(database_url: str, shops: dict[str, dict[str, str]], folder: Path) -> dict[str, str]:
    """The demo's registry: `shops` (workshop id: {device: machine id}, as the gateways have them)
    plus a generated network with a few sample makers for the kiosk, written as CSV to `folder`
    and imported; returns each kind's import summary. Seeded, so a second start finds everything
    unchanged."""
    from simulators.network import Network, generate_network

    network = generate_network(REGISTRY_WORKSHOPS, seed=REGISTRY_SEED)
    demo = own_workshops(shops, seed=REGISTRY_SEED + 1)
    workshops = tuple(demo) + tuple(kiosk_workshops(network.workshops))
    return import_network(database_url, Network(network.seed, workshops, network.designers, network.suppliers),
                          folder)


def import_network(database_url: str, network, folder: Path) -> dict[str, str]:
    """`network` written as CSV files to `folder` and imported through the registry's own CSV import
    (every kind, workshops before their machines): each kind's summary."""
    from hub.core.db import Database
    from hub.registry import service

    paths = network.write_csv(folder)
    database = Database(database_url)
    try:
        summaries = {}
        for kind in service.KINDS:  # workshops before their machines
            with database.session() as session:
                report = service.import_csv(session, kind, paths[kind].read_bytes())
            if not report.ok:
                raise RuntimeError(f"the {kind} file has bad rows: {report.problems[:3]}")
            summaries[kind] = report.summary()
        return summaries
    finally:
        database.close()


#: The demo's simulated fashion market: small, so the recommender trains in seconds.
STYLES_MARKET = {"shoppers": 1500, "products": 600, "purchases": 20_000, "weeks": 8, "seed": 2026}


def seed_styles(database_url: str, folder: Path) -> dict:
    """A simulated market on the registry's shops (wholesale stalls and designer brands) written as
    H&M files to `folder` and imported through the styles import (products, shoppers, purchases):
    each kind's summary, and a shopper id to try the API with. Seeded, so a second start finds
    everything unchanged."""
    from hub.core.db import Database
    from hub.styles import service as styles
    from simulators.shoppers import MarketSpec, simulate

    database = Database(database_url)
    try:
        with database.session() as session:
            shops = sorted(styles.shops(session))
        simulated = simulate(MarketSpec(**STYLES_MARKET), registry_shops=shops)
        paths = dict(zip(("products", "shoppers", "purchases"), simulated.write(folder)))
        summaries = {}
        for kind in styles.KINDS:
            with database.session() as session:
                report = styles.import_csv(session, kind, paths[kind].read_bytes())
            if not report.ok:
                raise RuntimeError(f"the simulated {kind} file has bad rows: {report.problems[:3]}")
            summaries[kind] = report.summary()
    finally:
        database.close()
    bought = simulated.market.transactions["customer_id"]
    return {"imported": summaries, "shopper": str(bought.value_counts().index[0])}


#: A basic knit tee's standard minutes per machine type (6 minutes in all).
SAMPLE_SAM = {"overlock": 3.6, "coverstitch": 1.8, "lockstitch": 0.6}
#: The sample order is due this many days from today.
SAMPLE_DAYS = 4


def pieces_by(capacity: dict, sam_minutes: dict[str, float], last_day: date) -> dict[str, int]:
    """Pieces each workshop of a `GET /api/v1/capacity/sam` answer can sew up to `last_day`, as the
    planner counts them (hub.planning.allocation.day_capacity): per day, the spare minutes of the
    type that runs out first over its SAM, whole pieces."""
    out = {}
    for w in capacity["workshops"]:
        spare: dict[str, dict[str, float]] = {}
        for t in w["machine_types"]:
            for d in t["days"]:
                spare.setdefault(t["machine_type"], {})[d["date"]] = spare.get(t["machine_type"], {}).get(
                    d["date"], 0.0) + d["spare"]
        total = 0
        for day in capacity["days"]:
            if date.fromisoformat(day) > last_day:
                break
            least = min((max(0.0, spare.get(t, {}).get(day, 0.0)) / m for t, m in sam_minutes.items() if m > 0),
                        default=0.0)
            total += int(least + 1e-9)
        out[w["workshop"]] = total
    return out


def quantity_needing_all(client, workshops: tuple[str, ...], today: date, days: int = SAMPLE_DAYS,
                         bundle_size: int = 10) -> int:
    """A quantity that needs every one of `workshops` (more than all but one can sew by the last
    sewing day, at most what they can together): their capacity less half the smallest one's,
    in whole bundles; half a workshop's capacity for one. `client`: an httpx client on the hub with
    an API token. Due `days` after today (one transport day before it)."""
    last_day = today + timedelta(days=days - 1)
    r = client.get("/api/v1/capacity/sam", params={"days": days, "workshop": ",".join(workshops), "explain": "false"})
    r.raise_for_status()
    caps = pieces_by(r.json(), SAMPLE_SAM, last_day)
    smallest = min(caps[w] for w in workshops)
    if smallest < 4 * bundle_size:
        raise RuntimeError(f"the workshops {workshops} have too little spare capacity for a sample order: {caps}")
    return (sum(caps[w] for w in workshops) - smallest // 2) // bundle_size * bundle_size


def order_for_two(client, workshops: tuple[str, str], today: date, days: int = SAMPLE_DAYS) -> int:
    """A quantity that needs both `workshops` (quantity_needing_all)."""
    return quantity_needing_all(client, workshops, today, days)


def offer_sample_order(hub_url: str, api_token: str, workshops: tuple[str, ...], today: date) -> dict:
    """A sample order sized for the demo's own workshops, placed, planned and accepted through the
    hub's API as a coordinator would: the planner sends it to them (they are the market's cheapest
    and it needs them all), and accepting it makes an offer to each, which their gateways fetch.
    One a day: a second start the same day finds it placed and leaves an accepted one as it is."""
    import httpx

    order_id = f"demo-sample-{today:%Y%m%d}"
    with httpx.Client(base_url=hub_url, headers={"Authorization": f"Bearer {api_token}"}, timeout=120) as client:
        known = client.get(f"/api/v1/orders/{order_id}")
        if known.status_code == 404:
            quantity = quantity_needing_all(client, workshops, today)
            body = {"id": order_id, "style": "반팔 라운드 티셔츠 (샘플) / crew-neck tee (sample run)",
                    "family": "knit_tops", "quantity": quantity,
                    "due": (today + timedelta(days=SAMPLE_DAYS)).isoformat(), "sam_minutes": SAMPLE_SAM,
                    "bundle_size": 10, "min_lot": 50, "max_workshops": len(workshops) + 1,
                    "price_per_piece_krw": 2500}
            made = client.post("/api/v1/orders", json=body)
            if made.status_code != 201:
                raise RuntimeError(f"the hub refused the sample order ({made.status_code}): {made.text[:300]}")
            known = client.get(f"/api/v1/orders/{order_id}")
        if known.json().get("accepted_version") is None:
            planned = client.post(f"/api/v1/orders/{order_id}/plan")
            planned.raise_for_status()
            if not planned.json()["feasible"]:
                raise RuntimeError(f"the sample order cannot be planned: {planned.json()['reasons'][:2]}")
            client.post(f"/api/v1/orders/{order_id}/accept").raise_for_status()
        plan = client.get(f"/api/v1/orders/{order_id}/plan").json()
        offers = client.get(f"/api/v1/orders/{order_id}/offers").json()["offers"]
    return {"id": order_id, "page": f"{hub_url}/orders/{order_id}", "pieces": plan["pieces"],
            "workshops": {a["workshop"]: a["pieces"] for a in plan["assignments"]},
            "offers": {o["workshop_id"]: o["id"] for o in offers if o["status"] in ("offered", "accepted")},
            "answered": sorted(o["workshop_id"] for o in offers if o["status"] != "offered")}


def issue_tokens(database_url: str, workshops) -> dict[str, str]:
    """Each workshop's token for its offers (what `sewnet hub workshop-token issue` prints)."""
    from hub.core.db import Database
    from hub.planning.offers import issue_workshop_token

    database = Database(database_url)
    try:
        with database.session() as session:
            return {w: issue_workshop_token(session, w) for w in workshops}
    finally:
        database.close()


DEMO_ORDER_PIECES = 20_000
DEMO_ORDER_DAYS = 10


def place_order(hub_url: str, api_token: str, today: date) -> dict:
    """The demo's bulk order, placed and planned through the hub's own API as a coordinator would:
    20,000 knit T-shirts due in 10 days, cut panels from a cutting room in Changsin-dong. One a
    day: a second start the same day plans the same order again (its next version)."""
    import httpx

    order_id = f"demo-tee-{today:%Y%m%d}"
    body = {"id": order_id, "style": "반팔 라운드 티셔츠 / short-sleeve crew-neck T-shirt", "family": "knit_tops",
            "quantity": DEMO_ORDER_PIECES, "due": (today + timedelta(days=DEMO_ORDER_DAYS)).isoformat(), "sam": 6.0,
            "sam_split": {"overlock": 60, "coverstitch": 30, "lockstitch": 10}, "bundle_size": 50, "min_lot": 500,
            "max_workshops": 25, "price_per_piece_krw": 2500,
            "panels": {"lat": 37.5760, "lon": 127.0150, "name": "창신동 재단실 / Changsin-dong cutting room"}}
    with httpx.Client(base_url=hub_url, headers={"Authorization": f"Bearer {api_token}"}, timeout=120) as client:
        made = client.post("/api/v1/orders", json=body)
        if made.status_code not in (201, 409):  # 409: placed by an earlier start today
            raise RuntimeError(f"the hub refused the demo order ({made.status_code}): {made.text[:300]}")
        planned = client.post(f"/api/v1/orders/{order_id}/plan")
        planned.raise_for_status()
        plan = planned.json()
    return {"id": order_id, "page": f"{hub_url}/orders/{order_id}", "feasible": plan["feasible"],
            "version": plan["version"], "pieces": plan["pieces"], "workshops": len(plan["assignments"]),
            "cost_krw": plan["cost"]["total"], "gap": plan["gap"]}


class DemoBoard:
    """A virtual board process. When its sewing machine's shift is over the board is restarted,
    as a power cycle: the boot counter goes up and the lifetime total carries on from flash."""

    def __init__(self, flash: Path, device: str, password: str, broker_port: int, seed: int, interval_ms: int):
        self.flash, self.device, self.password = flash, device, password
        self.broker_port, self.seed, self.interval_ms = broker_port, seed, interval_ms
        self.shift = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.flash.mkdir(parents=True, exist_ok=True)
        (self.flash / "truth.json").unlink(missing_ok=True)
        log = open(self.flash.parent / f"{self.device}.log", "ab")
        env = dict(os.environ, SEWNET_DEVICE_PASSWORD=self.password, PYTHONUNBUFFERED="1",
                   PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators.virtual_board", "--flash", str(self.flash), "--device", self.device,
             "--broker", f"127.0.0.1:{self.broker_port}", "--interval-ms", str(self.interval_ms),
             "--seed", str(self.seed + 7919 * self.shift), "--sew-seconds", str(SHIFT_S), "--max-spm", "7000",
             "--stop-scale", "0.1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        log.close()
        self.shift += 1

    def shift_over(self) -> bool:
        try:
            return bool(json.loads((self.flash / "truth.json").read_text()).get("sewing_done"))
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        terminate(self.proc, timeout=5)


async def _supervise(boards: list["DemoBoard"]) -> None:
    while True:
        await asyncio.sleep(5)
        for b in boards:
            if b.shift_over() or b.proc.poll() is not None:
                b.stop()
                b.start()


async def _demo(workshops: int, machines: int, hub_port: int, data_dir: Path, interval_ms: int,
                flush_interval_s: float, duration: float | None) -> None:
    from edge_gateway.config import parse_config
    from edge_gateway.service import run_gateway
    from hub.app import create_app
    from hub.core.db import upgrade
    from hub.core.settings import load_settings
    from hub.kiosk.config import KioskSettings
    from hub.server import BackgroundServer
    from sewnet.embedded_broker import start_broker

    data_dir.mkdir(parents=True, exist_ok=True)
    # Fresh secrets every run; they live in memory and in data_dir/demo.json (mode 0600) only.
    api_token, write_token = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    device_token = secrets.token_urlsafe(18)  # the store's kiosk: only a browser it registered places orders
    database_url = f"sqlite:///{data_dir / 'hub' / 'hub.sqlite'}"
    settings = load_settings(telemetry="embedded", embedded_path=data_dir / "hub" / "telemetry.sqlite",
                             embedded_write_token=write_token, api_tokens=[api_token], database_url=database_url)
    (data_dir / "hub").mkdir(exist_ok=True)
    # What `sewnet hub db upgrade` does in production, before the hub checks the schema.
    upgrade(database_url)
    shops = {f"ws-demo-{w + 1:02d}": {f"sn-demo{w + 1:02d}{m + 1:06x}": f"m{m + 1:02d}" for m in range(machines)}
             for w in range(workshops)}
    registry = seed_registry(database_url, shops, data_dir / "registry")
    styles = seed_styles(database_url, data_dir / "styles")
    # The demo's own device token outranks a SEWNET_KIOSK_DEVICE_TOKEN left in the shell, so the printed link holds.
    kiosk = KioskSettings(device_token=device_token)
    hub = BackgroundServer(create_app(settings, kiosk_settings=kiosk), host="127.0.0.1",
                           port=_free_port(hub_port)).start()
    seoul_today = (datetime.now(timezone.utc) + timedelta(hours=9)).date()
    order = place_order(hub.url, api_token, seoul_today)
    # The demo's own workshops get a sample order, accepted, so their gateway pages show an offer
    # to accept; each gateway gets its workshop's token for the offers.
    sample = offer_sample_order(hub.url, api_token, tuple(shops), seoul_today)
    tokens = issue_tokens(database_url, shops)

    brokers, gateways, boards, shop_info = [], [], [], []
    try:
        for w, (name, devices) in enumerate(shops.items()):
            shop = data_dir / name
            users = {d: secrets.token_urlsafe(12) for d in devices}
            users["gateway"] = gateway_pw = secrets.token_urlsafe(12)
            broker_port = _free_port()
            brokers.append(await start_broker(broker_port, shop / "broker", users, "gateway"))
            web_port, operator_pw = _free_port(), secrets.token_urlsafe(9)
            config = parse_config({
                "workshop": name, "data_dir": str(shop / "gateway"),
                "mqtt": {"host": "127.0.0.1", "port": broker_port, "username": "gateway", "password": gateway_pw,
                         "protocol": "3.1.1"},  # amqtt has no MQTT 5
                "uplink": {"api": "v2", "url": hub.url, "org": "sewnet-demo", "bucket": "sewnet",
                           "token": write_token, "flush_interval_s": flush_interval_s},
                "registry": devices,
                "web": {"host": "127.0.0.1", "port": web_port, "operator_password": operator_pw},
                "hub": {"url": hub.url, "workshop_token": tokens[name], "poll_interval_s": OFFER_POLL_S},
            }, source=f"demo gateway {name}")
            gateways.append(asyncio.create_task(run_gateway(config), name=f"gateway-{name}"))
            for m, device in enumerate(devices):
                board = DemoBoard(shop / "boards" / device, device, users[device], broker_port,
                                  seed=100 * w + m, interval_ms=interval_ms)
                board.start()
                boards.append(board)
            shop_info.append({"workshop": name, "gateway_url": f"http://127.0.0.1:{web_port}/",
                              "operator_password": operator_pw, "broker_port": broker_port,
                              "machines": list(devices.values()), "offer": sample["offers"].get(name),
                              "offer_pieces": sample["workshops"].get(name, 0)})

        info = {"hub_url": hub.url, "api_token": api_token, "page": f"{hub.url}/?token={api_token}",
                "workshops": shop_info, "registry": registry, "order": order, "sample_order": sample,
                "kiosk": {"url": f"{hub.url}/kiosk", "device_url": f"{hub.url}/kiosk/device?token={device_token}"},
                "styles": {"url": f"{hub.url}/styles", "shopper": styles["shopper"], "imported": styles["imported"]}}
        info_path = data_dir / "demo.json"
        info_path.write_text(json.dumps(info, indent=1))
        info_path.chmod(0o600)
        print("\nSewNet demo is running (Ctrl-C stops it).\n")
        print(f"  Hub, live capacity:  {info['page']}")
        print(f"  Capacity API:        curl -H 'Authorization: Bearer {api_token}' {hub.url}/api/v1/capacity")
        print(f"  Registry API:        curl -H 'Authorization: Bearer {api_token}' "
              f"'{hub.url}/api/v1/registry/workshops?dong=changsin&limit=5'")
        print(f"  Registry ({REGISTRY_WORKSHOPS} generated workshops and the demo's own, CSV in "
              f"{data_dir / 'registry'}): " + "; ".join(f"{k} {v}" for k, v in registry.items()))
        plan_words = (f"{order['pieces']:,} pieces over {order['workshops']} workshops, KRW {order['cost_krw']:,.0f}"
                      if order["feasible"] else "cannot be met as it is (the page says why)")
        print(f"  Bulk order {order['id']} ({DEMO_ORDER_PIECES:,} knit T-shirts due in {DEMO_ORDER_DAYS} days), "
              f"planned: {plan_words}")
        print(f"  Its plan (after the login link above): {order['page']}")
        print(f"  Sample order {sample['id']} ({sample['pieces']:,} tees) for the demo's own workshops: planned, "
              f"accepted, offered to each: {sample['page']}")
        print(f"  Kiosk (made to measure, Korean / English / Chinese): {info['kiosk']['device_url']}  (registers "
              f"this browser as the store's kiosk, which places orders; {info['kiosk']['url']} is the shoppers' "
              "screens)")
        print("    Try: 니트 티셔츠 Knit T-shirt or 우븐 셔츠 Woven shirt → options → 키·몸무게·성별 → 추정하기 Estimate "
              "→ the preview and fit map → the promise (\"내일 14:00 준비\") → order, and follow its QR code.")
        print(f"  My Style Lab (style quiz → personal colour → budget → picks with their stalls, Korean / English / "
              f"Chinese): {info['styles']['url']}  (a simulated market on the registry's stalls: "
              + "; ".join(f"{k} {v}" for k, v in styles["imported"].items()) + "; the recommender trains in the "
              "background, popularity serves until then)")
        print(f"    API: curl -H 'Authorization: Bearer {api_token}' "
              f"'{hub.url}/api/v1/styles/recommendations?shopper={styles['shopper']}&k=12'")
        for s in shop_info:
            offered = ("no offer" if not s["offer"] else f"its offer of {s['offer_pieces']:,} pieces is answered"
                       if s["workshop"] in sample["answered"] else
                       f"offer of {s['offer_pieces']:,} pieces: log in, then 수락 Accept or 거절 Decline")
            print(f"  {s['workshop']} gateway page: {s['gateway_url']}  (operator password: {s['operator_password']}; "
                  f"{offered})")
        print(f"\n  Boards publish every {interval_ms / 1000:.0f} s, gateways ship every {flush_interval_s:.0f} s:"
              " the first figures appear within about half a minute.\n", flush=True)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        supervisor = asyncio.create_task(_supervise(boards))
        waiters = [asyncio.create_task(stop.wait())] + gateways
        done, _ = await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        supervisor.cancel()
        for task in done:
            if task in gateways and task.exception():
                raise task.exception()
    finally:
        for b in boards:
            b.stop()
        for task in gateways:
            task.cancel()
        for task in gateways:
            with contextlib.suppress(BaseException):
                await task
        for b in brokers:
            with contextlib.suppress(Exception):
                await b.shutdown()
        hub.stop()
        print("SewNet demo stopped.")


def run_demo(workshops: int = 2, machines: int = 3, hub_port: int = 8080, data_dir: str | Path = "var/demo",
             interval_ms: int = 10_000, flush_interval_s: float = 10.0, duration: float | None = None) -> None:
    asyncio.run(_demo(workshops, machines, hub_port, Path(data_dir).resolve(), interval_ms, flush_interval_s,
                      duration))
