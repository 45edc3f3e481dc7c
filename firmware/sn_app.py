# sn_app: the board's application. Tasks on one asyncio loop:
#   sampler    - every 100 ms: stitches from the counter into the tally; closes an interval
#                every interval_ms and writes its summary to the flash spool (never waits on
#                the network)
#   publisher  - sends spooled summaries oldest first (QoS 1), at most `window` of them waiting
#                for the gateway's acknowledgement; a summary leaves the spool only when the
#                gateway says it is on its disk (docs/protocol.md, contract v2)
#   mqtt       - keeps the broker connection; subscribes to the board's ack topic and publishes
#                the retained status on every connect
#   wifi, ntp  - keep the link up; ask the gateway's NTP server for the time (non-blocking)
#   supervisor - feeds the hardware watchdog only while every task above is alive and the
#                sampler keeps its beat: a board whose publisher died resets instead of
#                counting on in silence while looking online
# A summary is identified by (device, boot, nonce, seq): the random nonce keeps a board whose
# flash was erased (boot counter back at 1) from repeating an identity.

try:
    import asyncio
except ImportError:          # MicroPython before 1.21
    import uasyncio as asyncio
import gc
import sys
import time

import machine
import network

import sn_config
import sn_counting
import sn_hw
import sn_mqtt
import sn_ota      # over-the-air updates and remote configuration (issue 10 §2)
import sn_queue
import sn_spool
import sn_state
import sn_summary

FW_VERSION = "0.2.0"
TICK_MS = sn_counting.TICK_MS
_NTP_DELTA = 2208988800      # seconds from 1900 (NTP) to 1970 (Unix)
_MIN_SYNCED_TIME = 1600000000
# The sampler must beat at least this often, or the supervisor stops feeding the watchdog.
_SAMPLER_SILENCE_MS = 10000
_TASKS = ("sampler", "publisher", "mqtt", "wifi", "ntp")


# The running App, for a technician at the REPL (and the virtual board's status file).
current = None


def _log(msg):
    print("sewnet: " + msg)


if hasattr(asyncio, "sleep_ms"):
    _sleep_ms = asyncio.sleep_ms
