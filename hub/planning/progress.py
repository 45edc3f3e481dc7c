"""Progress of accepted offers, from the owners' counts and the machines' stitches. Plain Python.

Per accepted offer (one workshop's share of one order):
- `counted`: the owner's latest count of finished pieces (a running total, from the gateway);
- `estimated`: stitches the machines assigned to the order sewed since their assignment (the
  gateway's `assign` reports; hub telemetry through capacity's `machine_stitches`) divided by the
  stitches a piece takes. That figure is calibrated from the latest count (stitches up to the
  count ÷ pieces counted); before any count it is the style's SAM × `stitches_per_sam_minute`.
  Capped at the offer's pieces (a machine sewing samples must not finish the order on paper);
- `planned_by_now`: the pieces the plan had due by now: every earlier day's, and today's pro rata
  over a 09:00-18:00 working day in Seoul (the plan's days are Seoul days), from the moment the
  owner accepted when that was today;
- `done` = max(counted, estimated) and `behind`: done falls short of planned_by_now by more than
  `behind_threshold` (the earned-vs-planned variance). The order is behind when its accepted
  offers together are.

Assignments are per workshop across its orders: an `assign` report lists every machine on that
offer from its `at` on; a machine is on one offer at a time, so listing it elsewhere (or leaving
it out of its offer's next list) ends its span there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.capacity import SourceUnavailable, StitchSpan, machine_stitches
from hub.core.db import Database, utc
from hub.core.settings import HubSettings
from hub.planning.offer_tables import Offer, OfferReport
from hub.planning.tables import Order as OrderRow

SEOUL = ZoneInfo("Asia/Seoul")
#: The working day planned pieces are spread over, to say how many of today's are due by now.
DAY_START, DAY_END = time(9, 0), time(18, 0)

__all__ = ["counted_only", "order_progress", "planned_by", "workshop_progress"]


def _default(settings: HubSettings | None, name: str) -> Any:
    return getattr(settings, name) if settings is not None else HubSettings.model_fields[name].default


def planned_by(days: Sequence[Mapping[str, Any]], now: datetime, since: datetime | None = None) -> int:
    """Pieces the schedule ([{"day", "pieces"}], Seoul days) had due by `now`. Today's share runs
    from `since` (when the workshop took the work) if that is later than the day's start: a plan
    made at noon gives today only the afternoon's pieces, so they are not due in the morning."""
    local = now.astimezone(SEOUL)
    today = local.date()
    start = datetime.combine(today, DAY_START, SEOUL)
    if since is not None:
        start = max(start, since.astimezone(SEOUL))
    end = datetime.combine(today, DAY_END, SEOUL)
    share = 1.0 if end <= start else min(1.0, max(0.0, (local - start) / (end - start)))
    total = 0.0
    for d in days:
        day = date.fromisoformat(d["day"])
        if day < today:
            total += d["pieces"]
        elif day == today:
            total += d["pieces"] * share
    return int(math.floor(total))


@dataclass
class _Pair:
    """One accepted offer and what its progress is computed from."""

    offer: Offer
    sam_total: float
    spans: list[StitchSpan] = field(default_factory=list)
    count: Optional[tuple[int, datetime]] = None  # (pieces, at)


def _spans(reports: Sequence[OfferReport], now: datetime) -> dict[str, list[tuple[str, datetime, datetime | None]]]:
    """{order id: [(machine, from, until or None)]} from a workshop's assign reports in time order."""
    on: dict[str, tuple[str, datetime]] = {}  # machine -> (order, since)
    out: dict[str, list[tuple[str, datetime, datetime | None]]] = {}

    def close(machine: str, at: datetime) -> None:
        order, since = on.pop(machine)
        if at > since:
            out.setdefault(order, []).append((machine, since, at))

    for r in reports:
        at, listed = utc(r.at), set(r.machines or ())
        for machine, (order, _) in list(on.items()):
            if (order == r.order_id and machine not in listed) or (machine in listed and order != r.order_id):
                close(machine, at)
        for machine in sorted(listed):
            if machine not in on:
                on[machine] = (r.order_id, at)
    for machine, (order, since) in on.items():
        out.setdefault(order, []).append((machine, since, None))
    return out


def _pairs(session: Session, offers: Sequence[Offer], now: datetime) -> list[_Pair]:
    pairs = []
    orders = {o.id: o for o in session.scalars(select(OrderRow).where(OrderRow.id.in_({x.order_id for x in offers})))}
    by_workshop: dict[str, dict[str, list]] = {}
    for offer in offers:
        if offer.workshop_id not in by_workshop:
            reports = list(session.scalars(
                select(OfferReport).where(OfferReport.workshop_id == offer.workshop_id, OfferReport.kind == "assign",
                                          OfferReport.result == "applied")
                .order_by(OfferReport.at, OfferReport.received_at)))
            by_workshop[offer.workshop_id] = _spans(reports, now)
        count = session.scalars(
            select(OfferReport).where(OfferReport.workshop_id == offer.workshop_id,
                                      OfferReport.order_id == offer.order_id, OfferReport.kind == "count",
                                      OfferReport.result == "applied")
            .order_by(OfferReport.at.desc(), OfferReport.received_at.desc()).limit(1)).first()
        order = orders[offer.order_id]
        pair = _Pair(offer, sum(order.sam_minutes.values()),
                     [StitchSpan(offer.workshop_id, m, since, until)
                      for m, since, until in by_workshop[offer.workshop_id].get(offer.order_id, [])],
                     (count.pieces or 0, utc(count.at)) if count is not None else None)
        pairs.append(pair)
    return pairs


