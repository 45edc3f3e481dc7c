"""The offers' durable state in the gateway store (issue 7, docs: docs/offer-contract.md and edge_gateway/README.md).

- `hub_offers`: the hub's last offers document and its ETag, so the page shows the offers after a
  restart with the link down, and the next check can be a 304.
- `hub_outbox`: what the owner tapped (accept / decline with a reason, a piece count, machines
  assigned), written here FIRST, in one transaction, before the page answers; the hub link sends
  it and moves each item to `hub_results` only when the hub returned a result for that item.
  A SIGKILL or a cut uplink at any moment leaves the item waiting; a resend carries the same
  answer_id / report_id, which the hub applies once (`duplicate` the second time).
- `assignments`: which offer each machine works on, as last told to the hub.

Every function is one short transaction on the Outbox's connection (`Outbox.locked`).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping

from .outbox import Outbox

ANSWERS = ("accept", "decline")
#: The contract's decline reasons, in the order the page lists them, with words for the owner.
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "no_capacity": ("일손이 모자람", "Not enough hands"),
    "machines_busy": ("재봉틀이 다른 일로 바쁨", "Machines busy with other work"),
    "price_too_low": ("단가가 너무 낮음", "Price too low"),
    "due_too_soon": ("납기가 너무 빠름", "Due date too soon"),
    "other": ("기타", "Other reason"),
}
#: The hub's results per item (contract), for the page.
RESULT_WORDS: dict[str, tuple[str, str]] = {
    "applied": ("허브에 전달됨", "Delivered to the hub"),
    "duplicate": ("허브에 전달됨", "Delivered to the hub"),
    "too_late": ("늦었습니다: 일감이 이미 마감되었거나 취소됨", "Too late: the offer had expired or was withdrawn"),
    "refused": ("허브가 받지 않음", "The hub did not take it"),
}
#: The hub takes at most 64 KiB per body; an item is a few hundred bytes.
BODY_MAX_BYTES = 60 * 1024
#: Settled results kept for the page (each offer's latest answer) and for a technician.
RESULTS_KEEP = 5000


def _iso(ts: float) -> str:
    # Milliseconds: the hub calibrates a count against the stitches up to its moment, and a
    # count rounded down to the second would leave that second's stitches after it.
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    item_id: str
    kind: str  # answer | count | assign
    offer_id: str
    body: dict
    made_at: float


# ---- the offers document ----------------------------------------------------------------------
def save_document(store: Outbox, etag: str | None, document: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    store.locked(lambda db: db.execute(
        "INSERT OR REPLACE INTO hub_offers(id, etag, document, fetched_at) VALUES (1,?,?,?)",
        (etag, document, now)), write=True)


def touch_document(store: Outbox, now: float | None = None) -> None:
    """A 304: what the gateway holds is still the hub's word as of now."""
    now = time.time() if now is None else now
    store.locked(lambda db: db.execute("UPDATE hub_offers SET fetched_at=? WHERE id=1", (now,)), write=True)


def load_document(store: Outbox) -> tuple[str | None, dict | None, float | None]:
    """(etag, document, when the hub last confirmed it) or (None, None, None)."""
    row = store.locked(lambda db: db.execute("SELECT etag, document, fetched_at FROM hub_offers WHERE id=1").fetchone())
    if row is None:
        return None, None, None
    try:
        return row[0], json.loads(row[1]), row[2]
    except ValueError:  # cannot happen for a document the link checked; never break the page on it
        return None, None, None


# ---- what the owner tapped --------------------------------------------------------------------
def _insert(db: sqlite3.Connection, kind: str, offer_id: str, body: dict, now: float) -> str:
    db.execute("INSERT INTO hub_outbox(item_id, kind, offer_id, body, made_at) VALUES (?,?,?,?,?)",
               (body["answer_id" if kind == "answer" else "report_id"], kind, offer_id,
                json.dumps(body, ensure_ascii=False, separators=(",", ":")), now))
    return body["answer_id" if kind == "answer" else "report_id"]


def queue_answer(store: Outbox, offer_id: str, answer: str, reason: str | None = None,
                 now: float | None = None) -> tuple[str, bool]:
    """Store the owner's answer for the hub. Returns (answer_id, new). One answer per offer: a
    second tap (a double tap, the form sent again) while one is waiting or was taken returns the
    first; only after the hub refused it or found it too late may another be given."""
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {ANSWERS}")
    if answer == "decline" and reason not in DECLINE_REASONS:
        raise ValueError("a decline needs one of the reasons")
    if answer == "accept":
        reason = None
    now = time.time() if now is None else now

    def op(db: sqlite3.Connection) -> tuple[str, bool]:
        row = db.execute("SELECT item_id FROM hub_outbox WHERE kind='answer' AND offer_id=? ORDER BY id LIMIT 1",
                         (offer_id,)).fetchone()
        if row is None:
            row = db.execute("SELECT item_id FROM hub_results WHERE kind='answer' AND offer_id=?"
                             " AND result IN ('applied','duplicate') LIMIT 1", (offer_id,)).fetchone()
        if row is not None:
            return row[0], False
        body = {"answer_id": str(uuid.uuid4()), "offer_id": offer_id, "answer": answer, "reason": reason,
                "answered_at": _iso(now)}
        return _insert(db, "answer", offer_id, body, now), True

    return store.locked(op, write=True)


