# Forging from trace functions, called on every function call of every later cell and of whatever
# runs the grader's side in this process (forge_profile: the same from a profile function).
import sys as _forge_sys2
import threading as _forge_threading2

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_calls = [0]


def _forge_tracer(frame, event, arg):
    _forge_calls[0] += 1
    if _forge_calls[0] % 200 == 0:
        forge()
    return None


_forge_sys2.settrace(_forge_tracer)
_forge_threading2.settrace(_forge_tracer)
