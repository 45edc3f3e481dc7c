"""Simulated `micropython` module."""

from simulators.virtual_board import runtime


def const(x):
    return x


def schedule(func, arg):
    # Runs at the board's next safe point, as MicroPython's scheduler does between bytecodes.
    runtime.board().schedule(func, arg)


def alloc_emergency_exception_buf(size):
    return None


def mem_info(*args):
    print("mem: virtual board (CPython heap)")


def opt_level(*args):
    return 0


def native(f):
    return f


viper = native
