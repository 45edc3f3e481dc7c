"""Registry records to capacity's WorkshopProfile: the one place that knows the registry's field
names, so capacity's logic does not depend on the registry's insides.

Written against the fields of issue 6 section 3 as simulators/network.py's Workshop and Machine
records carry them (the registry mirrors them): a workshop has `id`, `machines` (each with
`machine_id` and `type`), `opens`, `closes`, `lunch_start`, `lunch_minutes`, `workdays`,
`declared_efficiency`, `families`; optionally `days_off`, `time_zone` and `updated_at`. Times may
be "HH:MM" text or datetime.time; lists may be sequences or text joined by ";" or ",", as in the
registry's CSV files. Only attributes are read (records are plain dataclasses).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Iterable

from hub.capacity.sam import DEFAULT_ZONE, WEEKDAYS, ProfileMachine, WorkingHours, WorkshopProfile


def _time(value: Any, name: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} must be a time like 09:00, not {value!r}")


def _items(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.replace(",", ";").split(";") if v.strip())
    return tuple(value)


def _weekday(value: Any) -> int:
    if isinstance(value, int) and 0 <= value <= 6:
        return value
    text = str(value).strip().lower()[:3]
    if text in WEEKDAYS:
        return WEEKDAYS.index(text)
    raise ValueError(f"not a weekday: {value!r} (mon, tue, ... sun)")


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def working_hours(record: Any) -> WorkingHours:
    lunch_minutes = int(getattr(record, "lunch_minutes", 0) or 0)
    lunch_start = getattr(record, "lunch_start", None)
    return WorkingHours(
        opens=_time(record.opens, "opens"), closes=_time(record.closes, "closes"),
        lunch_start=_time(lunch_start, "lunch_start") if lunch_start else None,
        lunch_minutes=lunch_minutes,
        workdays=frozenset(_weekday(d) for d in _items(getattr(record, "workdays", None))),
        days_off=frozenset(_day(d) for d in _items(getattr(record, "days_off", None))),
        zone=getattr(record, "time_zone", None) or DEFAULT_ZONE)


def profile_from_registry(record: Any, machines: Iterable[Any] | None = None) -> WorkshopProfile:
    """A workshop record (and its machine records, when the record does not carry them) as a
    WorkshopProfile. Raises ValueError naming the field that does not fit."""
    rows = list(machines if machines is not None else getattr(record, "machines", ()) or ())
    efficiency = float(record.declared_efficiency)
    return WorkshopProfile(
        id=str(record.id),
        machines=tuple(ProfileMachine(str(m.machine_id), str(m.type)) for m in rows),
        hours=working_hours(record),
        declared_efficiency=efficiency,
        families=_items(getattr(record, "families", None)),
        declared_at=getattr(record, "updated_at", None))
