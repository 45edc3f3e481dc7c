# sn_config: loads and checks sewnet.json from the board's flash (format: firmware/README.md).
#
# A bad file stops the board with one clear sentence on the console rather than a board that
# half works: the technician fixes it with the flashing tool and resets.

import json

import sn_summary

CONFIG_FILE = "sewnet.json"

# Same pin maps as hardware/boards.json (a unit test keeps the two equal); carried here because
# only the firmware files are copied to the board.
# Only chips with a hardware pulse counter (PCNT) count reliably: see hardware/README.md for why
# the ESP32-C3 (pin interrupts) is not supported.
VARIANTS = {
    "esp32-devkitc": {"counter": "pcnt", "sensor_pin": 34, "pcnt_unit": 0, "filter_ns": 12700},
    "esp32-s3-devkitc": {"counter": "pcnt", "sensor_pin": 4, "pcnt_unit": 0, "filter_ns": 12700},
    "esp32-c6-devkitc": {"counter": "pcnt", "sensor_pin": 4, "pcnt_unit": 0, "filter_ns": 12700},
}
UNSUPPORTED = {
    "esp32-c3": "the ESP32-C3 has no pulse counter; MicroPython runs pin interrupts late and drops"
                " them while busy, so it loses stitches: use an ESP32, S2, S3 or C6 board"
                " (hardware/README.md)",
}

DEFAULTS = {
    "variant": "esp32-devkitc",
    "interval_ms": 10000,
    "spool_len": 2160,          # six hours at 10 s, in flash (64 bytes each)
    "ack_window": 16,           # summaries sent and not yet acknowledged by the gateway
    "ack_timeout_ms": 30000,    # no acknowledgement this long: send them again (then doubling)
    "keepalive_s": 30,
    "ntp_port": 123,
    "filter_ns": 12700,         # the ESP32 PCNT glitch filter tops out at ~12.8 us
    "pcnt_unit": 0,
    "state_save_ms": 60000,     # flash sectors endure ~100k erases: save the total once a minute
    "backoff_max_ms": 30000,
    "wdt_ms": 60000,            # hardware watchdog; 0 = none (the board then resets itself)
    # over-the-air updates (sn_ota): the gateway's HTTP port on the broker's host (0 = off)
    "ota_port": 8080,
    "ota_poll_s": 600,
}

# name: (type, low, high); None bounds are open
_INTS = {
    "sensor_pin": (0, 48),
    "pcnt_unit": (0, 7),
    "filter_ns": (0, 100000),
    "interval_ms": (1000, 3600000),
    "spool_len": (64, 50000),
    "queue_len": (1, 50000),    # the name before v2: read as spool_len
    "ack_window": (1, 64),
    "ack_timeout_ms": (5000, 3600000),
    "ntp_port": (1, 65535),
    "keepalive_s": (5, 1200),
    "state_save_ms": (10000, 86400000),
    "backoff_max_ms": (1000, 600000),
    "wdt_ms": (0, 3600000),     # (the ESP32 takes up to ~ 2^32 us; an hour is plenty)
    # over-the-air updates (sn_ota)
    "ota_port": (0, 65535),
    "ota_poll_s": (1, 86400),
}
_STRS = ("device", "password", "variant", "counter", "ntp_host", "machine")
_KNOWN = set(_INTS) | set(_STRS) | {"wifi", "broker"}


class ConfigError(ValueError):
    pass


def _fail(msg):
    raise ConfigError(CONFIG_FILE + ": " + msg)


def check(raw, default_device=None):
    """Raw dict from sewnet.json -> complete config with defaults; raises ConfigError."""
    if not isinstance(raw, dict):
        _fail("must hold a JSON object")
    for k in raw:
        if k not in _KNOWN and not k.startswith("_"):
            _fail("unknown key %r (keys starting with _ are comments)" % k)
    cfg = {}
    for k in DEFAULTS:
        cfg[k] = DEFAULTS[k]
    variant = raw.get("variant", DEFAULTS["variant"])
    if variant in UNSUPPORTED:
        _fail("variant %r: %s" % (variant, UNSUPPORTED[variant]))
    if variant not in VARIANTS:
        _fail("variant %r is not one of %s" % (variant, ", ".join(sorted(VARIANTS))))
    cfg["variant"] = variant
    for k, v in VARIANTS[variant].items():
        cfg[k] = v
    for k, v in raw.items():
        if k in _INTS:
            lo, hi = _INTS[k]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                _fail("%s must be an integer %d..%d, got %r" % (k, lo, hi, v))
            cfg[k] = v
        elif k in _STRS:
            if not (isinstance(v, str) or (k == "ntp_host" and v is None)):
                _fail("%s must be a string, got %r" % (k, v))
            cfg[k] = v
    if cfg["interval_ms"] % 100:
        _fail("interval_ms must be a multiple of 100 (the sampling tick), got %d" % cfg["interval_ms"])
    if "queue_len" in raw and "spool_len" not in raw:
        cfg["spool_len"] = max(64, raw["queue_len"])
    cfg.pop("queue_len", None)
    if cfg.get("counter") == "irq":
        _fail("counter 'irq' is not supported: pin interrupts lose stitches on MicroPython"
              " (hardware/README.md); use a board with a pulse counter and 'pcnt'")
    if cfg.get("counter") != "pcnt":
        _fail("counter must be 'pcnt', got %r" % (cfg.get("counter"),))
    if cfg["wdt_ms"] and cfg["wdt_ms"] < 10000:
        _fail("wdt_ms must be 0 (off) or at least 10000, got %d" % cfg["wdt_ms"])
    device = raw.get("device", default_device)
    if not sn_summary.valid_device(device):
        _fail("device %r must match ^[a-z0-9][a-z0-9_-]{1,31}$ (it is the MQTT user name)" % (device,))
    cfg["device"] = device
    if not raw.get("password"):
        _fail("password (the board's MQTT password) is missing")
    wifi = raw.get("wifi")
    if not isinstance(wifi, dict) or not isinstance(wifi.get("ssid"), str) or not wifi["ssid"]:
        _fail('wifi must be {"ssid": ..., "password": ...}')
    if not isinstance(wifi.get("password", ""), str):
        _fail("wifi.password must be a string")
    cfg["wifi"] = {"ssid": wifi["ssid"], "password": wifi.get("password", "")}
    broker = raw.get("broker")
    if not isinstance(broker, dict) or not isinstance(broker.get("host"), str) or not broker["host"]:
        _fail('broker must be {"host": ..., "port": 1883}')
    port = broker.get("port", 1883)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        _fail("broker.port must be an integer 1..65535, got %r" % (port,))
    cfg["broker"] = {"host": broker["host"], "port": port}
    # NTP from the gateway on the LAN by default (the broker's host); null turns it off.
    cfg["ntp_host"] = raw["ntp_host"] if "ntp_host" in raw else broker["host"]
    return cfg


def load(path=CONFIG_FILE, default_device=None):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        _fail("not found on the board's flash (write it with the flashing tool)")
    try:
        raw = json.loads(text)
    except ValueError:
        _fail("is not valid JSON")
    return check(raw, default_device)
