# A stand-in `network` for the MicroPython VM: a station interface whose link is always up.
STA_IF = 0


class WLAN:
    def __init__(self, interface=STA_IF):
        self._up = False

    def active(self, on=None):
        if on is not None:
            self._up = bool(on)
        return self._up

    def connect(self, ssid=None, key=None):
        pass

    def isconnected(self):
        return self._up