else:                        # CPython (the virtual board)
    def _sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.device = cfg["device"]
        self.interval_ticks = cfg["interval_ms"] // TICK_MS
        self.state = sn_state.State()
        self.spool = sn_spool.Spool(capacity=cfg["spool_len"], total_at=sn_summary.TOTAL_OFFSET)
        self.window = sn_queue.AckWindow(cfg["ack_window"], cfg["ack_timeout_ms"])
        self.boot = 0
        self.nonce = 0
        self.seq = 0
        self.sent = 0
        self.acked = 0
        self.contract_warnings = 0
        self.time_base = None        # (unix seconds, ticks_ms) when the gateway last told the time
        self.tally = None
        self.counter = None
        self.mqtt = None
        self.wlan = None
        self.wdt = None
        self.failed = None           # name of the first task that died
        self.alive = {}              # task name -> still running
        self._queued = asyncio.Event()
        self._ticks0 = time.ticks_ms()     # ms since boot when the app started
        self._uptime = self._ticks0        # uptime at the latest sampled tick boundary
        self._tick_deadline = time.ticks_add(self._ticks0, TICK_MS)
        self._sampler_beat = self._ticks0
        self._seen_connects = 0

    # -- time ----------------------------------------------------------------------------------

    def uptime_ms(self):
        since = time.ticks_diff(time.ticks_ms(), self._tick_deadline) + TICK_MS
        return self._uptime + max(0, since)

    def unix_time(self):
        """Unix seconds, or None until the gateway's NTP server answered (the gateway then
        anchors the boot from the uptime)."""
        if self.time_base is None:
            return None
        unix, at = self.time_base
        t = unix + time.ticks_diff(time.ticks_ms(), at) // 1000
        return t if t >= _MIN_SYNCED_TIME else None

    # -- tasks ---------------------------------------------------------------------------------

    async def main(self):
        cfg = self.cfg
        self.boot = self.state.start_boot()
        self.nonce = self.state.nonce
        self.spool.open()
        # The lifetime total survives a power cut through the spool's newest record (at most
        # the interval in progress is lost), not only through the once-a-minute state file.
        total = max(self.state.total, self.spool.last_total)
        self.tally = sn_counting.Tally(total)
        self.counter = sn_hw.make_counter(cfg)
        if cfg["wdt_ms"]:
            self.wdt = machine.WDT(timeout=cfg["wdt_ms"])
        _log("%s boot %d nonce %d fw %s counter %s interval %d ms total %d spooled %d dropped %d"
             % (self.device, self.boot, self.nonce, FW_VERSION, self.counter.kind,
                cfg["interval_ms"], self.tally.total, len(self.spool), self.spool.dropped))
        status_topic = sn_summary.topic(self.device, "status")
        will = sn_summary.will(self.device, self.boot, self.nonce, FW_VERSION, self.counter.kind,
                               cfg["interval_ms"])
        self.wlan = network.WLAN(network.STA_IF)
        self.mqtt = sn_mqtt.MQTTClient(
            self.device, cfg["broker"]["host"], cfg["broker"]["port"],
            user=self.device, password=cfg["password"], keepalive_s=cfg["keepalive_s"],
            clean_session=False, will=(status_topic, will, True, 1),
            link=self.wlan.isconnected, on_connect=self._publish_status,
            subscribe=sn_summary.topic(self.device, "ack"), on_message=self._on_ack,
            backoff_max_ms=cfg["backoff_max_ms"], log=_log)
        self._spawn("wifi", self._wifi())
        self._spawn("mqtt", self.mqtt.run())
        self._spawn("publisher", self._publisher())
        self._spawn("ntp", self._ntp())
        self._spawn("sampler", self._sampler())
        # Over-the-air updates (issue 10 §2): supervised like the rest, so a dead updater resets
        # the board instead of leaving it unable to take the fix.
        if cfg["ota_port"]:
            self._spawn("ota", sn_ota.Updater(self, FW_VERSION, log=_log).run())
        if self.spool:
            self._queued.set()
        await self._supervisor()

    def _spawn(self, name, coro):
        self.alive[name] = True
        asyncio.create_task(self._guard(name, coro))

    async def _guard(self, name, coro):
        try:
            await coro
            _log("task %s ended" % name)
        except Exception as e:
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
            _log("task %s died: %r" % (name, e))
        self.alive[name] = False
        if self.failed is None:
            self.failed = name

    def healthy(self):
        """Every task still runs and the sampler keeps its beat."""
        for name in _TASKS:
            if not self.alive.get(name):
                return False
        if self.alive.get("ota") is False:
            return False
        return time.ticks_diff(time.ticks_ms(), self._sampler_beat) < _SAMPLER_SILENCE_MS

    async def _supervisor(self):
        reported = False
        while True:
            if self.healthy():
                if self.wdt is not None:
                    self.wdt.feed()
            elif not reported:
                reported = True
                _log("a task stopped (%s): no more watchdog feeds, the board will reset"
                     % (self.failed or "sampler stalled"))
                if self.wdt is None:
                    # Without a watchdog (wdt_ms 0) reset ourselves: a half-working board that
                    # looks online is worse than a restart (the spool keeps every summary).
                    await asyncio.sleep(1)
                    machine.reset()
            await asyncio.sleep(1)

    async def _sampler(self):
        save_every = self.cfg["state_save_ms"]
        last_save = self._uptime
        while True:
            wait = time.ticks_diff(self._tick_deadline, time.ticks_ms())
            if wait > 0:
                await _sleep_ms(wait)
            n = self.counter.take()
            # A late loop (flash write, Wi-Fi driver) still closes whole ticks: the stitches
            # are spread over the ticks it missed and no tick is counted twice.
            late = time.ticks_diff(time.ticks_ms(), self._tick_deadline)
            ticks = 1 + (late // TICK_MS if late >= TICK_MS else 0)
            self.tally.tick(n, ticks)
            self.counter.idle()
            self._tick_deadline = time.ticks_add(self._tick_deadline, ticks * TICK_MS)
            self._uptime += ticks * TICK_MS
            self._sampler_beat = time.ticks_ms()
            if self.tally.ticks >= self.interval_ticks:
                self._close_interval()
            if self._uptime - last_save >= save_every:
                last_save = self._uptime
                try:
                    self.state.save_if_changed(self.tally.total)
                except OSError as e:
                    _log("cannot save state: %r" % (e,))

    def _close_interval(self):
        f = self.tally.close_interval()
        self.seq += 1
        s = {"v": 2, "device": self.device, "boot": self.boot, "nonce": self.nonce,
             "seq": self.seq, "uptime_ms": self._uptime}
        for k in f:
            s[k] = f[k]
        t = self.unix_time()
        if t is not None:
            s["time"] = t
        try:
            sn_summary.check(s)
        except sn_summary.SummaryError as e:
            # Sent anyway: the gateway keeps rejected summaries where someone can look at them,
            # a summary dropped here would vanish without a trace.
            self.contract_warnings += 1
            _log("summary %d breaks the contract: %s" % (self.seq, e))
        try:
            self.spool.append(sn_summary.pack(s), s["total"])
        except OSError as e:
            # Flash full or failing: counted as dropped, the board keeps counting.
            self.spool.dropped += 1
            _log("cannot spool summary %d: %r" % (self.seq, e))
        self._queued.set()
        if hasattr(gc, "mem_free"):
            gc.collect()       # on the board: keep the heap unfragmented between intervals

    async def _publisher(self):
        topic = sn_summary.topic(self.device, "summary")
        w = self.window
        while True:
            connects = self.mqtt.connects
            if connects != self._seen_connects:
                # A new connection: the broker may have lost what it acknowledged (a crash
                # between autosaves), so everything not yet acknowledged by the gateway goes
                # again; the gateway drops what it already has as copies.
                self._seen_connects = connects
                w.restart()
                w.retain(self.spool.holds)
            if w.due(time.ticks_ms()):
                w.retain(self.spool.holds)
                _log("no acknowledgement from the gateway for %d s: sending %d again"
                     % (w.timeout_ms // 2000, len(w)))
            item = None if w.full() else self.spool.next_unacked(w.cursor)
            if item is None:
                self._queued.clear()
                try:
                    await asyncio.wait_for(self._queued.wait(), 1)
                except asyncio.TimeoutError:
                    pass
                continue
            serial, record = item
            boot, nonce, seq = sn_summary.ident(record)
            w.sent(serial, boot, nonce, seq, time.ticks_ms())
            s = sn_summary.unpack(record, self.device)
            # An earlier boot's summary (kept in the spool across a reset): this boot's uptime
            # says nothing about that one's, so it goes with sent_ms = its own uptime_ms (the
            # gateway learns no more than from v1), never a number from the wrong clock that the
            # gateway would refuse and the board resend for ever.
            sent = self.uptime_ms() if (boot, nonce) == (self.boot, self.nonce) else s["uptime_ms"]
            payload = sn_summary.encode(s, sent)
            await self.mqtt.publish(topic, payload)
            self.sent += 1

    def _on_ack(self, topic, payload):
        a = sn_summary.parse_ack(payload)
        if a is None:
            return
        boot, nonce, ranges = a
        for serial in self.window.acked(boot, nonce, ranges):
            if self.spool.ack(serial):
                self.acked += 1
        self._queued.set()       # room in the window

    async def _publish_status(self):
        payload = sn_summary.status(self.device, self.boot, self.nonce, FW_VERSION,
                                    self.counter.kind, self.cfg["interval_ms"],
                                    uptime_ms=self.uptime_ms(), queued=len(self.spool),
                                    dropped=self.spool.dropped)
        await self.mqtt.publish(sn_summary.topic(self.device, "status"), payload, retain=True)
        try:
            self.spool.flush()   # an orderly moment to write gathered acknowledgements
        except OSError:
            pass

    async def _wifi(self):
        w = self.wlan
        ssid = self.cfg["wifi"]["ssid"]
        key = self.cfg["wifi"]["password"]
        w.active(True)
        asked = None
        while True:
            if w.isconnected():
                asked = None
            elif asked is None or time.ticks_diff(time.ticks_ms(), asked) > 20000:
                # The driver retries by itself; ask again only if it stays down for long.
                asked = time.ticks_ms()
                try:
                    w.connect(ssid, key)
                except OSError as e:
                    _log("wifi connect: %r" % (e,))
            await asyncio.sleep(1)

    async def _ntp(self):
        # The gateway (the broker's host unless ntp_host says otherwise) answers NTP on the LAN:
        # a workshop's Internet link is often down, and pool.ntp.org is then out of reach.
        host = self.cfg["ntp_host"]
        port = self.cfg["ntp_port"]
        if not host:
            while True:                    # NTP off: the task stays, idle, for the supervisor
                await asyncio.sleep(3600)
        while True:
            if self.wlan.isconnected():
                try:
                    t = await sn_mqtt.ntp_query(host, port, 2000)
                    if t is not None and t - _NTP_DELTA >= _MIN_SYNCED_TIME:
                        if self.time_base is None:
                            _log("clock set from %s" % host)
                        self.time_base = (t - _NTP_DELTA, time.ticks_ms())
                        await asyncio.sleep(6 * 3600)
                        continue
                except OSError as e:
                    _log("ntp %s: %r" % (host, e))
            await asyncio.sleep(30)


def run(config_path=sn_config.CONFIG_FILE):
    try:
        cfg = sn_config.load(config_path, default_device=sn_hw.device_id())
    except sn_config.ConfigError as e:
        # No reset loop: each boot would wear the flash (boot counter) for nothing.
        _log(str(e))
        _log("board stopped: fix sewnet.json and reset")
        return
    global current
    current = App(cfg)
    asyncio.run(current.main())