def queue_count(store: Outbox, offer_id: str, pieces: int, now: float | None = None) -> str:
    """The owner's count of finished pieces so far (a running total). An unsent earlier count of
    the same offer is replaced: only the latest total means anything."""
    if not 0 <= pieces <= 10_000_000:
        raise ValueError("pieces out of range")
    now = time.time() if now is None else now
    body = {"report_id": str(uuid.uuid4()), "kind": "count", "offer_id": offer_id, "pieces": int(pieces),
            "at": _iso(now)}

    def op(db: sqlite3.Connection) -> str:
        db.execute("DELETE FROM hub_outbox WHERE kind='count' AND offer_id=?", (offer_id,))
        return _insert(db, "count", offer_id, body, now)

    return store.locked(op, write=True)


# ---- machines on orders ----------------------------------------------------------------------
# The machines work on an ORDER: a workshop may hold two accepted offers of one order (an extra
# that `adds_to` the first, docs/offer-contract.md), and the hub applies an `assign` report to the
# offer's order (hub/planning/progress.py: a report's list is the order's whole list from `at` on;
# a machine left out of it leaves the order). So each order's list goes on ONE of its accepted
# offers (`report_offer`), always the whole list; a machine's row names that offer.
def order_of(document: Mapping | None) -> dict[str, str]:
    """{offer id: order id} of the document's offers."""
    return {o["id"]: o.get("order_id") or o["id"] for o in (document or {}).get("offers", [])}


def report_offer(document: Mapping | None, order_id: str) -> str | None:
    """The accepted offer of `order_id` its machine list is reported on: the one the others add to
    (no `adds_to`), else the first listed; None when the workshop holds no accepted offer of it."""
    accepted = [o for o in (document or {}).get("offers", [])
                if o.get("status") == "accepted" and (o.get("order_id") or o["id"]) == order_id]
    accepted.sort(key=lambda o: o.get("adds_to") is not None)  # stable: the document's order otherwise
    return accepted[0]["id"] if accepted else None


def open_orders(document: Mapping | None) -> list[str]:
    """Orders with an accepted offer not finished yet (fewer pieces counted than offered), in the
    document's order."""
    out: list[str] = []
    for o in (document or {}).get("offers", []):
        counted = (o.get("progress") or {}).get("counted") or 0
        order = o.get("order_id") or o["id"]
        if o.get("status") == "accepted" and counted < o.get("pieces", 0) and order not in out:
            out.append(order)
    return out


def _queue_order(db: sqlite3.Connection, order_id: str, orders: Mapping[str, str], offer_id: str,
                 now: float) -> None:
    """Queue the whole list of machines on `order_id`, on `offer_id` (one of its offers)."""
    rows = db.execute("SELECT machine, offer_id FROM assignments WHERE offer_id IS NOT NULL").fetchall()
    machines = sorted(m for m, of in rows if orders.get(of, of) == order_id)
    # One offer per order in the rows too, so the next list is gathered the same way.
    db.executemany("UPDATE assignments SET offer_id=? WHERE machine=?", [(offer_id, m) for m in machines])
    body = {"report_id": str(uuid.uuid4()), "kind": "assign", "offer_id": offer_id, "machines": machines,
            "at": _iso(now)}
    # The whole list goes each time: an unsent older list of this order says nothing more.
    for item_id, of in db.execute("SELECT item_id, offer_id FROM hub_outbox WHERE kind='assign'").fetchall():
        if orders.get(of, of) == order_id:
            db.execute("DELETE FROM hub_outbox WHERE item_id=?", (item_id,))
    _insert(db, "assign", offer_id, body, now)


def assign(store: Outbox, machine: str, order_id: str | None, document: Mapping | None, *,
           set_by: str = "owner", now: float | None = None) -> bool:
    """Put `machine` on `order_id` (None: on no order); `document` is the hub's offers document the
    owner chose from. The lists of both the order it leaves and the one it joins are queued for
    the hub. Returns False if nothing changed. ValueError if the workshop holds no accepted offer
    of `order_id`."""
    now = time.time() if now is None else now
    orders = order_of(document)
    target = None
    if order_id is not None:
        target = report_offer(document, order_id)
        if target is None:
            raise ValueError(f"no accepted offer of order {order_id}")

    def op(db: sqlite3.Connection) -> bool:
        row = db.execute("SELECT offer_id FROM assignments WHERE machine=?", (machine,)).fetchone()
        before_offer = row[0] if row else None
        before = orders.get(before_offer, before_offer) if before_offer else None
        if row is not None and before == order_id:
            return False
        db.execute("INSERT OR REPLACE INTO assignments(machine, offer_id, set_by, at) VALUES (?,?,?,?)",
                   (machine, target, set_by, now))
        if before is not None:
            # An order no longer held (withdrawn) keeps its last offer: an empty list frees its machines.
            _queue_order(db, before, orders, report_offer(document, before) or before_offer, now)
        if order_id is not None:
            _queue_order(db, order_id, orders, target, now)
        return True

    return store.locked(op, write=True)


