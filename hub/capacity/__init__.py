"""Live capacity per workshop, from telemetry."""
