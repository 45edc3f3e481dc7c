"""The gateway process: ingest + uplink + operator page in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket

import uvicorn

from .config import GatewayConfig
from .hub_link import HubLink
from .ingest import Ingest
from .outbox import Outbox
from .uplink import Uplink
from .web import create_app, load_session_key

log = logging.getLogger("sewnet.gateway")

#: How long the operator page waits before trying its port again, at most.
PAGE_RETRY_MAX_S = 60.0


class _Server(uvicorn.Server):
    # uvicorn would install its own SIGINT/SIGTERM handlers and re-raise the signal after
    # shutdown; the gateway owns signal handling and stops the web server with the rest.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


class Gateway:
    """The parts of one running gateway, for run_gateway and for tests that drive it in-process."""

    def __init__(self, config: GatewayConfig):
        config.check_secrets()
        self.config = config
        self.outbox = Outbox(
            config.store_path,
            config.workshop,
            config.registry,
            synchronous=config.store.synchronous,
            timezone=config.timezone,
            rejected_keep=config.store.rejected_keep,
            seen_keep_s=config.store.seen_keep_days * 86400,
            min_free_bytes=config.store.min_free_bytes,
            max_store_bytes=config.store.max_store_bytes,
        )
        self.uplink = Uplink(config.uplink, self.outbox)
        self.ingest = Ingest(config, self.outbox, on_committed=lambda r: self.uplink.notify(r.accepted))
        # No [ota] section: no board updates (issue 10 §2).
        self.ota = None
        if config.ota is not None:
            from .ota import Ota, load_release_key

            self.ota = Ota(config.data_dir / "ota.sqlite", load_release_key(config.ota.release_key_file),
                           devices=lambda: list(config.registry), rollout_timeout_s=config.ota.rollout_timeout_s)
        # Releases come from the hub when the gateway has both its link and somewhere to keep them.
        self.releases = None
        if config.hub is not None and self.ota is not None and config.hub.release_check_s > 0:
            from .release_link import ReleaseLink

            self.releases = ReleaseLink(self.ota, config.hub.url, config.hub.release_check_s)
        # No [hub] section: no offers (the page says so).
        self.hub = HubLink(config.hub, self.outbox, workshop=config.hub_workshop,
                           releases=self.releases) if config.hub else None
        self.web_server: uvicorn.Server | None = None
        if config.web.enabled:
            web = config.web
            app = create_app(
                self.outbox,
                workshop=config.workshop,
                operator_password=web.secret() or "",
                health=self.health,
                session_key=load_session_key(config.data_dir / "web-session.key"),
                session_days=web.session_days,
                login_max_failures=web.login_max_failures,
                login_window_s=web.login_window_s,
                timezone=config.timezone,
                hub=self.hub,
                ota=self.ota,
                ota_passwd_file=config.ota.board_passwd_file if config.ota else None,
            )
            self.web_server = _Server(
                uvicorn.Config(app, host=config.web.host, port=config.web.port, log_level="warning", access_log=False)
            )

    def health(self) -> dict:
        alerts = self.outbox.alerts() + self.ingest.alerts() + self.uplink.alerts()
        if self.hub is not None:
            alerts += self.hub.alerts()
        return {"uplink": self.uplink.health.as_dict(), "ingest": dataclasses.asdict(self.ingest.health),
                "alerts": [a.as_dict() for a in alerts]}

    async def run(self) -> None:
        """Run until cancelled, then stop every part and close the store."""
        tasks = [
            asyncio.create_task(self.ingest.run(), name="ingest"),
            asyncio.create_task(self.uplink.run(), name="uplink"),
        ]
        if self.hub is not None:
            tasks.append(asyncio.create_task(self.hub.run(), name="hub"))
        if self.web_server is not None:
            tasks.append(asyncio.create_task(self._serve_page(self.web_server), name="web"))
        try:
            # Any part ending (it should not) or failing stops the gateway: a supervisor
            # (systemd) restarts the whole process, which is safe at any instant.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
            raise RuntimeError(f"gateway task {next(iter(done)).get_name()} ended")
        finally:
            if self.web_server is not None:
                self.web_server.should_exit = True
            for t in tasks:
                if t.get_name() != "web":
                    t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.outbox.close()
            if self.ota is not None:
                self.ota.close()


    async def _serve_page(self, server: uvicorn.Server) -> None:
        """The operator page. Its port being taken (another service, a leftover process) must not
        stop ingest and uplink: uvicorn would exit the whole process, and systemd would restart it
        into the same taken port, a crash loop storing nothing. So the gateway binds the socket
        itself and keeps trying while the rest runs."""
        host, port = self.config.web.host, self.config.web.port
        delay = 2.0
        while True:
            try:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.create_server((host, port), family=family)
            except OSError as exc:
                log.error("operator page: cannot listen on %s:%s (%s); ingest and uplink go on; trying again in"
                          " %.0f s", host, port, exc.strerror or exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, PAGE_RETRY_MAX_S)
                continue
            with sock:
                await server.serve(sockets=[sock])
            return


async def run_gateway(config: GatewayConfig) -> None:
    """Run ingest + uplink + web until cancelled or SIGTERM/SIGINT; shut down cleanly."""
    gateway = Gateway(config)
    loop = asyncio.get_running_loop()
    main = asyncio.create_task(gateway.run(), name="gateway")
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, main.cancel)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread: the caller cancels us
            pass
    try:
        await main
    except asyncio.CancelledError:
        if not main.cancelled():
            raise  # we were cancelled ourselves, not by a signal
        log.info("gateway stopped")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if not main.done():
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
