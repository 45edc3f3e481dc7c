# The MicroPython WebAssembly build has no socket module; the firmware only needs its names here
# (the broker is an IP address, so nothing is resolved, and NTP is off in these runs).
AF_INET = 2
SOCK_DGRAM = 2


def getaddrinfo(host, port):
    raise OSError("no network on the VM")
