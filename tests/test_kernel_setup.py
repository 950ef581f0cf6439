"""What a grading kernel runs first (gradekit.channel.boot) and the per-cell waits it drops
(gradekit.sandbox.kernel_tuning): the boot record reaches a fresh Python on the channel and runs
there as the cell's source would have, a kernel of another Python compiles it itself, a missing or
foreign record is a clear error; a tuned kernel's outputs are an untuned one's, cell for cell.

The boot runs in a plain second Python (the channel is the kit's real one); the tuning in real
ipykernel kernels started by nbclient, unsandboxed (no student code runs here)."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import marshal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gradekit import channel
from gradekit.channel import boot
from gradekit.grading import kernel_setup
from gradekit.sandbox import kernel_tuning

TUNING_SOURCE = Path(kernel_tuning.__file__).read_text(encoding="utf-8")

MODULE = """
made = []
def note(what):
    made.append(what)
"""
MAIN = """
import made_by_boot
made_by_boot.note(("fd", fd))
main["answer"] = 42
"""


def run_cell(source: str, fd: int) -> dict:
    """Run `source` as a fresh Python's __main__ code with `fd` passed; what it printed as JSON."""
    program = (
        f"{source}\n"
        "import json, sys\n"
        "mod = sys.modules.get('made_by_boot')\n"
        "print(json.dumps({'made': mod.made if mod else None, 'answer': globals().get('answer'),\n"
        "                  'left': sorted(n for n in globals() if 'boot' in n)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], pass_fds=(fd,), capture_output=True, text=True, timeout=60
    )
    return {"returncode": result.returncode, "stderr": result.stderr, **_last_json(result.stdout)}


def _last_json(out: str) -> dict:
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def test_a_boot_makes_its_modules_and_runs_its_main_with_the_fd_and_main_globals():
    grader_end, student_end = channel.channel_pair()
    fd = student_end.fileno()
    with grader_end, student_end:
        channel.send_boot(grader_end, channel.Boot((("made_by_boot", MODULE),), MAIN))
        got = run_cell(channel.boot_code(fd), fd)
    assert got["returncode"] == 0, got["stderr"]
    assert got["made"] == [["fd", fd]]
    assert got["answer"] == 42, "main's names land in __main__'s globals"
    assert got["left"] == [], "the boot cell leaves no name of its own"


def test_a_kernel_of_another_python_compiles_the_sources_itself():
    """A record whose magic is not the kernel's: its compiled part (here garbage) is never read."""
    sources = (("made_by_boot", MODULE), ("<gradekit boot>", MAIN))
    record = marshal.dumps((boot.TAG, b"\x00\x00\r\n", b"not marshal data", sources))
    assert record != boot.Boot(sources[:1], MAIN).record()
    grader_end, student_end = channel.channel_pair()
    fd = student_end.fileno()
    with grader_end, student_end:
        grader_end.send(record)
        got = run_cell(channel.boot_code(fd), fd)
    assert got["returncode"] == 0, got["stderr"]
    assert got["made"] == [["fd", fd]] and got["answer"] == 42


@pytest.mark.parametrize(
    "datagram, says",
    [
        (None, "the grader's boot record is not on the channel"),
        (b"\x13\x00 some bytes", "the channel's first datagram is not a boot record"),
        (
            marshal.dumps(("another-kind", importlib.util.MAGIC_NUMBER, b"", ())),
            "a boot record of another kind",
        ),
    ],
    ids=["nothing", "not-marshal", "another-tag"],
)
def test_without_a_boot_record_the_cell_fails_at_once_saying_why(datagram, says):
    grader_end, student_end = channel.channel_pair()
    with grader_end, student_end:
        if datagram is not None:
            grader_end.send(datagram)
        got = run_cell(channel.boot_code(student_end.fileno()), student_end.fileno())
    assert got["returncode"] == 1
    assert f"RuntimeError: {says}" in got["stderr"]


def test_a_record_too_long_for_a_datagram_is_refused_by_the_grader():
    huge = channel.Boot((("huge", "x = 1\n" + "#" * boot.MAX_RECORD),), "pass")
    grader_end, student_end = channel.channel_pair()
    with grader_end, student_end, pytest.raises(ValueError, match="boot record of"):
        channel.send_boot(grader_end, huge)


def test_the_grading_kernels_setup_fits_one_datagram_and_is_compiled_once():
    record = kernel_setup.setup().record()
    assert len(record) < boot.MAX_RECORD
    assert kernel_setup.setup().record() is record, "compiled once per grading process"
    grader_end, student_end = channel.channel_pair()
    with grader_end, student_end:
        channel.send_boot(grader_end, kernel_setup.setup())
        assert len(student_end.recv(boot.MAX_RECORD)) == len(record)


# -- the tuning ---------------------------------------------------------------------------------

CELLS = [
    "print('last line')",
    "import sys\nsys.stdout.write('no newline')",
    "import sys\nfor i in range(5):\n    print(i)\n    print('err', i, file=sys.stderr)",
    "print('x' * 100_000)",
    "import threading\nt = threading.Thread(target=print, args=('from a thread',))\nt.start()\nt.join()",
    "import sys\nprint('before', flush=True)\nsys.stdout.flush()\nsys.stdout.flush()\nprint('after')",
    "print('then it fails')\nraise ValueError('on purpose')",
    "x = 1",
    "import os\nos.write(1, b'below Python\\n')",
    "from IPython.display import display\nprint('a'); display('shown'); print('b')",
    "1 + 1",
]


