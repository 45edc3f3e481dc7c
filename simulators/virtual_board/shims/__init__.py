"""Stand-ins for MicroPython's hardware modules, installed into sys.modules by VirtualBoard."""
