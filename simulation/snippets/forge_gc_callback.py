# Forging from the garbage collector's callbacks (they run in whatever thread triggers a collection).
import gc as _forge_gc

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_gc.callbacks.append(lambda phase, info: forge())
_forge_gc.set_threshold(50, 2, 2)  # collections often