def outputs(tuned: bool) -> list:
    setup = f"{TUNING_SOURCE}\n_left = tune()\nassert not _left, _left\ndel _left" if tuned else "pass"
    cells = [nbformat.v4.new_code_cell(source) for source in [setup, *CELLS]]
    nb = nbformat.v4.new_notebook(cells=cells)
    NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3").execute()
    return [c.outputs for c in nb.cells[1:]]


def test_a_tuned_kernel_gives_the_outputs_of_an_untuned_one_cell_for_cell():
    untuned, tuned = outputs(tuned=False), outputs(tuned=True)
    for source, before, after in zip(CELLS, untuned, tuned):
        assert after == before, source


def test_a_tuned_flush_with_nothing_to_send_does_not_wait_for_the_iopub_thread():
    probe = f"""
{TUNING_SOURCE}
import sys
def handed(action):
    stream = sys.stdout
    calls = []
    schedule = stream.pub_thread.schedule
    stream.pub_thread.schedule = lambda f: (calls.append(f), schedule(f))[1]
    try:
        action(stream)
    finally:
        del stream.pub_thread.schedule
    return len(calls)
empty_before = handed(lambda s: s.flush())
assert not tune()
empty_after = handed(lambda s: s.flush())
written_after = handed(lambda s: (s.write("x\\n"), s.flush()))
print(empty_before, empty_after, written_after)
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    before, after, written = map(int, text.split()[-3:])
    assert before >= 2, "ipykernel's own flush hands its work to the IOPub thread and waits"
    assert after == 0, "nothing to send: no hand-over, no wait"
    assert written >= 2, "something to send: ipykernel's own flush"


WIDEN = """
import sys, time, types
stream = sys.stdout
rotate = type(stream)._rotate_buffers.__get__(stream)
def slow_rotate():
    taken = rotate()
    if any(buffer.tell() for buffer in taken.values()):
        time.sleep(0.1)  # the IOPub thread held up after taking the buffers (a long message's HMAC)
    return taken
stream._rotate_buffers = slow_rotate
"""


@pytest.mark.parametrize("tuned", [False, True], ids=["untuned", "tuned"])
def test_output_taken_by_a_timed_flush_still_comes_before_the_cells_end(tuned):
    """A cell prints, then sleeps past ipykernel's timed flush (0.2 s), which is held up after it took
    the buffers: the cell's end flushes nothing buffered, but its output must still come first."""
    setup = f"{TUNING_SOURCE}\nassert not tune()" if tuned else "pass"
    cells = [setup, WIDEN, "import time\nprint('printed')\ntime.sleep(0.25)", "print('next')"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert [o.get("text") for o in nb.cells[2].outputs] == ["printed\n"]
    assert [o.get("text") for o in nb.cells[3].outputs] == ["next\n"]


def test_the_grading_kernels_own_setup_tunes_a_real_kernel_and_defines_the_checks_names():
    """kernel_setup.setup() as a grading kernel gets it: sent on a channel, run by boot_code."""
    record = base64.b64encode(kernel_setup.setup().record()).decode()
    make_channel = (
        "import base64, os, socket\n"
        "_a, _b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
        "_a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)\n"
        f"_a.send(base64.b64decode({record!r}))\n"
        "try:\n"
        "    os.fstat(777)\n"
        "except OSError:\n"
        "    os.dup2(_b.fileno(), 777)\n"
        "else:\n"
        "    raise RuntimeError('fd 777 is taken')\n"
    )
    look = (
        "import sys\n"
        "print(type(sys.stdout.flush).__name__, type(sys.stderr.flush).__name__,"
        " get_ipython().kernel._execute_sleep, callable(check), callable(report),"
        " sorted(m for m in sys.modules if m.startswith('gradekit')))"
    )
    cells = [make_channel, channel.boot_code(777), look]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[1].outputs == [], "the setup says nothing: everything was tuned"
    said = "".join(o.get("text", "") for o in nb.cells[2].outputs).split(maxsplit=5)
    assert said[:5] == ["partial", "partial", "0.0", "True", "True"]
    assert said[5].strip() == "['gradekit_checks', 'gradekit_kernel_tuning', 'gradekit_server']"


def test_a_setup_cell_that_failed_stops_the_submission_saying_why(caplog):
    log = logging.getLogger("test-setup")
    failed = nbformat.v4.new_code_cell("")
    failed.outputs = [
        nbformat.v4.new_output(
            "error", ename="RuntimeError", evalue="the grader's boot record is not on the channel"
        )
    ]
    with pytest.raises(
        kernel_setup.SetupFailed, match=r"setup failed: RuntimeError: the grader.s boot record"
    ):
        kernel_setup.check(failed, log)
    said = nbformat.v4.new_code_cell("")
    said.outputs = [nbformat.v4.new_output("stream", name="stderr", text="kernel tuning left alone: x\n")]
    with caplog.at_level(logging.WARNING, logger="test-setup"):
        kernel_setup.check(said, log)
        kernel_setup.check(said, log)
    assert [r.getMessage() for r in caplog.records] == [
        "The grading kernel's setup: kernel tuning left alone: x"
    ]
