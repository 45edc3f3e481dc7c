"""SewNet: one command line for every role (demo, hub, gateway, device, sim)."""
