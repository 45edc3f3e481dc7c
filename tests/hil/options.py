"""The suite's command line: `pytest tests/hil --board virtual` (the default, and what `make test`
runs) or `--board serial:/dev/ttyUSB0` with the bench's other settings (hardware/hil/README.md).
Registered by tests/conftest.py, so `pytest tests` takes them too."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

_HOST = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class BoardSpec:
    kind: str                  # "virtual" or "serial"
    port: str | None = None    # the board's serial port (serial only)

    def __str__(self) -> str:
        return self.kind if self.port is None else f"{self.kind}:{self.port}"


def parse_board(text: str) -> BoardSpec:
    """`virtual` or `serial:PORT`; anything else is refused with a reason (argparse shows it)."""
    text = text.strip()
    if text == "virtual":
        return BoardSpec("virtual")
    kind, sep, port = text.partition(":")
    if kind == "serial" and sep:
        if not port or not port.startswith("/") or any(c.isspace() for c in port):
            raise argparse.ArgumentTypeError(
                f"serial: 뒤에 보드의 직렬 포트 경로가 필요합니다 (예: serial:/dev/ttyUSB0), 받은 값 {text!r} / "
                f"serial: needs the board's serial port path (e.g. serial:/dev/ttyUSB0), got {text!r}")
        return BoardSpec("serial", port)
    raise argparse.ArgumentTypeError(
        f"--board는 virtual 또는 serial:/dev/ttyUSB0 형식입니다, 받은 값 {text!r} / "
        f"--board takes virtual or serial:PORT (e.g. serial:/dev/ttyUSB0), got {text!r}")


@dataclass(frozen=True)
class BenchSettings:
    """What a serial bench needs besides the board's port."""

    pulsegen_port: str
    host: str                  # this machine's address on the bench LAN, as the board reaches it
    wifi_ssid: str
    wifi_password: str
    variant: str = "esp32-devkitc"


def bench_settings(pulsegen_port: str, host: str | None, ssid: str | None, password: str | None,
                   variant: str = "esp32-devkitc", variants: dict | None = None) -> BenchSettings:
    """Checks a serial bench's settings; raises ValueError naming each problem (Korean, English)."""
    problems = []
    if not host or not _HOST.fullmatch(host) or host in ("127.0.0.1", "localhost"):
        problems.append("--bench-host: 보드가 닿는 이 컴퓨터의 LAN 주소 (예: 192.168.4.2) / this machine's address on"
                        f" the bench LAN, as the board reaches it (e.g. 192.168.4.2), got {host!r}")
    if not ssid or len(ssid.encode()) > 32:
        problems.append("--wifi-ssid (또는 SEWNET_HIL_WIFI_SSID): 벤치 Wi-Fi 이름 1~32바이트 / the bench Wi-Fi's"
                        f" name, 1-32 bytes, got {ssid!r}")
    if password is None or not (password == "" or 8 <= len(password) <= 63):
        problems.append("SEWNET_HIL_WIFI_PASSWORD: 벤치 Wi-Fi 암호 (8~63자, 개방형이면 빈 값) / the bench Wi-Fi"
                        " password in the environment (8-63 characters, empty for an open network)")
    if not pulsegen_port.startswith("/"):
        problems.append(f"--pulsegen: 펄스 발생기의 직렬 포트 경로 / the pulse generator's serial port path, got"
                        f" {pulsegen_port!r}")
    if variants is not None and variant not in variants:
        problems.append(f"--variant: hardware/boards.json에 없는 보드 / not a board of hardware/boards.json:"
                        f" {variant!r} (one of {', '.join(sorted(variants))})")
    elif variants is not None and variants[variant].get("counter") != "pcnt":
        problems.append(f"--variant {variant}: 펄스 카운터가 없는 보드는 지원하지 않음 / a board without a pulse"
                        " counter is not supported (hardware/README.md)")
    if problems:
        raise ValueError("; ".join(problems))
    return BenchSettings(pulsegen_port, host, ssid, password, variant)


def add_options(parser) -> None:
    group = parser.getgroup("sewnet-hil", "SewNet hardware-in-the-loop suite (tests/hil)")
    group.addoption("--board", type=parse_board, default=BoardSpec("virtual"),
                    help="board under test: virtual (default) or serial:PORT, e.g. serial:/dev/ttyUSB0")
    group.addoption("--pulsegen", default=os.environ.get("SEWNET_HIL_PULSEGEN", "/dev/ttyACM0"),
                    help="serial bench: the pulse generator's port (default /dev/ttyACM0)")
    group.addoption("--bench-host", default=os.environ.get("SEWNET_HIL_BENCH_HOST"),
                    help="serial bench: this machine's address on the bench LAN (the board's broker and gateway)")
    group.addoption("--variant", default="esp32-devkitc",
                    help="serial bench: the board's variant in hardware/boards.json (its sensor pin is wired to the"
                         " pulse generator); default esp32-devkitc")
    group.addoption("--wifi-ssid", default=os.environ.get("SEWNET_HIL_WIFI_SSID"),
                    help="serial bench: the bench Wi-Fi's name (its password: SEWNET_HIL_WIFI_PASSWORD)")
