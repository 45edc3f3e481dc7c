"""The model My Style Lab serves, kept in memory: the catalogue as shoppers see it (names, price,
swatch, the colour read in CIELAB, the shop and its building), the popularity baseline, and the
two-stage recommender once it is trained. Plain Python, no web: hub.styles.routes runs the
blocking parts (`load`, `train`) in worker threads so the hub's event loop never waits on them.

Until the recommender is trained (after the hub starts, or after `train` is asked again) answers
come from the popularity baseline, and say so (`Answer.model == "popularity"`, with a note in
words). A training replaces the model in one step when it is done; a failed training keeps the
model that was serving and says why in `status`.

Nothing a shopper chose (quiz likes, colour, budget) is stored or logged here: a session is a
function call."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any

from threadpoolctl import threadpool_limits

from hub.core.db import Database
from hub.styles import colour, store
from hub.styles.config import StylesSettings
from hub.styles.hours import OpenState, open_state
from hub.styles.recommender import (NO_CEILING_KRW, Popularity, Preferences, Reason, Recommendation, Recommender,
                                    in_budget)
from hub.styles.words import all_langs, open_words, reason_words, t, term

log = logging.getLogger("sewnet.styles")

SEASONS = colour.SEASONS
#: What the kiosk's colour choice means: one season, or a tone of two.
TONES = {"warm": ("spring", "autumn"), "cool": ("summer", "winter"), **{s: (s,) for s in SEASONS}}
#: At most this many colour variants of one style in a list (the issue: not 12 colours of one shirt).
VARIANTS_PER_STYLE = 2


# ============================================================================ the catalogue as shown
@dataclass(frozen=True)
class Shop:
    id: str
    kind: str
    name_ko: str
    name_en: str
    building_ko: str
    building_en: str
    floor: str
    stall: str
    address_ko: str
    address_en: str

    def open_state(self, now: datetime) -> OpenState:
        return open_state(self.building_ko, self.building_en, now)


@dataclass(frozen=True)
class Item:
    """One catalogue product as a shopper sees it."""

    article_id: int
    product_code: int
    names: dict[str, str]  # ko, en, zh
    prod_name: str
    product_type_name: str
    product_group_name: str
    graphical_appearance_name: str
    colour_group_name: str
    garment_group_name: str
    index_group_name: str
    detail_desc: str
    retail_krw: int
    wholesale_krw: int
    min_order: int
    fresh_date: date
    season: str  # the catalogue's sales season: all, ss, fw
    lab: tuple[float, float, float]
    swatch_hex: str
    reading: colour.ColourReading
    shop_id: str


@dataclass(frozen=True)
class Catalogue:
    items: dict[int, Item] = field(default_factory=dict)
    shops: dict[str, Shop] = field(default_factory=dict)

    def name(self, article_id: int, lang: str) -> str | None:
        item = self.items.get(article_id)
        return item.names.get(lang) or item.prod_name if item else None


def catalogue_of(product_rows: Iterable[Mapping[str, Any]], designers: Mapping[str, Any]) -> Catalogue:
    items = {}
    for r in product_rows:
        l, a, b = float(r["lab_l"]), float(r["lab_a"]), float(r["lab_b"])
        items[int(r["article_id"])] = Item(
            article_id=int(r["article_id"]), product_code=int(r["product_code"]),
            names={"ko": r["name_ko"], "en": r["name_en"], "zh": r["name_zh"]}, prod_name=r["prod_name"],
            product_type_name=r["product_type_name"], product_group_name=r["product_group_name"],
            graphical_appearance_name=r["graphical_appearance_name"], colour_group_name=r["colour_group_name"],
            garment_group_name=r["garment_group_name"], index_group_name=r["index_group_name"],
            detail_desc=r["detail_desc"], retail_krw=int(r["retail_krw"]), wholesale_krw=int(r["wholesale_krw"]),
            min_order=int(r["min_order"]), fresh_date=r["fresh_date"], season=r["season"], lab=(l, a, b),
            swatch_hex=colour.lab_to_hex(l, a, b), reading=colour.read_colour(l, a, b), shop_id=r["shop_id"])
    shops = {d.id: Shop(d.id, d.kind, d.name_ko, d.name_en, d.building_ko, d.building_en, d.floor, d.stall,
                        d.address_ko, d.address_en) for d in designers.values()}
    return Catalogue(items, shops)


# ============================================================================ answers
@dataclass(frozen=True)
class Pick:
    item: Item
    score: float
    reasons: tuple[Reason, ...]
    shop: Shop | None


@dataclass(frozen=True)
class Answer:
    #: "recommender" (the two-stage model), "popularity" (the baseline, while the model trains or
    #: when it could not be trained), "none" (no purchases yet: the newest products; or no catalogue).
    model: str
    picks: tuple[Pick, ...]
    #: Word keys (hub.styles.words) of what the shopper should know about this answer.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Status:
    state: str  # loading | training | ready | popularity | empty | failed
    model: str  # recommender | popularity | none
    products: int = 0
    purchases: int = 0
    loaded_at: datetime | None = None
    trained_at: datetime | None = None
    train_seconds: float | None = None
    progress: tuple[str, float] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "model": self.model, "products": self.products, "purchases": self.purchases,
                "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
                "trained_at": self.trained_at.isoformat() if self.trained_at else None,
                "train_seconds": None if self.train_seconds is None else round(self.train_seconds, 2),
                "progress": None if self.progress is None else {"step": self.progress[0],
                                                                "done": round(self.progress[1], 3)},
                "error": self.error}


@dataclass(frozen=True)
class Budget:
    low: int | None = None
    high: int | None = None

    def holds(self, krw: int) -> bool:
        return (self.low is None or krw >= self.low) and (self.high is None or krw <= self.high)

    def as_tuple(self) -> tuple[int, int] | None:
        if self.low is None and self.high is None:
            return None
        return (self.low or 0, self.high if self.high is not None else NO_CEILING_KRW)


class Styles:
    """The served model and catalogue. `load` (read the database, fit popularity) and `train`
    (fit the recommender) block: call them from a worker thread. Answers never block on them."""

    def __init__(self, database: Database | None, settings: StylesSettings | None = None):
        self.database = database
        self.settings = settings or StylesSettings()
        # Serving: BLAS on one thread for the hub's process. A session's matrix products are small
        # and a second OpenBLAS thread spins between them: measured on the full market, 17.7 ms of
        # CPU a session with two threads, 2.6 ms with one (bench/bench_styles.py --hub-blas-threads;
        # with two the hub gave way at 25 requests/s, with one p99 was 36 ms at 50/s). ALS's own
        # fit holds BLAS to one thread as well (recommender.cf).
        threadpool_limits(limits=1, user_api="blas")
        self._lock = threading.Lock()
        self._training = threading.Lock()
        self.catalogue = Catalogue()
        self.market = None
        self.popularity: Popularity | None = None
        self.recommender: Recommender | None = None
        self._popular: tuple[int, ...] = ()  # the week's sellers by popularity, then the rest newest first
        self._sold = 0  # how many of _popular sold this week
        self.status = Status("loading", "none")

    # ------------------------------------------------------------------ loading and training
    def load(self) -> None:
        """Read the catalogue, shoppers and purchases from the database, fit the popularity
        baseline (seconds), and serve it until a recommender is trained on the same data."""
        with self.database.session() as session:
            market = store.market(session)
            cat = catalogue_of(store.all_rows(session, "products"), store.shops(session))
        popularity, popular = None, ()
        if len(market.transactions):
            popularity = Popularity.fit(market)
            popular = tuple(popularity.recommend([""], k=max(len(cat.items), 1)).get("", ()))
        # After the week's sellers, the rest of the catalogue newest first: a filter (a season, a
        # budget) that leaves few of the sellers still fills the list, without calling them popular.
        sold = set(popular)
        rest = sorted((i for i in cat.items.values() if i.article_id not in sold),
                      key=lambda i: (i.fresh_date, i.article_id), reverse=True)
        with self._lock:
            self.market, self.catalogue, self.popularity = market, cat, popularity
            self._popular, self._sold = popular + tuple(i.article_id for i in rest), len(popular)
            # A recommender trained on older data keeps serving (it knows fewer items) until the
            # next training replaces it.
            model = "recommender" if self.recommender else "popularity" if popularity else "none"
            state = ("ready" if self.recommender else "popularity" if popularity else "empty")
            self.status = replace(self.status, state=state, model=model, products=len(cat.items),
                                  purchases=len(market.transactions), loaded_at=datetime.now(timezone.utc),
                                  progress=None)

    def train(self) -> bool:
        """Fit the recommender on what `load` read and serve it; False when a training is already
        running or there is nothing to train on. A failure keeps what was serving, with the reason
        in `status.error`."""
        if not self._training.acquire(blocking=False):
            return False
        try:
            market = self.market
            if market is None or not len(market.transactions) or not len(market.articles):
                return False
            with self._lock:
                self.status = replace(self.status, state="training", progress=("start", 0.0), error=None)
            started = time.monotonic()

            def progress(step: str, done: float) -> None:
                self.status = replace(self.status, progress=(step, float(done)))

            try:
                recommender = Recommender.fit(market, seed=self.settings.seed, progress=progress)
            except Exception as e:  # a model that cannot be trained must not take the hub down
                log.error("the styles recommender could not be trained: %s", type(e).__name__)
                self.failed(e)
                return False
            with self._lock:
                self.recommender = recommender
                self.status = replace(self.status, state="ready", model="recommender", progress=None,
                                      trained_at=datetime.now(timezone.utc),
                                      train_seconds=time.monotonic() - started)
            log.info("styles recommender trained on %d purchases of %d products in %.1f s",
                     len(market.transactions), len(market.articles), time.monotonic() - started)
            return True
        finally:
            self._training.release()

    @property
    def training(self) -> bool:
        return self._training.locked()

    def failed(self, error: BaseException) -> None:
        """Say why a load or a training failed (in `status.error`), keeping what the status said
        of the data and the model: what was serving keeps serving."""
        with self._lock:
            self.status = replace(self.status, state="ready" if self.recommender else "failed", progress=None,
                                  error=f"{type(error).__name__}: {error}"[:300])

    # ------------------------------------------------------------------ answers
    def _pick(self, cat: Catalogue, article_id: int, score: float, reasons: Sequence[Reason]) -> Pick | None:
        item = cat.items.get(int(article_id))
        if item is None:
            return None
        return Pick(item, float(score), tuple(reasons), cat.shops.get(item.shop_id))

    def _popular_picks(self, cat: Catalogue, k: int, seasons: Sequence[str] = (), budget: Budget = Budget(),
                       exclude: Iterable[int] = ()) -> list[Pick]:
        """The baseline's list, filtered by colour and budget, diverse: what serves until the
        recommender is trained."""
        out, per_style, skip = [], {}, set(exclude)
        for rank, article_id in enumerate(self._popular):
            item = cat.items.get(article_id)
            if item is None or article_id in skip or not budget.holds(item.retail_krw):
                continue
            fits = [s for s in seasons if colour.suits(s, *item.lab)]
            if seasons and not fits:
                continue
            if per_style.get(item.product_code, 0) >= VARIANTS_PER_STYLE:
                continue
            per_style[item.product_code] = per_style.get(item.product_code, 0) + 1
            reasons = [Reason("popular_week", {"rank": rank + 1})] if rank < self._sold else []
            if fits:
                reasons.append(Reason("colour_suits", {"season": fits[0]}))
            if budget.as_tuple() is not None:
                reasons.append(in_budget(item.retail_krw, budget.as_tuple()))
            out.append(Pick(item, 1.0 / (rank + 1), tuple(reasons), cat.shops.get(item.shop_id)))
            if len(out) >= k:
                break
        return out

    def for_shopper(self, customer_id: str, k: int, season: str | None = None,
                    budget: Budget = Budget()) -> Answer:
        with self._lock:
            rec, cat = self.recommender, self.catalogue
        seasons = TONES.get(season, ()) if season else ()
        if rec is not None:
            picks = self._merged([rec.recommend(customer_id, k, season=s, budget_krw=budget.as_tuple())
                                  for s in (seasons or (None,))], cat, k)
            return Answer("recommender", tuple(picks))
        return self._fallback(cat, k, seasons, budget)

    def _fallback(self, cat: Catalogue, k: int, seasons: Sequence[str], budget: Budget) -> Answer:
        """Before the recommender: popularity's list; with no purchases at all, the newest products."""
        if not self._popular:
            return Answer("none", (), ("model_none",))
        picks = tuple(self._popular_picks(cat, k, seasons, budget))
        if not self._sold:
            return Answer("none", picks, ("model_new",))
        return Answer("popularity", picks, ("model_failed" if self.status.state == "failed" else "model_popular",))

    def for_session(self, liked: Sequence[int], skipped: Sequence[int], tone: str | None, budget: Budget,
                    k: int) -> Answer:
        """A kiosk session: quiz likes and skips, a colour tone or season (or none), a budget."""
        with self._lock:
            rec, cat = self.recommender, self.catalogue
        seasons = TONES.get(tone, ()) if tone else ()
        if rec is not None:
            runs = [rec.for_session(Preferences(liked=tuple(liked), skipped=tuple(skipped), season=s,
                                                budget_krw=budget.as_tuple()), k) for s in (seasons or (None,))]
            return Answer("recommender", tuple(self._merged(runs, cat, k)))
        return self._fallback(cat, k, seasons, budget)

    def _merged(self, runs: Sequence[Sequence[Recommendation]], cat: Catalogue, k: int) -> list[Pick]:
        """One list from one run per season of a tone (warm: spring and autumn), by score, with at
        most VARIANTS_PER_STYLE colours of a style."""
        if len(runs) == 1:
            return [p for r in runs[0] if (p := self._pick(cat, r.article_id, r.score, r.reasons))][:k]
        seen, per_style, out = set(), {}, []
        for r in sorted((r for run in runs for r in run), key=lambda r: -r.score):
            p = self._pick(cat, r.article_id, r.score, r.reasons)
            if p is None or r.article_id in seen or per_style.get(p.item.product_code, 0) >= VARIANTS_PER_STYLE:
                continue
            seen.add(r.article_id)
            per_style[p.item.product_code] = per_style.get(p.item.product_code, 0) + 1
            out.append(p)
        return out[:k]

    def quiz(self, n: int, seed: int = 0) -> list[Item]:
        """Cards to like or skip: the recommender's (diverse on purpose), else the most popular
        across product groups, one colour per style."""
        with self._lock:
            rec, cat, popular = self.recommender, self.catalogue, self._popular
        if rec is not None:
            return [cat.items[a] for a in rec.quiz_cards(n, seed=seed) if a in cat.items][:n]
        groups: dict[str, list[Item]] = {}
        styles: set[int] = set()
        for a in popular or sorted(cat.items):
            item = cat.items.get(a)
            if item is None or item.product_code in styles:
                continue
            styles.add(item.product_code)
            groups.setdefault(item.product_group_name, []).append(item)
        out: list[Item] = []
        while len(out) < n and any(groups.values()):
            for g in sorted(groups, key=lambda g: -len(groups[g])):
                if groups[g] and len(out) < n:
                    out.append(groups[g].pop(0))
        return out

    def items(self, ids: Iterable[int]) -> list[Item | None]:
        cat = self.catalogue
        return [cat.items.get(int(a)) for a in ids]