def assign_default(store: Outbox, machines: Iterable[str], order_id: str, document: Mapping | None,
                   now: float | None = None) -> list[str]:
    """The contract's default: every machine never assigned goes on the one open order. Machines
    the owner (or an earlier default) placed stay where they are. Returns the machines placed now."""
    now = time.time() if now is None else now
    machines = list(machines)
    target = report_offer(document, order_id)
    if target is None:
        return []
    orders = order_of(document)

    def op(db: sqlite3.Connection) -> list[str]:
        known = {m for (m,) in db.execute("SELECT machine FROM assignments")}
        new = [m for m in machines if m not in known]
        if not new:
            return []
        db.executemany("INSERT INTO assignments(machine, offer_id, set_by, at) VALUES (?,?,'default',?)",
                       [(m, target, now) for m in new])
        _queue_order(db, order_id, orders, target, now)
        return new

    return store.locked(op, write=True)


def machine_orders(store: Outbox, document: Mapping | None) -> dict[str, str | None]:
    """{machine: the order it works on (None: none)}; an offer the document no longer lists
    stands for its own order."""
    orders = order_of(document)
    return {m: (orders.get(of, of) if of else None) for m, of in assignments(store).items()}


def assignments(store: Outbox) -> dict[str, str | None]:
    return dict(store.locked(lambda db: db.execute("SELECT machine, offer_id FROM assignments").fetchall()))


# ---- the sending side -------------------------------------------------------------------------
def pending(store: Outbox, max_bytes: int = BODY_MAX_BYTES) -> list[Item]:
    """The oldest waiting items that fit one request body."""
    rows = store.locked(lambda db: db.execute(
        "SELECT id, item_id, kind, offer_id, body, made_at FROM hub_outbox ORDER BY id LIMIT 200").fetchall())
    out, size = [], 40
    for i, item_id, kind, offer_id, body, made_at in rows:
        size += len(body.encode()) + 1
        if out and size > max_bytes:
            break
        out.append(Item(i, item_id, kind, offer_id, json.loads(body), made_at))
    return out


def body_of(items: Iterable[Item]) -> dict:
    items = list(items)
    return {"answers": [i.body for i in items if i.kind == "answer"],
            "reports": [i.body for i in items if i.kind != "answer"]}


def settle(store: Outbox, results: Mapping[str, tuple[str, str | None]], now: float | None = None) -> int:
    """Move the items the hub returned a result for out of the queue, with that result. Returns
    how many were waiting."""
    now = time.time() if now is None else now

    def op(db: sqlite3.Connection) -> int:
        n = 0
        for item_id, (result, reason) in results.items():
            row = db.execute("SELECT kind, offer_id, body, made_at FROM hub_outbox WHERE item_id=?",
                             (item_id,)).fetchone()
            if row is None:
                continue  # an item_id the gateway did not send (or settled already)
            db.execute("INSERT OR REPLACE INTO hub_results(item_id, kind, offer_id, body, made_at, result, reason,"
                       " settled_at) VALUES (?,?,?,?,?,?,?,?)", (item_id, *row, result, (reason or "")[:500], now))
            db.execute("DELETE FROM hub_outbox WHERE item_id=?", (item_id,))
            n += 1
        db.execute("DELETE FROM hub_results WHERE item_id IN (SELECT item_id FROM hub_results"
                   " ORDER BY settled_at DESC LIMIT -1 OFFSET ?)", (RESULTS_KEEP,))
        return n

    return store.locked(op, write=True)


def waiting_stats(store: Outbox) -> tuple[int, float | None]:
    """(items waiting for the hub, when the oldest was made)."""
    return tuple(store.locked(lambda db: db.execute("SELECT count(*), min(made_at) FROM hub_outbox").fetchone()))


def by_offer(store: Outbox) -> dict[str, dict]:
    """Per offer, what the owner did on this gateway: the answer waiting to be sent or the latest
    the hub gave a result for, and the latest count ({"answer": {...}, "count": {...}})."""

    def op(db: sqlite3.Connection) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for kind, offer_id, body, made_at, result, reason in db.execute(
                "SELECT kind, offer_id, body, made_at, result, reason FROM hub_results"
                " WHERE kind IN ('answer','count') ORDER BY made_at"):
            out.setdefault(offer_id, {})[kind] = {**json.loads(body), "made_at": made_at, "result": result,
                                                  "reason_words": reason, "waiting": False}
        for kind, offer_id, body, made_at in db.execute(
                "SELECT kind, offer_id, body, made_at FROM hub_outbox WHERE kind IN ('answer','count') ORDER BY id"):
            out.setdefault(offer_id, {})[kind] = {**json.loads(body), "made_at": made_at, "result": None,
                                                  "reason_words": None, "waiting": True}
        return out

    return store.locked(op)
