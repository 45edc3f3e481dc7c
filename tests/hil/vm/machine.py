# A stand-in `machine` for the firmware's update code on the MicroPython WebAssembly VM (which has
# no machine module): reset() ends the running task as a real reset ends the program, the
# one-shot Timer of the boot layer's trial is kept for the test to fire.
resets = 0
timers = []


class Reset(Exception):
    pass


def reset():
    global resets
    resets += 1
    raise Reset("machine.reset()")


def unique_id():
    return b"\x0a\x11\xb0\xa7\xd0\x01"


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self.id = id
        self.args = None
        timers.append(self)
        if kw:
            self.init(**kw)

    def init(self, mode=PERIODIC, period=-1, callback=None, freq=None):
        self.args = (mode, period, callback)

    def deinit(self):
        self.args = None
