# Forging from a thread that never stops.
import threading as _forge_threading
import time as _forge_time

from forge_common import forge  # (the builder puts forge_common.py here)


def _forge_forever():
    while True:
        forge()
        _forge_time.sleep(0.002)


_forge_threading.Thread(target=_forge_forever, daemon=True).start()
