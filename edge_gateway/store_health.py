"""The store's disk policy and what the operator page says about the store, as pure functions.

Kept apart from the SQL in outbox.py so both can be tested (and fuzzed) without a disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import timekeeping as tk
from .alerts import Alert

Why = Literal["disk", "store", "sqlite"]

MB = 1024 * 1024


def disk_refusal(free_bytes: int, store_bytes: int, min_free_bytes: int, max_store_bytes: int) -> Why | None:
    """Why new data must be refused now, or None. A limit of 0 is no limit.

    "disk": the filesystem would keep less than min_free_bytes free (the OS, its logs and the
    broker's own queue need the rest); "store": the store holds max_store_bytes or more.
    """
    if min_free_bytes and free_bytes < min_free_bytes:
        return "disk"
    if max_store_bytes and store_bytes >= max_store_bytes:
        return "store"
    return None


@dataclass(frozen=True, slots=True)
class Full:
    """New data is being refused: why, since when, and the figures then."""

    why: Why  # "sqlite": SQLite itself found the disk full (no policy, or it was set too low)
    since: float
    free_bytes: int = 0
    store_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Replacement:
    """A damaged store file set aside (its name, in the store's folder) and a new one started."""

    at: float
    set_aside: str
    salvaged_lines: int


_HELD = ("새 기록은 잠시 받지 않고 MQTT 브로커에 맡겨 두었습니다. 잃어버린 기록은 없습니다.",
         "New summaries are held at the MQTT broker for now; nothing is lost.")


def store_alerts(full: Full | None, settled: int, replacements: list[Replacement], failing: str | None) -> list[Alert]:
    """The store's alerts for the operator page, Korean first, each with what to do."""
    out: list[Alert] = []
    if failing:
        out.append(Alert(
            "store_failing", "error",
            "저장 파일이 또 손상되어 게이트웨이가 기록을 저장하지 못하고 있습니다. SD 카드가 고장 났을 수"
            " 있습니다. 새 기록은 MQTT 브로커에 맡겨 두고 있습니다. 바로 기술 담당자에게 연락해 주세요.",
            "The store file was damaged again and the gateway cannot store summaries. The SD card may be"
            " failing. New summaries are held at the MQTT broker. Call your technician now.",
        ))
    if full is not None:
        if full.why == "disk":
            ko = (f"저장 공간 부족: 게이트웨이의 SD 카드가 거의 찼습니다(남은 공간 {full.free_bytes // MB} MB). {_HELD[0]}"
                  " 인터넷 연결을 확인해 주세요. 쌓인 기록이 서버로 전송되면 저절로 다시 받습니다. 인터넷이 잘 되는데도"
                  " 30분 넘게 이 안내가 보이면 기술 담당자에게 연락해 주세요.")
            en = (f"Storage low: the gateway's SD card is nearly full ({full.free_bytes // MB} MB left). {_HELD[1]}"
                  " Check the internet connection: once the waiting summaries are sent, the gateway takes new ones"
                  " again by itself. If this stays for more than 30 minutes while the internet works, call your"
                  " technician.")
        elif full.why == "store":
            ko = (f"저장 공간 부족: 보내지 못한 기록이 정해 둔 한도({full.store_bytes // MB} MB)까지 쌓였습니다. {_HELD[0]}"
                  " 인터넷 연결을 확인해 주세요. 쌓인 기록이 서버로 전송되면 저절로 다시 받습니다.")
            en = (f"Storage low: the summaries waiting to be sent reached the set limit ({full.store_bytes // MB} MB)."
                  f" {_HELD[1]} Check the internet connection: once the waiting summaries are sent, the gateway"
                  " takes new ones again by itself.")
        else:
            ko = (f"저장 공간 부족: SD 카드가 가득 찼습니다. {_HELD[0]} 기술 담당자에게 공간을 비워 달라고 해 주세요."
                  " 공간이 생기면 저절로 다시 받습니다.")
            en = (f"Storage full: the SD card is full. {_HELD[1]} Ask your technician to free some space; the"
                  " gateway takes new summaries again by itself when there is room.")
        out.append(Alert("disk_low", "error", ko, en, full.since))
    if settled:
        out.append(Alert(
            "sent_not_removed", "warning",
            f"SD 카드가 가득 차서 서버로 보낸 기록 {settled}건을 저장 파일에서 지우지 못했습니다. 다시 보내지는"
            " 않으며, 공간이 생기면 저절로 지웁니다. 그동안 게이트웨이를 다시 켜지 마세요: 다시 켜면 이 기록을 한 번"
            " 더 보냅니다(숫자가 두 번 세지지는 않지만 LTE 데이터가 듭니다).",
            f"The SD card is full: {settled} summaries already sent could not be removed from the store. They"
            " will not be sent again and are removed by themselves when there is room. Please do not restart the"
            " gateway meanwhile: a restart would send them once more (nothing is counted twice, but it costs LTE"
            " data).",
        ))
    for r in replacements:
        out.append(Alert(
            "store_replaced", "warning",
            f"저장 파일이 손상되어 옆으로 옮겨 두고 새 파일로 계속 기록하고 있습니다. 손상 전에 보내지 못한 기록 중"
            f" 읽을 수 있던 {r.salvaged_lines}건은 새 파일로 옮겨 보냅니다. 그 밖의 기록은 '{r.set_aside}' 파일에"
            " 남아 있습니다. 이 파일을 지우지 말고 기술 담당자에게 알려 주세요. 담당자가 확인한 뒤 파일을 지우면 이"
            " 안내가 사라집니다. 자주 반복되면 SD 카드를 바꿔야 합니다.",
            f"The store file was damaged. It was set aside and the gateway goes on with a new file."
            f" {r.salvaged_lines} summaries that were waiting could be read and will be sent; anything else is"
            f" still in the file '{r.set_aside}'. Do not delete it: tell your technician. Once they have looked"
            " at it, deleting the file clears this message. If this happens again, the SD card needs replacing.",
            r.at,
        ))
    return out


def _duration(seconds: float) -> tuple[str, str]:
    """(Korean, English) for a clock error, in the largest unit that fits."""
    s = abs(seconds)
    if s >= 2 * 86400:
        return f"{s / 86400:.0f}일", f"{s / 86400:.0f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.0f}시간", f"{s / 3600:.0f} hours"
    return f"{max(1, round(s / 60))}분", f"{max(1, round(s / 60))} minutes"


def clock_alert(clock: tk.ClockState, held_since: float | None) -> Alert | None:
    """The operator page's words for the gateway clock (key "clock_unsynced"), or None if fine."""
    what_to_do_ko = ("게이트웨이의 인터넷(LTE) 연결을 확인해 주세요. 연결되면 시계는 저절로 맞춰집니다. "
                     "계속되면 설치 기사에게 연락해 주세요.")
    what_to_do_en = ("Check the gateway's internet (LTE) connection; once it is online the clock sets itself. "
                     "If this stays, call your installer.")
    if held_since is not None:
        return Alert("clock_unsynced", "error",
                     "게이트웨이 시계가 맞지 않아(2020년 이전) 재봉 기록을 아직 저장하지 못하고 있습니다. "
                     "기록은 중계기(브로커)에 안전하게 보관되어 있습니다. " + what_to_do_ko,
                     "The gateway's clock is wrong (before 2020), so sewing records cannot be stored yet. "
                     "They are waiting safely in the broker. " + what_to_do_en,
                     held_since)
    if clock.since is None:
        return None
    if clock.offset:
        ko_d, en_d = _duration(clock.offset)
        way_ko, way_en = ("늦습니다", "behind") if clock.offset > 0 else ("빠릅니다", "ahead")
        return Alert("clock_unsynced", "warning",
                     f"재봉틀 장치들의 시계로 보면 게이트웨이 시계가 약 {ko_d} {way_ko}. 기록 시각은 장치들의 시계로 "
                     "고쳐서 저장하고 있습니다. " + what_to_do_ko,
                     f"The sewing-machine boards' clocks show the gateway's clock about {en_d} {way_en}. "
                     "Record times are being corrected by the boards' clocks. " + what_to_do_en,
                     clock.since)
    if clock.stepped_back_s:
        ko_d, en_d = _duration(clock.stepped_back_s)
        return Alert("clock_unsynced", "warning",
                     f"게이트웨이 시계가 약 {ko_d} 뒤로 돌아갔습니다. 시계가 맞지 않으면 기록 시각이 틀릴 수 있습니다. "
                     + what_to_do_ko,
                     f"The gateway's clock went back by about {en_d}. While it is not set, record times may be "
                     "off. " + what_to_do_en,
                     clock.since)
    return Alert("clock_unsynced", "warning",
                 "게이트웨이 시계가 인터넷 시간과 맞춰지지 않았습니다. 기록은 계속 저장되지만 시각이 틀릴 수 "
                 "있습니다. " + what_to_do_ko,
                 "The gateway's clock is not set from the internet. Records are still stored, but their times may "
                 "be off. " + what_to_do_en,
                 clock.since)
