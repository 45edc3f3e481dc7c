"""An order as a coordinator writes it (the API's body, the CLI's JSON file), checked field by field,
and every problem said in plain words next to its field, in Korean and English.

Two layers of checks, one list of problems:
- the shape (`OrderIn`, pydantic): types, ranges, known product families and machine types, no
  unknown fields; pydantic's errors are turned into sentences here (`problems_from_errors`);
- the engine's own rules (`hub.planning.model.Order.problems`): whole bundles, a minimum lot no
  larger than the order, a sewing day left before the due date. They live in the engine, once.

    order, problems = read_order(data, today)      # an engine Order, or None and why not
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Any, Iterable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub import registry
from hub.planning.model import InvalidOrder, Order, OrderProblem, split_sam

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_QUANTITY = 10_000_000


class Panels(BaseModel):
    """The cutting room the cut panels leave from (and the finished pieces return to)."""

    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, description="latitude, e.g. 37.5725")
    lon: float = Field(ge=-180, le=180, description="longitude, e.g. 127.0146")
    name: str = Field("", max_length=200, description="what the place is, for people (optional)")


class OrderIn(BaseModel):
    """A bulk order. Give the standard minutes per piece either per machine type (`sam_minutes`)
    or as a total (`sam`) with each type's share (`sam_split`, e.g. 60/30/10)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "id": "ss27-tee-0001", "style": "반팔 라운드 티셔츠 / short-sleeve crew-neck T-shirt", "family": "knit_tops",
        "quantity": 20000, "due": "2026-12-10", "sam": 6.0,
        "sam_split": {"overlock": 60, "coverstitch": 30, "lockstitch": 10},
        "bundle_size": 50, "min_lot": 500, "max_workshops": 25, "price_per_piece_krw": 1800,
        "panels": {"lat": 37.5725, "lon": 127.0146, "name": "창신동 재단실 / Changsin-dong cutting room"}}})

    id: Optional[str] = Field(None, description="the order's id (letters, digits, . _ -); made up when left out")
    style: str = Field(min_length=1, max_length=200, description="the style, as the designer names it")
    family: str = Field(description="product family: " + ", ".join(registry.FAMILIES))
    quantity: int = Field(ge=1, le=MAX_QUANTITY, description="pieces")
    due: date = Field(description="the day the finished pieces are due, YYYY-MM-DD (Seoul)")
    sam_minutes: Optional[dict[str, float]] = Field(
        None, description="standard minutes per piece on each machine type, e.g. {\"overlock\": 3.6}")
    sam: Optional[float] = Field(None, gt=0, le=600, description="standard minutes per piece, all operations")
    sam_split: Optional[dict[str, float]] = Field(None, description="each machine type's share of `sam`")
    bundle_size: int = Field(20, ge=1, le=10_000, description="pieces per bundle: what a workshop gets in whole")
    min_lot: int = Field(0, ge=0, le=MAX_QUANTITY, description="the fewest pieces worth sending one workshop")
    max_workshops: int = Field(10, ge=1, le=1000, description="the most workshops the order may be split across")
    price_per_piece_krw: Optional[float] = Field(None, gt=0, le=10_000_000,
                                                 description="what the order pays per piece for sewing (KRW)")
    panels: Optional[Panels] = Field(None, description="where the cut panels come from; transport is costed from there")
    panels_ready: Optional[date] = Field(None, description="the first day the cut panels can be sewn")
    transport_days: int = Field(1, ge=0, le=14, description="days between the last sewing day and the due date")

    @field_validator("id")
    @classmethod
    def _id(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not ORDER_ID.match(value):
            raise ValueError("order_id")
        return value

    @field_validator("family")
    @classmethod
    def _family(cls, value: str) -> str:
        if value not in registry.FAMILIES:
            raise ValueError("family")
        return value

    @field_validator("sam_minutes", "sam_split")
    @classmethod
    def _machine_types(cls, value: Optional[dict[str, float]]) -> Optional[dict[str, float]]:
        if value is None:
            return value
        unknown = [t for t in value if t not in registry.MACHINE_TYPES]
        if unknown:
            raise ValueError("machine_type:" + ",".join(unknown))
        if any(not 0 <= v <= 600 for v in value.values()):
            raise ValueError("minutes_range")
        if not value or sum(value.values()) <= 0:
            raise ValueError("minutes_empty")
        return value

    @model_validator(mode="after")
    def _one_way_of_giving_sam(self) -> "OrderIn":
        if self.sam_minutes is None and (self.sam is None or self.sam_split is None):
            raise ValueError("sam_missing")
        if self.sam_minutes is not None and (self.sam is not None or self.sam_split is not None):
            raise ValueError("sam_twice")
        return self

    def minutes(self) -> dict[str, float]:
        if self.sam_minutes is not None:
            return {t: m for t, m in self.sam_minutes.items() if m > 0}
        return split_sam(self.sam, self.sam_split)

    def to_order(self, order_id: Optional[str] = None) -> Order:
        return Order(id=order_id or self.id or new_order_id(), style=self.style.strip(), family=self.family,
                     sam_minutes=self.minutes(), quantity=self.quantity, due=self.due, bundle_size=self.bundle_size,
                     min_lot=self.min_lot, max_workshops=self.max_workshops,
                     price_per_piece_krw=self.price_per_piece_krw,
                     panels=(self.panels.lat, self.panels.lon) if self.panels else None,
                     panels_ready=self.panels_ready, transport_days=self.transport_days)


def new_order_id() -> str:
    return f"ord-{secrets.token_hex(5)}"


# ----------------------------------------------------------------------------- plain words
_VALUE_WORDS: dict[str, tuple[str, str]] = {
    "order_id": ("주문 번호는 영문, 숫자, . _ - 로 64자까지입니다", "an order id is up to 64 letters, digits, . _ or -"),
    "family": ("알 수 없는 제품군입니다. 다음 중 하나: " + ", ".join(registry.FAMILIES),
               "not a product family; use one of: " + ", ".join(registry.FAMILIES)),
    "minutes_range": ("재봉틀 종류별 값은 0에서 600 사이여야 합니다", "each machine type's value must be from 0 to 600"),
    "minutes_empty": ("적어도 한 가지 재봉틀에 0보다 큰 값이 있어야 합니다",
                      "at least one machine type needs a value above 0"),
    "sam_missing": ("표준시간이 없습니다: sam_minutes, 또는 sam과 sam_split을 주세요",
                    "the standard minutes are missing: give sam_minutes, or sam with sam_split"),
    "sam_twice": ("표준시간은 sam_minutes 또는 sam과 sam_split 중 한 가지로만 주세요",
                  "give the standard minutes one way only: sam_minutes, or sam with sam_split"),
}


def _field_of(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "order"


def _sentence(error: Mapping[str, Any]) -> tuple[str, str]:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        code = str(ctx.get("error", ""))
        if code.startswith("machine_type:"):
            unknown = code.split(":", 1)[1]
            known = ", ".join(registry.MACHINE_TYPES)
            return (f"알 수 없는 재봉틀 종류입니다: {unknown} (가능: {known})",
                    f"not a machine type: {unknown}; use: {known}")
        if code in _VALUE_WORDS:
            return _VALUE_WORDS[code]
    if kind == "missing":
        return "꼭 필요한 항목입니다", "this field is required"
    if kind == "extra_forbidden":
        return "이런 항목은 없습니다 (철자를 확인하세요)", "no such field (check the spelling)"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "정수여야 합니다 (예: 20000)", "must be a whole number, like 20000"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return "숫자여야 합니다 (예: 6.5)", "must be a number, like 6.5"
    if kind.startswith("date_") or kind.startswith("datetime_"):
        return "날짜는 2026-12-10 처럼 써 주세요", "must be a date written like 2026-12-10"
    if kind in ("string_type", "string_too_short"):
        return "글자로 채워 주세요", "must be filled in with text"
    if kind == "string_too_long":
        return f"{ctx.get('max_length')}자까지입니다", f"must be at most {ctx.get('max_length')} characters"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "{ } 로 묶은 항목들이어야 합니다", "must be an object in { }"
    if kind == "greater_than_equal":
        return f"{ctx.get('ge')} 이상이어야 합니다", f"must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"{ctx.get('gt')}보다 커야 합니다", f"must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"{ctx.get('le')} 이하여야 합니다", f"must be at most {ctx.get('le')}"
    if kind == "less_than":
        return f"{ctx.get('lt')}보다 작아야 합니다", f"must be less than {ctx.get('lt')}"
    if kind == "json_invalid":
        return "JSON으로 읽을 수 없습니다", "is not valid JSON"
    return "값을 읽을 수 없습니다", "cannot be read"


def problems_from_errors(errors: Iterable[Mapping[str, Any]]) -> list[OrderProblem]:
    """Pydantic's errors (a ValidationError's, or FastAPI's request errors) as plain sentences,
    each next to its field. Never echoes the input: an order may hold a customer's words."""
    out = []
    for e in errors:
        ko, en = _sentence(e)
        name = _field_of(e.get("loc", ()))
        if name == "order" and str((e.get("ctx") or {}).get("error", "")).startswith("sam_"):
            name = "sam_minutes"  # the whole order's rule is about where the standard minutes go
        out.append(OrderProblem(name, ko, en))
    return out


def read_order(data: Any, today: date, order_id: Optional[str] = None) -> tuple[Optional[Order], list[OrderProblem]]:
    """An engine Order from JSON-like data, or None and every problem (shape first; the engine's
    rules when the shape is right)."""
    try:
        given = OrderIn.model_validate(data)
    except ValidationError as e:
        return None, problems_from_errors(e.errors(include_url=False, include_input=False))
    return checked(given, today, order_id)


def checked(given: OrderIn, today: date, order_id: Optional[str] = None) -> tuple[Optional[Order], list[OrderProblem]]:
    try:
        order = given.to_order(order_id)
    except (InvalidOrder, ValueError) as e:
        problems = list(getattr(e, "problems", ())) or [OrderProblem("sam_split", "표준시간 비율을 읽을 수 없습니다",
                                                                     "the standard minutes' split cannot be read")]
        return None, problems
    problems = order.problems(today)
    return (None, problems) if problems else (order, [])


def one_line(problems: Iterable[OrderProblem]) -> str:
    """Every problem on one line, English (for a terminal)."""
    return "; ".join(f"{p.field}: {p.en}" for p in problems)


def problem_dicts(problems: Iterable[OrderProblem]) -> list[dict[str, str]]:
    return [{"field": p.field, "ko": p.ko, "en": p.en} for p in problems]