# ============================================================================ kiosk sessions per address
class TooMany(Exception):
    def __init__(self, retry_after_s: int):
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class SessionLimiter:
    """At most `per_minute` sessions per client address in any minute (a sliding window, in
    memory; addresses with nothing in the window are forgotten, so it does not grow)."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:
                for a in [a for a, q in self._seen.items() if not q or q[-1] <= now - 60]:
                    del self._seen[a]
            q = self._seen.setdefault(address, deque())
            while q and q[0] <= now - 60:
                q.popleft()
            if len(q) >= self.per_minute:
                raise TooMany(max(1, int(q[0] + 60 - now + 0.999)))
            q.append(now)


# ============================================================================ words for an answer
def pick_words(pick: Pick, cat: Catalogue, lang: str, now: datetime) -> dict[str, Any]:
    """What a card shows, in one language."""
    shop, item = pick.shop, pick.item
    state = shop.open_state(now) if shop else OpenState("unknown")
    return {"reasons": [reason_words(r.code, r.args, lang, cat.name) for r in pick.reasons],
            "where": where_words(shop, lang), "open": open_words(state.state, lang, state.until, state.next_open, now),
            "open_state": state.state,
            "reading": reading_words(item.reading, lang)}


def where_words(shop: Shop | None, lang: str) -> str:
    if shop is None:
        return ""
    building = shop.building_ko if lang == "ko" else shop.building_en or shop.building_ko
    if building:
        return t("floor_stall", lang, building=building, floor=shop.floor, stall=shop.stall)
    return shop.address_ko if lang == "ko" else shop.address_en or shop.address_ko


def reading_words(reading: colour.ColourReading, lang: str) -> dict[str, Any]:
    return {"undertone": term(reading.undertone, lang), "depth": term(reading.depth, lang),
            "clarity": term(reading.clarity, lang), "suits": [term(s, lang) for s in reading.suits],
            "why": reading.why.get(lang) or reading.why.get("en", "")}


def answer_json(answer: Answer, cat: Catalogue, now: datetime) -> dict[str, Any]:
    """An answer for the API: every item with its names, price, swatch, colour reading, reasons
    in words (ko, en, zh) and where to buy with whether it is open now."""
    items = []
    for p in answer.picks:
        item, shop = p.item, p.shop
        state = shop.open_state(now) if shop else OpenState("unknown")
        items.append({
            "article_id": item.article_id, "product_code": item.product_code, "names": item.names,
            "prod_name": item.prod_name, "product_type": item.product_type_name,
            "price_krw": item.retail_krw, "wholesale_krw": item.wholesale_krw, "min_order": item.min_order,
            "swatch_hex": item.swatch_hex, "score": round(p.score, 6),
            "colour": {"lab": list(item.lab), "undertone": item.reading.undertone, "depth": item.reading.depth,
                       "clarity": item.reading.clarity, "suits": list(item.reading.suits), "why": item.reading.why},
            "reasons": [{"code": r.code, "args": dict(r.args),
                         **all_langs(lambda lang, r=r: reason_words(r.code, r.args, lang, cat.name))}
                        for r in p.reasons],
            "where": None if shop is None else {
                "shop_id": shop.id, "kind": shop.kind, "name_ko": shop.name_ko, "name_en": shop.name_en,
                "building_ko": shop.building_ko, "building_en": shop.building_en, "floor": shop.floor,
                "stall": shop.stall, "address_ko": shop.address_ko, "address_en": shop.address_en,
                "open_now": {"open": True, "closed": False}.get(state.state),
                "until": state.until.isoformat() if state.until else None,
                "opens": state.next_open.isoformat() if state.next_open else None,
                **all_langs(lambda lang, s=state: open_words(s.state, lang, s.until, s.next_open, now))},
        })
    return {"model": answer.model, "notes": [{"key": n, **all_langs(lambda lang, n=n: t(n, lang))}
                                             for n in answer.notes], "items": items}


__all__ = ["Answer", "Budget", "Catalogue", "Item", "Pick", "SessionLimiter", "Shop", "Status", "Styles", "TONES",
           "TooMany", "answer_json", "catalogue_of", "pick_words", "reading_words", "where_words"]
