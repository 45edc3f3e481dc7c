"""The orders' pages for people, server-rendered, Korean first with English, behind the same login
as the capacity page: `/orders` (the orders, newest first) and `/orders/{id}` (its current plan:
the chosen workshops with pieces, sewing days, cost and why; the strong ones left out and why;
why an order cannot be met and what could; objective, bound and gap). The console that plans,
accepts and re-plans from the page is the next step; these pages read."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.core.db import Database
from hub.core.dependencies import get_database, get_settings, session_token_id
from hub.core.pages import render, templates_for
from hub.core.settings import HubSettings
from hub.planning import service

templates = templates_for(Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)

_WEEKDAYS_KO = "월화수목금토일"
STATUS_WORDS = {
    "draft": ("계획 전", "not planned yet"),
    "planned": ("계획됨, 승인 대기", "planned, waiting for acceptance"),
    "infeasible": ("맞출 수 없음", "cannot be met as it is"),
    "accepted": ("승인됨", "accepted"),
    "replanned": ("다시 계획됨, 승인 대기", "re-planned, waiting for acceptance"),
}


def _day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.month}/{d.day}({_WEEKDAYS_KO[d.weekday()]})"


def sewing_days(schedule: list[dict]) -> dict[str, Any]:
    """The days a workshop sews its pieces: first, last, how many."""
    days = [s["day"] for s in schedule if s["pieces"] > 0]
    if not days:
        return {"first": None, "last": None, "count": 0, "text": "—"}
    text = _day(days[0]) if len(days) == 1 else f"{_day(days[0])}–{_day(days[-1])}"
    return {"first": days[0], "last": days[-1], "count": len(days), "text": text}


def _won(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


templates.env.filters["won"] = _won
templates.env.filters["day"] = _day
templates.env.globals["sewing_days"] = sewing_days
templates.env.globals["status_words"] = STATUS_WORDS
templates.env.globals["kind_names"] = service.names()


def _logged_in(request: Request, settings: HubSettings) -> bool:
    return session_token_id(request, settings) is not None


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, settings: Annotated[HubSettings, Depends(get_settings)],
                db: Annotated[Database, Depends(get_database)]):
    if not _logged_in(request, settings):
        return RedirectResponse("/login", status_code=303)
    with db.session() as session:
        records = service.list_orders(session, limit=200)
        total = service.count_orders(session)
    return render(templates, request, "orders.html", {"orders": [r.to_dict() for r in records], "total": total})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def plan_page(request: Request, order_id: str, settings: Annotated[HubSettings, Depends(get_settings)],
              db: Annotated[Database, Depends(get_database)]):
    if not _logged_in(request, settings):
        return RedirectResponse("/login", status_code=303)
    with db.session() as session:
        record = service.get_order(session, order_id)
        if record is None:
            return render(templates, request, "plan.html", {"order": None, "order_id": order_id}, 404)
        plan = service.plan_view(session, order_id) if record.current_version is not None else None
    return render(templates, request, "plan.html", {"order": record.to_dict(), "plan": plan, "order_id": order_id})
