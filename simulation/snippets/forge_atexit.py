# Forging when the interpreter exits (after the grader's last question).
import atexit as _forge_atexit

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_atexit.register(forge)
forge()
