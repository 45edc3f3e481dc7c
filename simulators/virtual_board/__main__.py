"""A virtual ESP32 board as its own process, sewing and publishing to a real broker.

    python -m simulators.virtual_board --flash DIR --device ID --password PW --broker HOST:PORT
        --interval-ms 1000 --seed N --sew-seconds S [--max-spm 10000] [--glitches]
        [--stop-scale 0.05] [--spool-len N] [--wdt-ms MS] [--no-ntp]

The sewing machine sews for S seconds of real time from the start, then stands still; the board
runs (publishing idle summaries) until SIGTERM. Ground truth goes to DIR/truth.json, rewritten
atomically about every second and a last time once sewing is done:
    {"device": ..., "stitches_generated": N, "sewing_done": bool, ...}
The Wi-Fi link is down while the file DIR/wifi_down exists. The board serves NTP for itself on
a loopback port (the gateway's NTP server, in a workshop) unless --no-ntp. A machine.reset() or
the watchdog reboots the firmware in the same process: the sewing machine and the flash folder
go on, as on a real board. SIGKILL is a power cut. DIR/status.json holds the board's figures
(boot, spooled summaries, sent, acknowledged, resets), rewritten about every second.

--glitches adds spikes narrower than the PCNT filter. On a real board the RC filter and Schmitt
trigger of hardware/README.md remove the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from simulators.sewing import SewingMachine
from simulators.virtual_board.board import BOARDS_FILE, BoardReset, VirtualBoard, unique_id_for
from simulators.virtual_board.clock import RealClock



MAX_SEW_SECONDS = 4 * 3600


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators.virtual_board", description=__doc__.split("\n\n")[0])
    p.add_argument("--flash", required=True, type=Path, help="the board's flash folder")
    p.add_argument("--device", required=True, help="device id = MQTT user name")
    p.add_argument("--password", default=os.environ.get("SEWNET_DEVICE_PASSWORD"),
                   help="the board's MQTT password (better: SEWNET_DEVICE_PASSWORD, kept out of `ps`)")
    p.add_argument("--broker", required=True, help="HOST:PORT")
    p.add_argument("--interval-ms", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sew-seconds", type=float, default=30.0)
    p.add_argument("--max-spm", type=float, default=7000.0)
    p.add_argument("--glitches", action="store_true")
    p.add_argument("--stop-scale", type=float, default=0.05, help="scales long stops (20 s-5 min)")
    p.add_argument("--keepalive-s", type=int, default=10)
    p.add_argument("--backoff-max-ms", type=int, default=4000,
                   help="cap of the reconnect backoff (boards default to 30 s)")
    p.add_argument("--no-ntp", action="store_true", help="no NTP server: summaries go without time")
    p.add_argument("--spool-len", type=int, default=2160)
    p.add_argument("--ack-timeout-ms", type=int, default=5000)
    p.add_argument("--wdt-ms", type=int, default=60000)
    p.add_argument("--ota-port", type=int, default=0, help="the gateway's OTA port (0: no updates)")
    p.add_argument("--ota-poll-s", type=int, default=600)
    a = p.parse_args(argv)
    host, sep, port = a.broker.rpartition(":")
    if not sep or not host or not port.isdigit():
        p.error("--broker must be HOST:PORT")
    a.broker_host, a.broker_port = host, int(port)
    if not a.password:
        p.error("give the board's MQTT password in SEWNET_DEVICE_PASSWORD (or --password)")
    # The model draws the whole pulse train up front (~35 MB and 0.25 s per sewing hour).
    if not 0 <= a.sew_seconds <= MAX_SEW_SECONDS:
        p.error(f"--sew-seconds must be 0..{MAX_SEW_SECONDS} (restart the board for another shift)")
    return a


def board_config(a: argparse.Namespace, ntp_port: int | None) -> dict:
    return {
        "_written_by": "simulators.virtual_board",
        "device": a.device,
        "password": a.password,
        "wifi": {"ssid": "sewnet-virtual", "password": "virtual"},
        "broker": {"host": a.broker_host, "port": a.broker_port},
        "variant": "esp32-devkitc",
        "interval_ms": a.interval_ms,
        "keepalive_s": a.keepalive_s,
        "backoff_max_ms": a.backoff_max_ms,
        "spool_len": a.spool_len,
        "ack_timeout_ms": a.ack_timeout_ms,
        "wdt_ms": a.wdt_ms,
        "state_save_ms": 10000,
        "ntp_host": None if ntp_port is None else "127.0.0.1",
        "ntp_port": ntp_port or 123,
        "ota_port": a.ota_port,
        "ota_poll_s": a.ota_poll_s,
    }


def sewing_machine(a: argparse.Namespace) -> SewingMachine:
    glitches = {}
    if a.glitches:
        glitches = {"spikes_per_s": 3.0}
    return SewingMachine(a.seed, a.sew_seconds, max_spm=a.max_spm, stop_scale=a.stop_scale,
                         start_s=0.2, **glitches)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def watch(board: VirtualBoard, a: argparse.Namespace, stop: threading.Event) -> None:
    """Outside the firmware's loop: the Wi-Fi switch file and the ground truth file."""
    wifi_down = a.flash / "wifi_down"
    truth = a.flash / "truth.json"
    sewing = board.sewing
    final = False
    last_write = -1.0
    last_status = -1.0
    while not stop.is_set():
        board.link_up = not wifi_down.exists()
        now = board.clock.now_s()
        if not final and now - last_write >= 1.0:
            done = now >= a.sew_seconds
            write_json(truth, {
                "device": a.device,
                "stitches_generated": sewing.stitches if done else sewing.stitches_before(now),
                "sewing_done": done,
                "glitches_generated": sewing.glitch_count(),
                "seed": a.seed,
                "sew_seconds": a.sew_seconds,
                "counter": "pcnt",
            })
            last_write = now
            final = done
        if now - last_status >= 1.0:
            write_json(a.flash / "status.json", board_status(board))
            last_status = now
        stop.wait(0.1)


