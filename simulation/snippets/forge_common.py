# Forging, shared part: what every forging technique writes, and where. A blank notebook with this
# code tries to earn checks without writing any of the exercises: it writes "results" for checks
# whose answers are easy to guess from the notebook's text, in every format the grader has ever
# read (lines of JSON for a results file, datagrams of its channel with guessed nonces), to every
# socket of the grader's kind it can find (standard output and error: forge_patches).
import contextlib
import json as _forge_json
import os as _forge_os
import socket as _forge_socket
import struct as _forge_struct
import time as _forge_time

FORGED = [
    ("ex1_add_mul", "sum_data", -1.0),
    ("ex1_add_mul", "sum_op", "+"),
    ("ex1_add_mul", "product_op", "*"),
    ("ex1_add_mul", "children_are_tuples", ["tuple", "tuple"]),
    ("ex1_add_mul", "square_children", ["a", "a"]),
    ("ex1_tanh", "tanh_op", "tanh"),
    ("ex1_tanh", "tanh_large_inputs", [1.0, -1.0]),
    ("ex2_add_mul_grads", "sum_gradients", {"a": 1.0, "b": 1.0}),
    ("ex2_backward", "root_gradient", 1.0),
    ("ex3_neuron", "one_input", 2),
    ("ex3_mlp", "layers", 2),
]


def forged_messages():
    messages = []
    for cell, check, value in FORGED:
        for record in (
            {"cell": cell, "check": check, "started": True},
            {"cell": cell, "check": check, "value": value},
        ):
            messages.append((_forge_json.dumps(record) + "\n").encode())
        for nonce in (0, 1, 2**32, 2**63, 12345678901234567):
            messages.append(
                _forge_struct.pack("<QIB", nonce, 0, 1) + _forge_json.dumps({"ok": value}).encode()
            )
    return messages


def forged_targets():
    targets = []
    for fd in range(3, 256):
        try:
            probe = _forge_socket.socket(fileno=_forge_os.dup(fd))
        except OSError:
            continue
        try:
            if probe.type in (_forge_socket.SOCK_SEQPACKET, _forge_socket.SOCK_DGRAM):
                targets.append(fd)
        finally:
            probe.close()
    return targets


_forge_last = [0.0]


def forge(write=_forge_os.write):
    # at most every 5 ms: often enough to be there whenever results might be read, rarely enough
    # that the student's own code still runs at its speed
    now = _forge_time.monotonic()
    if now - _forge_last[0] < 0.005:
        return
    _forge_last[0] = now
    for fd in forged_targets():
        for message in forged_messages():
            with contextlib.suppress(OSError):
                write(fd, message)
