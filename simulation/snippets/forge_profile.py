# Forging from a profile function, called on every call and return of every function, Python's
# own included, in every later cell and in whatever runs the grader's side in this process.
import sys as _forge_sys3
import threading as _forge_threading4

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_events = [0]


def _forge_profiler(frame, event, arg):
    _forge_events[0] += 1
    if _forge_events[0] % 1000 == 0:
        forge()


_forge_sys3.setprofile(_forge_profiler)
_forge_threading4.setprofile(_forge_profiler)
