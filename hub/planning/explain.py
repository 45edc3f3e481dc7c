"""Why a plan is what it is, in numbers and in words (Korean first, then English): each chosen
workshop's reasons, each strong candidate left out and why, and why an order cannot be met.

Pure: every figure comes from the screened candidates (`allocation.Field`) and the plan.
"""

from __future__ import annotations

from datetime import date
from typing import Optional, Sequence

from hub.planning.model import Assignment, LeftOut, Names, Reason

#: A workshop is "among the cheapest" in the cheapest this share of those that can sew the order
#: (and at least the first three); "close" within this share of the nearest, or within CLOSE_KM.
CHEAP_SHARE = 0.2
CLOSE_SHARE = 0.2
CLOSE_KM = 1.0
#: On time in at least this share of at least RELIABLE_ORDERS orders: "reliable".
RELIABLE_RATE = 0.95
RELIABLE_ORDERS = 10
#: How many strong candidates left out a plan lists.
LEFT_OUT = 5


def label(names: Optional[Names], key: Optional[str]) -> tuple[str, str]:
    if key is None:
        return "", ""
    ko, en = (names or {}).get(key, (key, key))
    return ko, en


def won(x: float) -> tuple[str, str]:
    return f"{x:,.0f}원", f"KRW {x:,.0f}"


def md(d: date) -> tuple[str, str]:
    return f"{d.month}/{d.day}", f"{d:%m-%d}"


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def chosen(field, rows: Sequence[Assignment], names: Optional[Names]) -> tuple[Assignment, ...]:
    """The plan's assignments, each with the reasons it was chosen."""
    from dataclasses import replace

    able = [p for p in field.eligible if p.capacity > 0]
    by_id = {p.c.id: p for p in field.eligible}
    unit_rank = sorted(p.unit_pp for p in able)
    distances = sorted(p.distance_km for p in able)
    capacities = sorted((p.capacity for p in able), reverse=True)
    last_ko, last_en = md(field.last)
    out = []
    for a in rows:
        p = by_id[a.workshop]
        why: list[Reason] = []
        if a.started:
            why.append(Reason("started", f"이미 시작한 {a.started:,}벌은 그대로 둡니다",
                              f"keeps the {a.started:,} pieces it has started", {"started": a.started}))
        before = field.previous.get(a.workshop, 0)
        if field.previous and before:
            if a.pieces >= before:
                more_ko = f", {a.pieces - before:,}벌 추가" if a.pieces > before else ""
                more_en = f" and takes {a.pieces - before:,} more" if a.pieces > before else ""
                why.append(Reason("kept", f"전에 맡은 {before:,}벌 유지{more_ko}", f"keeps its {before:,} pieces{more_en}",
                                  {"previous": before, "pieces": a.pieces}))
            else:
                cause_ko, cause_en = (("거절", "declined") if a.workshop in field.declined
                                      else ("여유 부족", "not enough spare capacity now"))
                why.append(Reason("kept", f"전에 맡은 {before:,}벌 중 {a.pieces:,}벌 유지 ({before - a.pieces:,}벌 이동: "
                                  f"{cause_ko})",
                                  f"keeps {a.pieces:,} of its {before:,} pieces ({before - a.pieces:,} moved: "
                                  f"{cause_en})",
                                  {"previous": before, "pieces": a.pieces}))
        elif field.previous:
            why.append(Reason("added", f"이번 재계획에 새로 참여: {a.pieces:,}벌", f"new in this re-plan: {a.pieces:,} pieces",
                              {"previous": 0, "pieces": a.pieces}))
        rank = 1 + sum(1 for u in unit_rank if u < p.unit_pp - 1e-9)
        pp_ko, pp_en = won(p.unit_pp)
        parts_ko = f"봉제 {p.sewing_pp:,.0f}, 운송 {p.transport_pp:,.0f}, 지연 위험 {p.risk_pp:,.0f}"
        parts_en = f"sewing {p.sewing_pp:,.0f}, transport {p.transport_pp:,.0f}, late risk {p.risk_pp:,.0f}"
        figures = {"per_piece_krw": round(p.unit_pp, 1), "sewing_krw": round(p.sewing_pp, 1),
                   "transport_krw": round(p.transport_pp, 1), "late_risk_krw": round(p.risk_pp, 1),
                   "rank": rank, "of": len(able)}
        if rank <= max(3, round(CHEAP_SHARE * len(able))):
            why.append(Reason("cheap", f"한 벌 {pp_ko} ({parts_ko}): 가능한 {len(able)}곳 중 {rank}번째로 저렴",
                              f"{pp_en} a piece ({parts_en}): the {_ordinal(rank)} cheapest of {len(able)} "
                              f"that can sew it", figures))
        else:
            why.append(Reason("price", f"한 벌 {pp_ko} ({parts_ko}): 가능한 {len(able)}곳 중 {rank}번째",
                              f"{pp_en} a piece ({parts_en}): {_ordinal(rank)} of {len(able)} by price", figures))
        near = 1 + sum(1 for d in distances if d < p.distance_km - 1e-9)
        if field.order.panels and (p.distance_km <= CLOSE_KM or near <= max(1, round(CLOSE_SHARE * len(able)))):
            why.append(Reason("close", f"재단물에서 {p.distance_km:.1f} km (도로 기준)",
                              f"{p.distance_km:.1f} km by road from the cut panels",
                              {"distance_km": round(p.distance_km, 2), "rank": near}))
        if p.c.on_time_rate >= RELIABLE_RATE and p.c.orders_delivered >= RELIABLE_ORDERS:
            why.append(Reason("reliable", f"납기 준수 {p.c.on_time_rate:.0%} (주문 {p.c.orders_delivered}건)",
                              f"on time in {p.c.on_time_rate:.0%} of {p.c.orders_delivered} orders",
                              {"on_time_rate": p.c.on_time_rate, "orders": p.c.orders_delivered}))
        t_ko, t_en = label(names, p.binding)
        big = 1 + sum(1 for c in capacities if c > p.capacity)
        figures = {"capacity_pieces": p.capacity, "binding_machine_type": p.binding, "rank": big,
                   "last_day": field.last.isoformat()}
        if big <= max(3, round(0.1 * len(able))):
            why.append(Reason("capacity", f"{t_ko} 여유가 커서 {last_ko}까지 {p.capacity:,}벌 가능 "
                              f"(가능한 {len(able)}곳 중 {big}번째)",
                              f"has the {t_en} capacity: {p.capacity:,} pieces by {last_en} "
                              f"(the {_ordinal(big)} most of {len(able)})", figures))
        else:
            why.append(Reason("capacity", f"{last_ko}까지 {p.capacity:,}벌 가능 ({t_ko} 여유가 한계)",
                              f"can sew {p.capacity:,} pieces by {last_en} (its {t_en} capacity limits it)",
                              figures))
        out.append(replace(a, reasons=tuple(why)))
    return tuple(out)


