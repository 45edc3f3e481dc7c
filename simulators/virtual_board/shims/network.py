"""Simulated `network`: a station interface whose link the board (or a test) can cut."""

from simulators.virtual_board import runtime

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface
        self._active = False
        self._ssid = None

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self._ssid = ssid
        runtime.board().wifi_connects += 1

    def disconnect(self):
        self._ssid = None

    def isconnected(self):
        return self._active and self._ssid is not None and runtime.board().link_up

    def status(self, param=None):
        if param == "rssi":
            return -55
        if self.isconnected():
            return STAT_GOT_IP
        return STAT_CONNECTING if self._ssid is not None else STAT_IDLE

    def ifconfig(self, *args):
        return ("192.168.4.20", "255.255.255.0", "192.168.4.1", "192.168.4.1")

    def config(self, *args, **kwargs):
        if args == ("mac",):
            return runtime.board().unique_id
        if args == ("ssid",):
            return self._ssid
        return None
