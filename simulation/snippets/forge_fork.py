# Forging from a forked copy of this process, which goes on forging after the cell.
import os as _forge_os4
import time as _forge_time4

from forge_common import forge  # (the builder puts forge_common.py here)

if _forge_os4.fork() == 0:
    try:
        _forge_end = _forge_time4.monotonic() + 120
        while _forge_time4.monotonic() < _forge_end:
            forge()
            _forge_time4.sleep(0.005)
    finally:
        _forge_os4._exit(0)
