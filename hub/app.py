"""The hub's FastAPI application: `create_app(settings)`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from hub import capacity, embedded_store, pages
from hub.embedded_store import EmbeddedStore
from hub.rejections import Rejections
from hub.settings import HubSettings, load_settings
from hub.telemetry import EmbeddedTelemetry, InfluxQLTelemetry, Telemetry

log = logging.getLogger("sewnet.hub")


def _telemetry(settings: HubSettings) -> tuple[Telemetry, EmbeddedStore | None]:
    if settings.telemetry == "influxdb":
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return InfluxQLTelemetry(settings.influx_url, settings.influx_database, settings.influx_username,
                                 password, settings.influx_timeout_s), None
    store = EmbeddedStore(settings.embedded_path, settings.embedded_retention)
    return EmbeddedTelemetry(store), store


def create_app(settings: HubSettings | None = None) -> FastAPI:
    """The hub app. Telemetry adapters open in the lifespan, so serve it with a server that runs
    lifespan events (uvicorn does; with httpx's ASGITransport wrap it in `app.router.lifespan_context`)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        telemetry, store = _telemetry(settings)
        app.state.telemetry = telemetry
        app.state.embedded_store = store
        # Parsing is CPU under one GIL and the store writes one batch at a time anyway: more than
        # two bodies in hand at once buys nothing and costs memory (each up to 10 MiB inflated).
        app.state.ingest_limiter = anyio.CapacityLimiter(2)
        if not settings.all_api_tokens():
            log.warning("no API token configured: nobody can read capacity (set SEWNET_HUB_API_TOKENS)")
        if store is not None and settings.embedded_write_token is None:
            log.warning("no write token configured: the embedded store refuses every write "
                        "(set SEWNET_HUB_EMBEDDED_WRITE_TOKEN)")
        log.info("hub up: telemetry=%s", telemetry.name)
        try:
            yield
        finally:
            await telemetry.aclose()

    app = FastAPI(title="SewNet hub", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.rejections = Rejections()

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        """Liveness only: says nothing about the telemetry store (capacity answers 503 for that)."""
        return {"status": "ok", "telemetry": settings.telemetry}

    app.include_router(capacity.router)
    app.include_router(pages.router)
    if settings.telemetry == "embedded":
        app.include_router(embedded_store.router)
    return app
