# Forging from signal handlers: every catchable signal forges, and an interval timer keeps
# SIGALRM coming (the grader's own time limit uses SIGALRM too).
import signal as _forge_signal

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_previous = {}


def _forge_handler(signum, frame):
    forge()
    previous = _forge_previous.get(signum)
    if callable(previous):
        previous(signum, frame)


for _name in ("SIGALRM", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGPROF"):
    _number = getattr(_forge_signal, _name)
    _forge_previous[_number] = _forge_signal.signal(_number, _forge_handler)
_forge_signal.setitimer(_forge_signal.ITIMER_REAL, 0.05, 0.05)
_forge_signal.setitimer(_forge_signal.ITIMER_VIRTUAL, 0.05, 0.05)
_forge_signal.setitimer(_forge_signal.ITIMER_PROF, 0.05, 0.05)