def _at_count(spans: Sequence[StitchSpan], at: datetime) -> list[StitchSpan]:
    return [StitchSpan(s.workshop, s.machine, s.since, at if s.until is None or s.until > at else s.until)
            for s in spans if s.since < at]


def _view(pair: _Pair, settings: HubSettings | None, now: datetime, stitches: int | None,
          stitches_at_count: int | None, reason: str | None) -> dict:
    offer = pair.offer
    counted, counted_at = pair.count if pair.count is not None else (0, None)
    default_spp = pair.sam_total * _default(settings, "stitches_per_sam_minute")
    calibrated = bool(counted and stitches_at_count)
    spp = stitches_at_count / counted if calibrated else default_spp
    estimated = None if stitches is None else min(offer.pieces, int(stitches / spp)) if spp > 0 else 0
    planned = planned_by(offer.days, now, utc(offer.answered_at) if offer.answered_at else None)
    done = max(counted, estimated or 0)
    threshold = _default(settings, "behind_threshold")
    return {"offer_id": offer.id, "order_id": offer.order_id, "workshop_id": offer.workshop_id,
            "pieces": offer.pieces, "counted": counted, "counted_at": counted_at.isoformat() if counted_at else None,
            "estimated": estimated, "stitches": stitches, "stitches_per_piece": round(spp, 1),
            "calibrated": calibrated, "machines": sorted({s.machine for s in pair.spans if s.until is None}),
            "planned_by_now": planned, "done": done,
            "variance": round(done / planned - 1, 4) if planned else None,
            "behind": planned > 0 and done < planned * (1 - threshold), "telemetry_reason": reason}


async def _progress(telemetry: Any, settings: HubSettings | None, pairs: Sequence[_Pair], now: datetime
                    ) -> dict[str, dict]:
    spans = [s for p in pairs for s in p.spans]
    at_count = [_at_count(p.spans, p.count[1]) if p.count else [] for p in pairs]
    reason = None
    if telemetry is None:
        now_sums, count_sums, reason = None, None, "no telemetry store"
    else:
        try:
            sums = await machine_stitches(telemetry, spans + [s for group in at_count for s in group])
            now_sums, count_sums = sums[:len(spans)], sums[len(spans):]
        except SourceUnavailable as e:
            now_sums, count_sums, reason = None, None, e.reason
    out, i, j = {}, 0, 0
    for pair, group in zip(pairs, at_count):
        stitches = sum(now_sums[i:i + len(pair.spans)]) if now_sums is not None else None
        at = sum(count_sums[j:j + len(group)]) if count_sums is not None else None
        i, j = i + len(pair.spans), j + len(group)
        out[pair.offer.id] = _view(pair, settings, now, stitches, at, reason)
    return out


def counted_only(session: Session, settings: HubSettings | None, order_id: str, now: datetime | None = None
                 ) -> dict[str, dict]:
    """Progress of the order's accepted offers from the owners' counts alone (no telemetry read):
    `estimated` and `stitches` are None. By offer id."""
    now = now or datetime.now(timezone.utc)
    offers = list(session.scalars(select(Offer).where(Offer.order_id == order_id, Offer.status == "accepted")))
    return {p.offer.id: _view(p, settings, now, None, None, "not read") for p in _pairs(session, offers, now)}


def _summary(order_id: str, offers: Mapping[str, dict], settings: HubSettings | None) -> dict:
    planned = sum(p["planned_by_now"] for p in offers.values())
    done = sum(p["done"] for p in offers.values())
    threshold = _default(settings, "behind_threshold")
    return {"order_id": order_id, "planned_by_now": planned, "done": done,
            "counted": sum(p["counted"] for p in offers.values()),
            "estimated": (None if any(p["estimated"] is None for p in offers.values())
                          else sum(p["estimated"] for p in offers.values())),
            "pieces": sum(p["pieces"] for p in offers.values()),
            "variance": round(done / planned - 1, 4) if planned else None,
            "behind": planned > 0 and done < planned * (1 - threshold),
            "behind_workshops": sorted(p["workshop_id"] for p in offers.values() if p["behind"]),
            "behind_threshold": threshold, "offers": dict(offers)}


async def order_progress(database: Database, telemetry: Any, settings: HubSettings | None, order_id: str,
                         now: datetime | None = None) -> dict:
    """The order's progress: per accepted offer (`offers`, by offer id) and in total (planned by
    now, done, counted, estimated, variance, behind, the workshops behind)."""
    import anyio

    now = now or datetime.now(timezone.utc)

    def read() -> list[_Pair]:
        with database.session() as session:
            offers = list(session.scalars(select(Offer).where(Offer.order_id == order_id, Offer.status == "accepted")))
            pairs = _pairs(session, offers, now)
            session.expunge_all()  # read after the session closes
            return pairs

    pairs = await anyio.to_thread.run_sync(read)
    return _summary(order_id, await _progress(telemetry, settings, pairs, now), settings)


async def workshop_progress(database: Database, telemetry: Any, settings: HubSettings | None, workshop_id: str,
                            now: datetime | None = None) -> dict[str, dict]:
    """Progress of the workshop's accepted offers, by offer id (for its gateway's document)."""
    import anyio

    now = now or datetime.now(timezone.utc)

    def read() -> list[_Pair]:
        with database.session() as session:
            offers = list(session.scalars(select(Offer).where(Offer.workshop_id == workshop_id,
                                                              Offer.status == "accepted")))
            pairs = _pairs(session, offers, now)
            session.expunge_all()
            return pairs

    pairs = await anyio.to_thread.run_sync(read)
    return await _progress(telemetry, settings, pairs, now) if pairs else {}
