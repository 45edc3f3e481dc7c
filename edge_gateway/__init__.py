"""SewNet workshop gateway: MQTT ingest -> durable SQLite outbox -> gzip'd line protocol uplink."""

from .config import ConfigError, GatewayConfig, load_config
from .service import Gateway, run_gateway

__all__ = ["ConfigError", "GatewayConfig", "Gateway", "load_config", "run_gateway"]
