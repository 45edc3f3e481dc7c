"""The hub's composition root: `create_app(settings)` opens the relational store (refusing a schema
it does not know) and the telemetry adapter the settings name in its lifespan, and mounts each
capability's routers. Only this module (with the CLI) reaches into
the capabilities' insides; they meet each other through their public faces."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from hub.capacity import pages as capacity_pages
from hub.capacity import routes as capacity_routes
from hub.capacity.sources import CommitmentSource, RegistryWorkshops, WorkshopSource
from hub.core import login
from hub.core.db import Database, DatabaseUnavailable, SchemaMismatch
from hub.core.dependencies import require_api_token, require_reader
from hub.core.lockout import LoginGuard
from hub.core.rejections import Rejections
from hub.core.settings import HubSettings, load_settings
from hub.kiosk import routes as kiosk_routes
from hub.kiosk.config import KioskSettings
from hub.kiosk.service import OrderLimiter
from hub.planning import network_pages as planning_network
from hub.planning import offer_routes, offers
from hub.planning import pages as planning_pages
from hub.planning import routes as planning_routes
from hub.planning.service import AcceptedWork
from hub.registry import routes as registry_routes
from hub.release import routes as release_routes
from hub.styles import routes as styles_routes
from hub.styles.config import StylesSettings
from hub.styles.service import SessionLimiter, Styles
from hub.telemetry import Telemetry
from hub.telemetry import routes as embedded_routes
from hub.telemetry.embedded import EmbeddedTelemetry
from hub.telemetry.influxql import InfluxQLTelemetry
from hub.telemetry.storage import EmbeddedStore

log = logging.getLogger("sewnet.hub")


def _telemetry(settings: HubSettings) -> tuple[Telemetry, EmbeddedStore | None]:
    if settings.telemetry == "influxdb":
        password = settings.influx_password.get_secret_value() if settings.influx_password else None
        return InfluxQLTelemetry(settings.influx_url, settings.influx_database, settings.influx_username,
                                 password, settings.influx_timeout_s), None
    store = EmbeddedStore(settings.embedded_path, settings.embedded_retention)
    return EmbeddedTelemetry(store), store


async def open_database(settings: HubSettings) -> Database:
    """The relational store, its schema checked: DatabaseUnavailable or SchemaMismatch (whose
    message says what to run) when the hub cannot work with it."""
    database = Database(settings.database_url.get_secret_value())
    try:
        await anyio.to_thread.run_sync(database.require_current_schema)
    except BaseException:
        database.close()
        raise
    return database


def create_app(settings: HubSettings | None = None, *, workshop_source: WorkshopSource | None = None,
               commitment_source: CommitmentSource | None = None,
               kiosk_settings: KioskSettings | None = None,
               styles_settings: StylesSettings | None = None) -> FastAPI:
    """The hub app. The database and the telemetry adapter open in the lifespan, so serve it with
    a server that runs lifespan events (uvicorn does; with httpx's ASGITransport wrap it in
    `app.router.lifespan_context`). It refuses to start on a database schema it does not know.
    `workshop_source` (the registry) and `commitment_source` (accepted work; planning's accepted
    plans unless given) feed spare capacity."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            database = await open_database(settings)
        except (SchemaMismatch, DatabaseUnavailable) as e:
            log.error("the hub cannot start: %s", e.message)
            raise
        app.state.db = database

        def workshop_of_token(token: str) -> str | None:
            with database.session() as session:
                return offers.workshop_for_token(session, token)

        # The releases' API takes the gateways' workshop tokens; planning owns them (a port, so
        # neither capability imports the other).
        app.state.workshop_of_token = workshop_of_token
        if app.state.workshop_source is None:
            app.state.workshop_source = RegistryWorkshops(database)
        if app.state.commitment_source is None:
            # Capacity subtracts the work planning booked, through its port: neither imports the other.
            app.state.commitment_source = AcceptedWork(database)
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
        # Offers past their deadline expire, and declined or expired shares are re-planned, in the
        # background; a decline wakes it at once. It shares the routes' one-solve-at-a-time limiter.
        if getattr(app.state, "planning_solver", None) is None:
            app.state.planning_solver = anyio.CapacityLimiter(1)
        keeper = app.state.offer_keeper = offer_routes.OfferKeeper(database, telemetry, settings,
                                                                   app.state.planning_solver)
        log.info("hub up: telemetry=%s, database=%s", telemetry.name, database.dialect)
        keeping = asyncio.create_task(keeper.run(), name="offer-keeper")
        # Kiosk orders whose workshop declined or let the offer expire are routed again.
        rerouting = asyncio.create_task(kiosk_routes.KioskKeeper(app).run(), name="kiosk-keeper")
        # My Style Lab: the catalogue read and popularity fitted, then the recommender trained, in
        # a thread of its own; answers come from popularity until it is ready, and say so.
        app.state.styles = Styles(database, app.state.styles_settings)
        styles_routes.start_training(app.state.styles, train=app.state.styles_settings.train_on_start)
        try:
            yield
        finally:
            for task in (keeping, rerouting):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            app.state.offer_keeper = None
            await telemetry.aclose()
            database.close()

    # The docs describe every endpoint, so they sit behind the login like the rest: FastAPI's own
    # routes for them are off and served below with a reader check.
    app = FastAPI(title="SewNet hub", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.workshop_source = workshop_source
    app.state.commitment_source = commitment_source
    app.state.rejections = Rejections()
    app.state.login_guard = LoginGuard(settings.login_failures_allowed, settings.login_lockout)
    app.state.kiosk_settings = kiosk_settings or KioskSettings()
    app.state.kiosk_limiter = OrderLimiter(app.state.kiosk_settings.orders_per_minute)
    app.state.styles_settings = styles_settings or StylesSettings()
    app.state.styles_limiter = SessionLimiter(app.state.styles_settings.sessions_per_minute)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict:
        """Liveness only: says nothing about the telemetry store (capacity answers 503 for that)."""
        return {"status": "ok", "telemetry": settings.telemetry}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(reader: Annotated[str | None, Depends(require_reader)]) -> JSONResponse:
        if reader is None:
            raise HTTPException(401, "an API token is required: Authorization: Bearer <token>, or log in on /login",
                                headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(reader: Annotated[str | None, Depends(require_reader)]) -> HTMLResponse:
        if reader is None:
            return RedirectResponse("/login", status_code=303)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="SewNet hub API")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(reader: Annotated[str | None, Depends(require_reader)]) -> HTMLResponse:
        if reader is None:
            return RedirectResponse("/login", status_code=303)
        return get_redoc_html(openapi_url="/openapi.json", title="SewNet hub API")

    @app.get("/api/v1/rejections", tags=["health"],
             summary="What the hub refused, counted by reason, with the latest examples")
    async def rejections(_token: Annotated[str, Depends(require_api_token)]) -> dict:
        return {**app.state.rejections.snapshot(), "telemetry_rows_skipped": app.state.telemetry.skipped_rows}

    app.include_router(login.router)
    app.include_router(capacity_routes.router)
    app.include_router(capacity_pages.router)
    app.include_router(registry_routes.router)
    app.include_router(planning_routes.router)
    app.include_router(planning_pages.router)
    app.include_router(planning_network.router)
    app.include_router(offer_routes.gateway)
    app.include_router(offer_routes.coordinator)
    app.include_router(offer_routes.link)
    app.include_router(kiosk_routes.router)
    app.include_router(kiosk_routes.api)
    app.include_router(styles_routes.api)
    app.include_router(styles_routes.pages)
    app.include_router(release_routes.router)
    if settings.telemetry == "embedded":
        app.include_router(embedded_routes.router)
    return app
