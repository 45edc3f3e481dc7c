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

Progress is per order and workshop (`workshops`): a workshop usually holds one accepted offer of
an order, two when a re-plan asked it for more after it had accepted (hub.planning.offer_sync).
Each offer's count is its own running total (the gateway counts per offer), so the workshop's
counted pieces are the offers' latest counts added up; the stitch estimate is the workshop's and
fills its oldest offer first. `offers` gives each offer's share (they add up to the workshop's).

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

__all__ = ["behind_change", "counted_only", "latest_counts", "order_progress", "planned_by", "workshop_progress"]


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
    """One workshop's accepted offers of one order (oldest first: usually one; two when a re-plan
    asked it for more after it had accepted) and what their progress is computed from."""

    offers: list[Offer]
    sam_total: float
    spans: list[StitchSpan] = field(default_factory=list)
    counts: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # offer id -> (pieces, at)

    @property
    def offer(self) -> Offer:
        return self.offers[0]

    @property
    def count(self) -> Optional[tuple[int, datetime]]:
        """The workshop's counted pieces for the order (each offer's latest count, added up) and
        when the latest was made; None before any count."""
        if not self.counts:
            return None
        return sum(n for n, _ in self.counts.values()), max(at for _, at in self.counts.values())


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


def latest_counts(session: Session, order_id: str) -> dict[str, tuple[int, datetime]]:
    """Each offer's latest applied count of the order (a running total per offer): {offer id:
    (pieces, at)}."""
    return _latest(session, select(OfferReport).where(OfferReport.order_id == order_id, OfferReport.kind == "count",
                                                      OfferReport.result == "applied"))


def _latest(session: Session, query: Any) -> dict[str, tuple[int, datetime]]:
    out: dict[str, tuple[int, datetime]] = {}
    for r in session.scalars(query.order_by(OfferReport.at, OfferReport.received_at)):
        out[r.offer_id] = (r.pieces or 0, utc(r.at))
    return out


def _pairs(session: Session, offers: Sequence[Offer], now: datetime) -> list[_Pair]:
    """The offers grouped per order and workshop, with what their progress is computed from, in
    three reads whatever their number: the orders, the workshops' assign reports, the counts."""
    if not offers:
        return []
    orders = {o.id: o for o in session.scalars(select(OrderRow).where(OrderRow.id.in_({x.order_id for x in offers})))}
    groups: dict[tuple[str, str], list[Offer]] = {}
    for offer in sorted(offers, key=lambda o: (utc(o.created_at), o.id)):
        groups.setdefault((offer.order_id, offer.workshop_id), []).append(offer)
    assigns: dict[str, list[OfferReport]] = {w: [] for _, w in groups}
    for r in session.scalars(
            select(OfferReport).where(OfferReport.workshop_id.in_(list(assigns)), OfferReport.kind == "assign",
                                      OfferReport.result == "applied")
            .order_by(OfferReport.at, OfferReport.received_at)):
        assigns[r.workshop_id].append(r)
    by_workshop = {w: _spans(reports, now) for w, reports in assigns.items()}
    # An applied count names an offer of its own workshop and order (hub.planning.offers checks it),
    # so each offer's latest count is found by its id alone.
    counts = _latest(session, select(OfferReport).where(OfferReport.offer_id.in_([o.id for o in offers]),
                                                        OfferReport.kind == "count", OfferReport.result == "applied"))
    pairs = []
    for (order_id, workshop_id), group in groups.items():
        pairs.append(_Pair(group, sum(orders[order_id].sam_minutes.values()),
                           [StitchSpan(workshop_id, m, since, until)
                            for m, since, until in by_workshop[workshop_id].get(order_id, [])],
                           {o.id: counts[o.id] for o in group if o.id in counts}))
    return pairs


def _accepted_pairs(session: Session, now: datetime, order_id: str | None = None,
                    workshop_id: str | None = None) -> list[_Pair]:
    """The pairs of the accepted offers of one order, or of one workshop."""
    query = select(Offer).where(Offer.status == "accepted")
    if order_id is not None:
        query = query.where(Offer.order_id == order_id)
    if workshop_id is not None:
        query = query.where(Offer.workshop_id == workshop_id)
    return _pairs(session, list(session.scalars(query)), now)


async def _read_pairs(database: Database, now: datetime, order_id: str | None = None,
                      workshop_id: str | None = None) -> list[_Pair]:
    import anyio

    def read() -> list[_Pair]:
        with database.session() as session:
            pairs = _accepted_pairs(session, now, order_id, workshop_id)
            session.expunge_all()  # read after the session closes
            return pairs

    return await anyio.to_thread.run_sync(read)


def _against_plan(done: int, planned: float, threshold: float) -> dict:
    """The earned-vs-planned variance and whether it is past the threshold (behind)."""
    return {"variance": round(done / planned - 1, 4) if planned else None,
            "behind": planned > 0 and done < planned * (1 - threshold)}


def _at_count(spans: Sequence[StitchSpan], at: datetime) -> list[StitchSpan]:
    return [StitchSpan(s.workshop, s.machine, s.since, at if s.until is None or s.until > at else s.until)
            for s in spans if s.since < at]


