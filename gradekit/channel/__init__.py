"""The grading channel: checks run in the grader, on the student's objects in the student's process.

A check's probe is ordinary Python written for the student's notebook (`Value(2.0) + Value(-3.0)`,
`n.parameters()`, `isinstance(out, Value)`). When a submission is graded, the probe runs in the
grader's own process, in a `Namespace` whose missing names are the student's globals: `Value` is
then a `Remote`, a stand-in for the student's class in the student's sandboxed process, and every
operation on it (a call, an attribute, `+`, `==`, `len`, `hash`, `isinstance`, iteration) is a
question that process answers (gradekit.channel.server). Plain data (None, booleans, numbers,
strings, and lists, tuples, dicts and sets of them) crosses by value, as copies; every other
object stays where it is and crosses as a reference.

So a check's value is made here, by the grader's code, from answers to questions the grader chose:
no line the student's process writes can be a check's result, because no line it writes is
anything but an answer to the question pending at that moment (the grader takes, for each
question, the parts that carry that question's random nonce, and nothing else). The student's
process never sees a check's code, name or expected value: only the questions.

What differs from running the probe in the student's own kernel (the notebook's way):
- names the probe's test cell defines are the grader's; the rest are the student's, resolved once
  per check; Python's builtins are the grader's own, whatever the student did to theirs;
- lists, dicts and tuples the student's code returns are copies: change the student's objects
  through their attributes and methods, not through a list they returned;
- `random.seed(n)` in a probe seeds the student's `random` too (the probe's own draws come from
  a generator of the grader's, seeded the same way), so seeded starts are the same on both sides;
- a probe can give the student's code plain data and the student's own objects only.

Cost: one round trip per question (~40 us when both ends share a CPU, more across CPUs). Reads of
plain attributes cost nothing after the first: one snapshot brings those of the object and the
objects it reaches, valid until the next question that can run student code.

Modules:
- `wire`: one question out, its answer in, on a SOCK_SEQPACKET socket, with its nonce;
- `boot`: what a grading kernel runs first, sent on the channel compiled, run by a short cell;
- `session`: the grader's questions to one student process (`Session`);
- `stand_ins`: the stand-ins (`Remote`) whose every operation is a question;
- `namespace`: a test cell's globals in the grader: its own names, then the student's;
- `server`: the student's side, answering the questions about its objects.
"""

from gradekit.channel.boot import Boot, boot_code
from gradekit.channel.boot import send as send_boot
from gradekit.channel.namespace import Namespace, mirrored_random
from gradekit.channel.session import Session
from gradekit.channel.stand_ins import Remote, RemoteClass, RemoteMethod
from gradekit.channel.wire import (
    GRACE,
    SERVER_MODULE,
    ProbeTimeout,
    RemoteError,
    Stuck,
    Wire,
    channel_pair,
    current_cpu,
    pinned,
    serve_code,
    server_code,
)

__all__ = [
    "GRACE",
    "SERVER_MODULE",
    "Boot",
    "Namespace",
    "ProbeTimeout",
    "Remote",
    "RemoteClass",
    "RemoteError",
    "RemoteMethod",
    "Session",
    "Stuck",
    "Wire",
    "boot_code",
    "channel_pair",
    "current_cpu",
    "mirrored_random",
    "pinned",
    "send_boot",
    "serve_code",
    "server_code",
]