def board_status(board: VirtualBoard) -> dict:
    """What the firmware's App shows of itself (read from outside its loop: a snapshot)."""
    app = board.app
    out = {"resets": board.resets, "wdt_resets": board.wdt_resets}
    if app is not None and app.spool is not None:
        out.update(boot=app.boot, nonce=app.nonce, seq=app.seq, spooled=len(app.spool),
                   in_flight=len(app.window), sent=app.sent, acked=app.acked,
                   dropped=app.spool.dropped, flash_writes=app.spool.writes,
                   flash_bytes=app.spool.bytes_written, total=app.tally.total if app.tally else None,
                   connects=app.mqtt.connects if app.mqtt else 0, time_synced=app.time_base is not None)
    return out


def main(argv=None) -> int:
    a = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    pins = json.loads(BOARDS_FILE.read_text())["esp32-devkitc"]
    board = VirtualBoard(a.flash, sewing=sewing_machine(a), clock=RealClock(),
                         sensor_pin=pins["sensor_pin"], unique_id=unique_id_for(a.device),
                         ntp=not a.no_ntp)
    board.flash(board_config(a, None if a.no_ntp else board.serve_ntp()))
    board.link_up = not (a.flash / "wifi_down").exists()

    def on_sigterm(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(board, a, stop), daemon=True, name="watch")
    watcher.start()
    try:
        while True:
            board.install(chdir=True)
            try:
                board.run_main()
                break
            except BoardReset:
                pass                        # machine.reset() (an update, a rollback): boot again
            except KeyboardInterrupt:
                if not board.wdt_fired:
                    return 0
                board.wdt_fired = False     # the watchdog bit: boot again
            finally:
                board.uninstall()
            board.restart()                 # what lived in RAM is gone; the flash folder stays
            board.resets += 1
            print("virtual board: reset, booting again", flush=True)
    finally:
        stop.set()
    # main.py only returns when the firmware refused to start (a bad sewnet.json): on a real
    # board the REPL would wait; here the process says so.
    print("virtual board: the firmware stopped", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
