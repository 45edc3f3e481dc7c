"""A stand-in for the hub's offer endpoints (issue 7 contract), for the gateway's tests while the
real hub's offers API (branch i7-hub) is not merged. It follows the contract (Bearer workshop
token, ETag / 304, compact JSON, answers applied once by answer_id / report_id, results per item)
but has no database, planner or re-plan. Tests that need the real hub's behaviour say so; the
others switch to the real hub by changing the `offers_hub` fixture only.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


def offer(offer_id: str, *, pieces: int = 1200, status: str = "offered", style: str = "기본 반팔 티셔츠 / basic tee",
          counted: int = 0, estimated: int = 0) -> dict:
    now = datetime.now(timezone.utc)
    return {"id": offer_id, "order_id": "ord-" + offer_id, "plan_version": 1, "style": style,
            "family": "knit_tops", "pieces": pieces, "bundles": pieces // 20, "bundle_size": 20,
            "days": [{"day": (now + timedelta(days=1)).date().isoformat(), "pieces": pieces}],
            "sam_minutes": {"lockstitch": 3.6}, "price_per_piece_krw": 2500,
            "due": (now + timedelta(days=9)).date().isoformat(),
            "respond_by": (now + timedelta(hours=24)).isoformat(timespec="seconds"),
            "status": status, "answered_at": None, "decline_reason": None,
            "progress": {"counted": counted, "estimated": estimated, "stitches_per_piece": None}}


class OffersHubDouble:
    def __init__(self, workshop: str, token: str):
        self.workshop, self.token = workshop, token
        self.offers: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.applied: dict[str, dict] = {}  # answer_id / report_id -> item, each once
        self.posts: list[dict] = []  # every answers body received
        self.gets = 0
        self.app = self._app()

    def document(self) -> tuple[str, bytes]:
        offers = sorted(self.offers.values(), key=lambda o: o["id"])
        etag = hashlib.sha256(json.dumps(offers, sort_keys=True).encode()).hexdigest()[:16]
        doc = {"workshop": self.workshop, "revision": etag, "server_time": datetime.now(timezone.utc).isoformat(),
               "offers": offers}
        return etag, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

    def _authorised(self, request: Request, workshop: str) -> bool:
        return workshop == self.workshop and request.headers.get("authorization") == f"Bearer {self.token}"

    def _apply(self, item: dict, kind: str) -> tuple[str, str]:
        o = self.offers.get(item.get("offer_id"))
        if o is None:
            return "refused", "알 수 없는 일감 / unknown offer"
        if kind == "answer":
            if o["status"] in ("expired", "withdrawn"):
                return "too_late", "기한이 지났습니다 / the offer expired"
            want = "accepted" if item["answer"] == "accept" else "declined"
            if o["status"] != "offered" and o["status"] != want:
                return "refused", "이미 다르게 답함 / already answered the other way"
            if want == "declined" and not item.get("reason"):
                return "refused", "이유가 없습니다 / no reason"
            o["status"], o["answered_at"] = want, item["answered_at"]
            o["decline_reason"] = item.get("reason")
        elif kind == "count":
            o["progress"]["counted"] = item["pieces"]
        return "applied", ""

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/api/v1/workshops/{workshop}/offers")
        def offers(workshop: str, request: Request):
            if not self._authorised(request, workshop):
                return JSONResponse({"detail": "토큰이 틀렸습니다 / wrong token"}, status_code=401)
            with self.lock:
                self.gets += 1
                etag, body = self.document()
            if request.headers.get("if-none-match") == f'"{etag}"':
                return Response(status_code=304, headers={"ETag": f'"{etag}"'})
            return Response(body, media_type="application/json", headers={"ETag": f'"{etag}"'})

        @app.post("/api/v1/workshops/{workshop}/answers")
        async def answers(workshop: str, request: Request):
            if not self._authorised(request, workshop):
                return JSONResponse({"detail": "토큰이 틀렸습니다 / wrong token"}, status_code=401)
            body = await request.json()
            out = {"answers": [], "reports": []}
            with self.lock:
                self.posts.append(body)
                for part, key in (("answers", "answer_id"), ("reports", "report_id")):
                    for item in body.get(part, []):
                        if item[key] in self.applied:
                            result, reason = "duplicate", ""
                        else:
                            result, reason = self._apply(item, "answer" if part == "answers" else item["kind"])
                            if result == "applied":
                                self.applied[item[key]] = item
                        out[part].append({key: item[key], "result": result, "reason": reason})
            return out

        return app