def _view(pair: _Pair, settings: HubSettings | None, now: datetime, stitches: int | None,
          stitches_at_count: int | None, reason: str | None) -> tuple[dict, dict[str, dict]]:
    """(the workshop's progress on the order, each offer's share by offer id). Counts are each
    offer's own; the estimate from the machines' stitches fills the oldest offer first."""
    counted, counted_at = pair.count if pair.count is not None else (0, None)
    default_spp = pair.sam_total * _default(settings, "stitches_per_sam_minute")
    calibrated = bool(counted and stitches_at_count)
    spp = stitches_at_count / counted if calibrated else default_spp
    pieces = sum(o.pieces for o in pair.offers)
    estimated = None if stitches is None else min(pieces, int(stitches / spp)) if spp > 0 else 0
    threshold = _default(settings, "behind_threshold")
    common = {"order_id": pair.offer.order_id, "workshop_id": pair.offer.workshop_id, "stitches": stitches,
              "stitches_per_piece": round(spp, 1), "calibrated": calibrated,
              "machines": sorted({s.machine for s in pair.spans if s.until is None}), "telemetry_reason": reason}
    shares: dict[str, dict] = {}
    left = estimated
    for offer in pair.offers:
        own, own_at = pair.counts.get(offer.id, (0, None))
        est = None if left is None else min(offer.pieces, left)
        left = None if left is None else left - est
        planned = planned_by(offer.days, now, utc(offer.answered_at) if offer.answered_at else None)
        done = max(own, est or 0)
        shares[offer.id] = {**common, "offer_id": offer.id, "pieces": offer.pieces, "counted": own,
                            "counted_at": own_at.isoformat() if own_at else None, "estimated": est,
                            "planned_by_now": planned, "done": done, **_against_plan(done, planned, threshold)}
    planned = sum(v["planned_by_now"] for v in shares.values())
    done = sum(v["done"] for v in shares.values())
    whole = {**common, "offer_id": pair.offer.id, "offer_ids": [o.id for o in pair.offers], "pieces": pieces,
             "counted": counted, "counted_at": counted_at.isoformat() if counted_at else None,
             "estimated": estimated, "planned_by_now": planned, "done": done,
             **_against_plan(done, planned, threshold)}
    return whole, shares


async def _progress(telemetry: Any, settings: HubSettings | None, pairs: Sequence[_Pair], now: datetime
                    ) -> tuple[dict[str, dict], dict[str, dict]]:
    """(by workshop, by offer id)."""
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
    workshops, offers, i, j = {}, {}, 0, 0
    for pair, group in zip(pairs, at_count):
        stitches = sum(now_sums[i:i + len(pair.spans)]) if now_sums is not None else None
        at = sum(count_sums[j:j + len(group)]) if count_sums is not None else None
        i, j = i + len(pair.spans), j + len(group)
        whole, shares = _view(pair, settings, now, stitches, at, reason)
        workshops[pair.offer.workshop_id] = whole
        offers.update(shares)
    return workshops, offers


def counted_only(session: Session, settings: HubSettings | None, order_id: str | None = None,
                 now: datetime | None = None, workshop_id: str | None = None) -> dict[str, dict]:
    """Progress of the order's (or the workshop's) accepted offers from the owners' counts alone
    (no telemetry read): `estimated` and `stitches` are None. By offer id."""
    now = now or datetime.now(timezone.utc)
    out: dict[str, dict] = {}
    for p in _accepted_pairs(session, now, order_id, workshop_id):
        out.update(_view(p, settings, now, None, None, "not read")[1])
    return out


def _summary(order_id: str, found: tuple[Mapping[str, dict], Mapping[str, dict]], settings: HubSettings | None
             ) -> dict:
    workshops, offers = found
    planned = sum(p["planned_by_now"] for p in workshops.values())
    done = sum(p["done"] for p in workshops.values())
    threshold = _default(settings, "behind_threshold")
    return {"order_id": order_id, "planned_by_now": planned, "done": done,
            "counted": sum(p["counted"] for p in workshops.values()),
            "estimated": (None if any(p["estimated"] is None for p in workshops.values())
                          else sum(p["estimated"] for p in workshops.values())),
            "pieces": sum(p["pieces"] for p in workshops.values()),
            **_against_plan(done, planned, threshold),
            "behind_workshops": sorted(w for w, p in workshops.items() if p["behind"]),
            "behind_threshold": threshold, "workshops": dict(workshops), "offers": dict(offers)}


async def order_progress(database: Database, telemetry: Any, settings: HubSettings | None, order_id: str,
                         now: datetime | None = None) -> dict:
    """The order's progress: per accepted offer (`offers`, by offer id) and in total (planned by
    now, done, counted, estimated, variance, behind, the workshops behind)."""
    now = now or datetime.now(timezone.utc)
    pairs = await _read_pairs(database, now, order_id=order_id)
    return _summary(order_id, await _progress(telemetry, settings, pairs, now), settings)


async def workshop_progress(database: Database, telemetry: Any, settings: HubSettings | None, workshop_id: str,
                            now: datetime | None = None) -> dict[str, dict]:
    """Progress of the workshop's accepted offers, by offer id (for its gateway's document)."""
    now = now or datetime.now(timezone.utc)
    pairs = await _read_pairs(database, now, workshop_id=workshop_id)
    return (await _progress(telemetry, settings, pairs, now))[1] if pairs else {}


def behind_change(found: Mapping[str, Any]) -> Any:
    """The re-plan to propose for an order that is behind (order_progress's answer), as the change
    hub.planning.service.replan takes: each workshop behind keeps the share of its capacity it is
    showing (done ÷ planned by now, at least 0.1 so it still finishes what it can), and every
    workshop's done pieces count as started (never moved). None when nobody is behind."""
    from hub.planning import service

    per_workshop = found.get("workshops") or {p["workshop_id"]: p for p in found["offers"].values()}
    behind = {w: p for w, p in per_workshop.items() if p["behind"]}
    if not behind:
        return None
    reduced = {w: round(max(0.1, min(1.0, p["done"] / p["planned_by_now"])), 3) for w, p in behind.items()}
    started = {w: min(p["done"], p["pieces"]) for w, p in per_workshop.items() if p["done"] > 0}
    return service.Change(reduced=reduced, started=started,
                          note="계획보다 늦음 / behind plan: " + ", ".join(sorted(behind)))