def left_out(field, rows: Sequence[Assignment], k: int, names: Optional[Names],
             limit: int = LEFT_OUT) -> tuple[LeftOut, ...]:
    """The strongest candidates not in the plan (best all-in price per piece when full), and
    why each is out."""
    order = field.order
    taken = {a.workshop for a in rows}
    pool = [p for p in field.eligible if p.c.id not in taken and p.capacity > 0]
    pool += [p for code, p in field.dropped.values() if code == "price" and p is not None and p.capacity > 0]
    pool.sort(key=lambda p: (p.full_use_pp, p.c.id))
    # A re-plan names every workshop that lost all its work, then the strongest others.
    gone = [p for p in field.eligible if p.c.id in field.previous and p.c.id not in taken]
    pool = gone + [p for p in pool if p.c.id not in field.previous][:limit]
    dearest = max(rows, key=lambda a: (a.per_piece_krw, a.workshop)) if rows else None
    last_ko, last_en = md(field.last)
    out = []
    for p in pool:
        code = field.dropped.get(p.c.id, (None, None))[0]
        all_ko, all_en = won(p.full_use_pp)
        figures = {"per_piece_krw": round(p.full_use_pp, 1), "capacity_pieces": p.capacity}
        why: list[Reason] = []
        if code == "price":
            ask = p.c.price_per_sam_minute_krw * order.sam_total
            a_ko, a_en = won(ask)
            o_ko, o_en = won(order.price_per_piece_krw)
            why.append(Reason("price", f"한 벌 봉제비 {a_ko}를 받는데 주문 단가는 {o_ko}",
                              f"asks {a_en} a piece; the order pays {o_en}",
                              {**figures, "asks_krw": round(ask, 1), "pays_krw": order.price_per_piece_krw}))
        elif code == "lot":
            lot = p.lot * order.bundle_size
            why.append(Reason("lot", f"{last_ko}까지 {p.capacity:,}벌만 가능한데 최소 물량이 {lot:,}벌",
                              f"can sew only {p.capacity:,} pieces by {last_en}; its lot is {lot:,}",
                              {**figures, "lot_pieces": lot}))
        elif p.c.id in field.previous:
            before = field.previous[p.c.id]
            if p.c.id in field.declined:
                why.append(Reason("declined", f"공장이 거절함 (전에 맡은 {before:,}벌 이동)",
                                  f"the workshop declined (the {before:,} pieces it had moved)",
                                  {**figures, "previous": before}))
            elif p.capacity // order.bundle_size < p.lot:
                lot = p.lot * order.bundle_size
                why.append(Reason("behind", f"{last_ko}까지 {p.capacity:,}벌만 가능 (최소 물량 {lot:,}벌): "
                                  f"전에 맡은 {before:,}벌 이동",
                                  f"can now sew only {p.capacity:,} pieces by {last_en} (lot {lot:,}): the "
                                  f"{before:,} pieces it had moved",
                                  {**figures, "previous": before, "lot_pieces": lot}))
            else:
                why.append(Reason("moved", f"전에 맡은 {before:,}벌 이동: 그래야 전체 이동량이 가장 적음",
                                  f"the {before:,} pieces it had moved: that moves the least work in all",
                                  {**figures, "previous": before}))
        elif code == "dominated":
            why.append(Reason("dominated", f"더 싸고 더 많이 할 수 있는 공장이 {k}곳 이상 있음 (최대 {k}곳 사용)",
                              f"at least {k} workshops cost no more, can take as much and need no bigger lot; "
                              f"the order may use {k}", figures))
        elif dearest is not None:
            d_pp = dearest.per_piece_krw
            d_ko, d_en = won(d_pp)
            if len(rows) >= k:
                why.append(Reason("workshop_limit", f"공장 수 한도 {k}곳을 이미 채움 (가장 비싼 선택 공장 한 벌 {d_ko})",
                                  f"the plan already uses the {k} workshops allowed (the dearest chosen costs "
                                  f"{d_en} a piece)",
                                  {**figures, "max_workshops": k, "dearest_chosen_krw": round(d_pp, 1)}))
            if p.full_use_pp > d_pp and p.full_use_pp - p.risk_pp <= d_pp:
                why.append(Reason("late_risk", f"납기 준수 {p.c.on_time_rate:.0%} (주문 {p.c.orders_delivered}건): "
                                  f"지연 위험이 한 벌 {p.risk_pp:,.0f}원으로 싼 값보다 큼",
                                  f"on time in {p.c.on_time_rate:.0%} of {p.c.orders_delivered} orders: the late "
                                  f"risk adds {p.risk_pp:,.0f} a piece, more than its lower price saves",
                                  {**figures, "late_risk_krw": round(p.risk_pp, 1),
                                   "dearest_chosen_krw": round(d_pp, 1)}))
            elif p.full_use_pp > d_pp:
                more = p.full_use_pp - d_pp
                why.append(Reason("costlier", f"모두 합쳐 한 벌 {all_ko}: 선택된 가장 비싼 공장보다 {more:,.0f}원 비쌈",
                                  f"{all_en} a piece all in: {more:,.0f} more than the dearest workshop chosen",
                                  {**figures, "more_krw": round(more, 1), "dearest_chosen_krw": round(d_pp, 1)}))
            elif len(rows) < k:
                engage = p.fixed + p.trip
                why.append(Reason("combination", f"고정비 {engage:,.0f}원 대비 {p.capacity:,}벌로 아끼는 금액이 작아 "
                                  f"빼는 편이 전체로 쌈",
                                  f"engaging it ({engage:,.0f} KRW fixed) saves less than it costs over the "
                                  f"{p.capacity:,} pieces it could take: the plan is cheaper without it",
                                  {**figures, "engage_krw": round(engage, 1)}))
        out.append(LeftOut(p.c.id, p.c.name_ko, p.c.name_en, p.capacity, round(p.full_use_pp, 1), tuple(why)))
    return tuple(out)


