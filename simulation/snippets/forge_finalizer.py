# Forging from finalizers: objects whose __del__ forges, some in reference cycles (finalized when
# the garbage collector runs, at any moment), one kept until the interpreter exits.
from forge_common import forge  # (the builder puts forge_common.py here)


class _Forger:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

    def __del__(self):
        forge()
        _Forger()  # and another one, for the next collection


for _ in range(10):
    _Forger()
_KEPT = _Forger()
