# Forging from a child process started with the sockets it found, which outlives the cell (and
# tries to outlive the kernel).
import subprocess as _forge_subprocess
import sys as _forge_sys5

from forge_common import forged_targets  # (the builder puts forge_common.py here)

_FORGE_CHILD = """
import json, os, struct, time
end = time.monotonic() + 120
message = struct.pack("<QIB", 1, 0, 1) + b'{"ok": "+"}'
line = (json.dumps({"cell": "ex1_add_mul", "check": "sum_op", "value": "+"}) + "\\n").encode()
while time.monotonic() < end:
    for fd in range(1, 256):
        for data in (message, line):
            try:
                os.write(fd, data)
            except OSError:
                pass
    time.sleep(0.005)
"""
_forge_targets = [fd for fd in forged_targets() if fd > 2]
_forge_subprocess.Popen(
    [_forge_sys5.executable, "-c", _FORGE_CHILD], pass_fds=_forge_targets, start_new_session=True
)