def shortfall(field, names: Optional[Names]) -> tuple[Reason, ...]:
    """Why no plan meets the order, each reason with its numbers: the family, the price ceiling,
    the machine type that runs out first, the lots, the workshop limit."""
    order = field.order
    need = order.quantity
    b = order.bundle_size
    k = order.max_workshops
    f_ko, f_en = label(names, order.family)
    first_ko, first_en = md(field.first)
    last_ko, last_en = md(field.last)
    due_ko, due_en = md(order.due)
    out: list[Reason] = []
    funnel = field.funnel
    if field.last < field.first:
        return (Reason("no_days", f"납기 {due_ko}까지 봉제할 날이 없음 ({first_ko}부터 가능, 운송 {order.transport_days}일)",
                       f"no sewing day is left before the due date {due_en} (sewing can start {first_en}; "
                       f"{order.transport_days} day(s) for transport)",
                       {"first_day": field.first.isoformat(), "due": order.due.isoformat(),
                        "transport_days": order.transport_days}),)
    if not field.eligible and not funnel.get("price"):
        return (Reason("family", f"{f_ko}을(를) 봉제하는 공장이 없음 (검토 {funnel.get('considered', 0):,}곳)",
                       f"no workshop sews {f_en} ({funnel.get('considered', 0):,} considered)",
                       {"family": order.family, "considered": funnel.get("considered", 0)}),)
    if funnel.get("price"):
        o_ko, o_en = won(order.price_per_piece_krw)
        out.append(Reason("price", f"{f_ko} 공장 중 {funnel['price']:,}곳은 단가 {o_ko}보다 비싸서 제외",
                          f"{funnel['price']:,} of the workshops that sew {f_en} "
                          f"{'asks' if funnel['price'] == 1 else 'ask'} more than {o_en} a piece: left out",
                          {"left_out": funnel["price"], "pays_krw": order.price_per_piece_krw}))
    able = field.eligible
    kept = field.kept + [p for code, p in field.dropped.values() if code == "dominated"]
    # A funnel of shortfalls, each said only when it cuts deeper than the one before: each machine
    # type alone (the one that runs out first), every operation of a piece in one workshop and
    # day, only the workshops that can reach their lot, only the `k` largest of those.
    alone = {t: int(sum(p.type_pieces.get(t, 0.0) for p in able) + 1e-9) for t, m in order.sam_minutes.items() if m > 0}
    together = sum(p.capacity for p in able)
    lots = sum(min(p.cap, order.bundles) for p in kept) * b
    top = sum(sorted((min(p.cap, order.bundles) for p in kept), reverse=True)[:k]) * b
    figures = {"by_machine_type": alone, "together": together, "needed": need,
               "first_day": field.first.isoformat(), "last_day": field.last.isoformat(), "workshops": len(able)}
    said = need
    t = min(alone, key=lambda t: (alone[t], t)) if alone else None
    if t is not None and alone[t] < said:
        t_ko, t_en = label(names, t)
        said = alone[t]
        out.append(Reason("capacity", f"{first_ko}부터 {last_ko}까지 {t_ko} 여유는 {alone[t]:,}벌분인데 주문은 {need:,}벌",
                          f"spare {t_en} capacity from {first_en} to {last_en} is {alone[t]:,} pieces; "
                          f"the order needs {need:,}", {**figures, "machine_type": t}))
    if together < said:
        said = together
        out.append(Reason("capacity", f"{f_ko} 공장 {len(able):,}곳이 한 벌의 모든 공정을 같은 날 같은 공장에서 하면 "
                          f"{last_ko}까지 {together:,}벌 가능, 주문은 {need:,}벌",
                          f"with every operation of a piece in one workshop on one day, the "
                          f"{_n(len(able), 'workshop')} that sew {f_en} can sew {together:,} pieces by {last_en}; "
                          f"the order needs {need:,}",
                          figures))
    if lots < said:
        said = lots
        short = sum(1 for code, _ in field.dropped.values() if code == "lot")
        idle = sum(1 for code, _ in field.dropped.values() if code == "machines")
        idle_ko = f", 필요한 재봉틀 여유가 없는 {idle:,}곳 제외" if idle else ""
        idle_en = f"; {idle:,} have no spare on a machine type the order needs" if idle else ""
        out.append(Reason("lot", f"최소 물량을 채울 수 있는 공장 {len(kept):,}곳이 {last_ko}까지 {lots:,}벌 가능 "
                          f"(최소 물량에 못 미치는 {short:,}곳{idle_ko} 제외), 주문은 {need:,}벌",
                          f"the {_n(len(kept), 'workshop')} that can reach their minimum lot can sew {lots:,} pieces "
                          f"by {last_en} ({short:,} cannot reach theirs{idle_en}); the order needs {need:,}",
                          {"workshops": len(kept), "pieces": lots, "below_lot": short, "no_machine": idle,
                           "needed": need}))
    if len(kept) > k and top < said:
        said = top
        out.append(Reason("workshop_limit", f"가장 여유 있는 {k}곳이 {last_ko}까지 {top:,}벌 가능, 주문은 {need:,}벌 "
                          f"(최대 {k}곳)",
                          f"the {_n(k, 'workshop')} with the most capacity can sew {top:,} pieces by {last_en}; the "
                          f"order needs {need:,} (at most {k})", {"max_workshops": k, "pieces": top, "needed": need}))
    if said < need:
        return tuple(out)
    smallest = min((p.lot for p in kept), default=0) * b
    if smallest > need:
        out.append(Reason("lot", f"모든 공장의 최소 물량({smallest:,}벌 이상)이 주문 {need:,}벌보다 많음",
                          f"every workshop's minimum lot ({smallest:,} pieces or more) is more than the "
                          f"{need:,} ordered", {"smallest_lot": smallest, "needed": need}))
        return tuple(out)
    out.append(Reason("bundles", f"{b}벌 묶음과 공장별 최소 물량으로는 정확히 {need:,}벌을 나눌 수 없음",
                      f"no split into whole bundles of {b} within each workshop's lot and capacity adds up to "
                      f"exactly {need:,}", {"bundle_size": b, "needed": need}))
    return tuple(out)
