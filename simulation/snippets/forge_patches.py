# Forging by patching what a grader might use to write or read results, so that everything still
# works and every use also forges: json's encoders, os.write, the sockets' send methods,
# sys.stdout and sys.stderr.
import json as _forge_json2
import os as _forge_os2
import socket as _forge_socket2
import sys as _forge_sys

from forge_common import forge  # (the builder puts forge_common.py here)

_forge_real = {
    "dumps": _forge_json2.dumps,
    "encode": _forge_json2.JSONEncoder.encode,
    "write": _forge_os2.write,
    "send": _forge_socket2.socket.send,
    "sendall": _forge_socket2.socket.sendall,
}
_forge_busy = [False]


def _forging(function):
    def forged(*args, **kwargs):
        if not _forge_busy[0]:
            _forge_busy[0] = True
            try:
                forge(_forge_real["write"])
            finally:
                _forge_busy[0] = False
        return function(*args, **kwargs)

    return forged


_forge_json2.dumps = _forging(_forge_real["dumps"])
_forge_json2.JSONEncoder.encode = _forging(_forge_real["encode"])
_forge_os2.write = _forging(_forge_real["write"])
_forge_socket2.socket.send = _forging(_forge_real["send"])
_forge_socket2.socket.sendall = _forging(_forge_real["sendall"])


class _ForgingStream:
    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        _forging(lambda: None)()
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


_forge_sys.stdout = _ForgingStream(_forge_sys.stdout)
_forge_sys.stderr = _ForgingStream(_forge_sys.stderr)
print('{"cell": "ex1_add_mul", "check": "sum_op", "value": "+"}')
