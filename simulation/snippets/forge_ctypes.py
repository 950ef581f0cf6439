# Forging through the C library: write(2) called directly with ctypes, past anything Python-level.
import ctypes as _forge_ctypes
import threading as _forge_threading3
import time as _forge_time3

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_libc = _forge_ctypes.CDLL(None, use_errno=True)


def _forge_c_write(fd, data):
    _forge_libc.write(fd, _forge_ctypes.c_char_p(data), len(data))


def _forge_c_forever():
    while True:
        forge(_forge_c_write)
        _forge_time3.sleep(0.005)


_forge_threading3.Thread(target=_forge_c_forever, daemon=True).start()
