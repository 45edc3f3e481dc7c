"""What the operator page tells people about the gateway's own health, in plain words.

Each part of the gateway (store, ingest, uplink) reports its current problems as Alerts; the page
shows them at the top, Korean first, with what to do. An alert disappears when its cause is gone:
parts report what is true now, not a history.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Alert:
    #: Stable and short ("clock_unsynced", "disk_low", ...): for tests, logs and the JSON page.
    key: str
    #: "warning": data is safe but someone should look; "error": data is waiting or being refused.
    level: Literal["warning", "error"]
    ko: str  # what happened and what to do, in Korean, for the workshop owner
    en: str  # the same in English
    since: float | None = None  # Unix time the condition began, when known

    def as_dict(self) -> dict:
        return asdict(self)
