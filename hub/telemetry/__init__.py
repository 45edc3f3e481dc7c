"""Telemetry: what the hub asks of a time-series store, and the stores that answer."""
