# sn_app: the board's application. Tasks on one asyncio loop:
#   sampler   - every 100 ms: stitches from the counter into the tally; closes an interval
#               every interval_ms and queues its summary (this task never waits on the network)
#   publisher - sends queued summaries oldest first, QoS 1, removing each once acknowledged
#   mqtt      - keeps the broker connection; publishes the retained status on every connect
#   wifi, ntp - keep the link up; set the clock when an NTP server answers
# Summaries wait in a bounded RAM queue while the broker is away (sn_queue).

try:
    import asyncio
except ImportError:          # MicroPython before 1.21
    import uasyncio as asyncio
import gc
import time

import machine
import network

import sn_config
import sn_counting
import sn_hw
import sn_mqtt
import sn_ota      # over-the-air updates and remote configuration (issue 10 §2)
import sn_queue
import sn_state
import sn_summary

FW_VERSION = "0.1.0"
TICK_MS = sn_counting.TICK_MS
_UNIX_AT_2000 = 946684800
_MIN_SYNCED_TIME = 1600000000


def _log(msg):
    print("sewnet: " + msg)


def _epoch_offset():
    # Some MicroPython ports count time.time() from 2000, others (and CPython) from 1970.
    try:
        return _UNIX_AT_2000 if time.gmtime(0)[0] == 2000 else 0
    except Exception:
        return 0


class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.device = cfg["device"]
        self.interval_ticks = cfg["interval_ms"] // TICK_MS
        self.state = sn_state.State()
        self.queue = sn_queue.SummaryQueue(cfg["queue_len"], sn_summary.RECORD_SIZE)
        self.boot = 0
        self.seq = 0
        self.sent = 0
        self.contract_warnings = 0
        self.clock_synced = False
        self.tally = None
        self.counter = None
        self.mqtt = None
        self.wlan = None
        self.wdt = None
        self._queued = asyncio.Event()
        self._ticks0 = time.ticks_ms()     # ms since boot when the app started
        self._uptime = self._ticks0        # uptime at the latest sampled tick boundary
        self._tick_deadline = time.ticks_add(self._ticks0, TICK_MS)
        self._epoch = _epoch_offset()

    # -- time ----------------------------------------------------------------------------------

    def uptime_ms(self):
        since = time.ticks_diff(time.ticks_ms(), self._tick_deadline) + TICK_MS
        return self._uptime + max(0, since)

    def unix_time(self):
        """Unix seconds, or None until NTP has set the clock (the gateway then anchors)."""
        if not self.clock_synced:
            return None
        t = int(time.time()) + self._epoch
        return t if t >= _MIN_SYNCED_TIME else None

    # -- tasks ---------------------------------------------------------------------------------

    async def main(self):
        cfg = self.cfg
        self.boot = self.state.start_boot()
        self.tally = sn_counting.Tally(self.state.total)
        self.counter = sn_hw.make_counter(cfg)
        if cfg["wdt_ms"]:
            self.wdt = machine.WDT(timeout=cfg["wdt_ms"])
        _log("%s boot %d fw %s counter %s interval %d ms total %d"
             % (self.device, self.boot, FW_VERSION, self.counter.kind, cfg["interval_ms"],
                self.tally.total))
        status_topic = sn_summary.topic(self.device, "status")
        will = sn_summary.will(self.device, self.boot, FW_VERSION, self.counter.kind,
                               cfg["interval_ms"])
        self.wlan = network.WLAN(network.STA_IF)
        self.mqtt = sn_mqtt.MQTTClient(
            self.device, cfg["broker"]["host"], cfg["broker"]["port"],
            user=self.device, password=cfg["password"], keepalive_s=cfg["keepalive_s"],
            clean_session=False, will=(status_topic, will, True, 1),
            link=self.wlan.isconnected, on_connect=self._publish_status,
            backoff_max_ms=cfg["backoff_max_ms"], log=_log)
        asyncio.create_task(self._wifi())
        asyncio.create_task(self.mqtt.run())
        asyncio.create_task(self._publisher())
        asyncio.create_task(self._ntp())
        # OTA (issue 10 §2): asks the gateway for updates; confirms a trial once self.sent > 0.
        asyncio.create_task(sn_ota.Updater(self, FW_VERSION, log=_log).run())
        await self._sampler()

    async def _sampler(self):
        save_every = self.cfg["state_save_ms"]
        last_save = self._uptime
        while True:
            wait = time.ticks_diff(self._tick_deadline, time.ticks_ms())
            if wait > 0:
                await asyncio.sleep(wait / 1000)
            n = self.counter.take()
            # A late loop (flash write, Wi-Fi driver, NTP) still closes whole ticks: the
            # stitches are spread over the ticks it missed and no tick is counted twice.
            late = time.ticks_diff(time.ticks_ms(), self._tick_deadline)
            ticks = 1 + (late // TICK_MS if late >= TICK_MS else 0)
            self.tally.tick(n, ticks)
            self.counter.idle()
            self._tick_deadline = time.ticks_add(self._tick_deadline, ticks * TICK_MS)
            self._uptime += ticks * TICK_MS
            if self.tally.ticks >= self.interval_ticks:
                self._close_interval()
            if self._uptime - last_save >= save_every:
                last_save = self._uptime
                try:
                    self.state.save_if_changed(self.tally.total)
                except OSError as e:
                    _log("cannot save state: %r" % (e,))
            if self.wdt is not None:
                self.wdt.feed()

    def _close_interval(self):
        f = self.tally.close_interval()
        self.seq += 1
        s = {"v": 1, "device": self.device, "boot": self.boot, "seq": self.seq,
             "uptime_ms": self._uptime}
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
        self.queue.push(sn_summary.pack(s))
        self._queued.set()
        if hasattr(gc, "mem_free"):
            gc.collect()       # on the board: keep the heap unfragmented between intervals

    async def _publisher(self):
        topic = sn_summary.topic(self.device, "summary")
        while True:
            item = self.queue.peek()
            if item is None:
                self._queued.clear()
                await self._queued.wait()
                continue
            key, record = item
            payload = sn_summary.encode(sn_summary.unpack(record, self.device))
            await self.mqtt.publish(topic, payload)
            self.queue.pop(key)
            self.sent += 1

    async def _publish_status(self):
        payload = sn_summary.status(self.device, self.boot, FW_VERSION, self.counter.kind,
                                    self.cfg["interval_ms"], uptime_ms=self.uptime_ms(),
                                    queued=len(self.queue), dropped=self.queue.dropped)
        await self.mqtt.publish(sn_summary.topic(self.device, "status"), payload, retain=True)

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
        host = self.cfg["ntp_host"]
        if not host:
            return
        try:
            import ntptime
        except ImportError:
            _log("no ntptime module: summaries go without time")
            return
        ntptime.host = host
        while True:
            if self.wlan.isconnected():
                try:
                    ntptime.settime()      # blocks up to ~1 s; the sampler makes up the ticks
                    if not self.clock_synced:
                        _log("clock set from %s" % host)
                    self.clock_synced = True
                    await asyncio.sleep(6 * 3600)
                    continue
                except Exception as e:
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
    asyncio.run(App(cfg).main())
