# MicroPython runs main.py after boot.py: start the SewNet application.
import sn_app

try:
    sn_app.run()
except KeyboardInterrupt:
    raise                    # a technician at the REPL
except Exception as e:
    import sys
    import time

    import machine

    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:
        print("sewnet: crashed: %r" % (e,))
    # Unattended on a machine: start over after a pause instead of sitting dead. The pause
    # keeps a crash loop from wearing out the flash with boot counter writes.
    time.sleep(10)
    machine.reset()
