# MicroPython runs main.py after boot.py. The boot layer (sn_boot) first finishes or rolls back an
# over-the-air update, then the SewNet application starts. main.py and sn_boot.py are never
# replaced over the air: they are what recovers a board from a bad update.
try:
    import sn_boot

    sn_boot.boot()
except KeyboardInterrupt:
    raise
except Exception as e:       # the application must still start with what is on the flash
    print("sewnet: boot layer failed: %r" % (e,))

try:
    import sn_app            # inside the try: a new version that does not even import resets too

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
    # keeps a crash loop from wearing out the flash with boot counter writes. A crash while an
    # update is on trial counts as one of its starts (sn_boot.MAX_TRIAL_BOOTS).
    time.sleep(10)
    machine.reset()
