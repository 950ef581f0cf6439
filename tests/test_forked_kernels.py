"""Kernels forked warm (gradekit.sandbox.forked, .warm_parent, .warm): a forked kernel is the cold
kernel of the same sandbox, started faster, and nothing of one submission reaches the next.

Each test starts real sandboxed kernels with nbclient, as nbgrader does (it needs bwrap, and root:
forking into a sandbox joins its namespaces). The attacks of tests/test_sandbox.py run against both
kinds of kernel there; the whole cohort is graded both ways in tests/test_cohort.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat
import psutil
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from gradekit.sandbox import Sandbox, SandboxedKernelManager, warm_parent
from gradekit.sandbox.forked import ForkedKernelManager
from gradekit.sandbox.warm_parent import ForkUnavailable, WarmParent, unavailable_reason

FACTS = """
import json, os, random, resource, socket, sys
def kind(fd):  # what a file descriptor is: "pipe", "socket", "anon_inode:[eventfd]", "/dev/null"...
    try:
        return os.readlink(f"/proc/self/fd/{fd}").split(":[")[0].replace("anon_inode", "anon_inode:")
    except OSError:
        return "(listdir's own)"
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
facts = dict(
    uid=os.getuid(), gid=os.getgid(), euid=os.geteuid(), groups=os.getgroups(), cwd=os.getcwd(),
    path=sys.path, argv=sys.argv, env=dict(os.environ), hash=hash("a string"), flags=str(sys.flags),
    host=socket.gethostname(), parent=os.getppid(), session=os.getsid(0) == os.getpid(),
    main=sys.modules["__main__"].__name__, root=sorted(os.listdir("/")),
    limits={n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")},
    status={k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapAmb", "NoNewPrivs", "Seccomp")},
    bounding=status["CapBnd"].strip(), fds=sorted({kind(fd) for fd in os.listdir("/proc/self/fd")}),
    stdio=[kind(fd) for fd in "012"],
    threads=status["Threads"].strip(),
    processes=sorted(p for p in os.listdir("/proc") if p.isdigit()), random=random.random(),
)
print(json.dumps(facts))
"""


@pytest.fixture(autouse=True)
def root_and_bwrap():
    assert os.geteuid() == 0, "forked kernels join each sandbox's namespaces: run the tests as root (CI does)"
    assert Sandbox().unavailable_reason() is None, Sandbox().unavailable_reason()
    assert unavailable_reason() is None, unavailable_reason()


@pytest.fixture
def cwd(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    return str(folder)


def run(manager, cwd: str, *cells: str) -> list[str]:
    """Each cell's printed text, run in one new kernel of `manager`'s kind (as nbgrader's Execute
    runs a notebook: nbclient, the python3 kernelspec, no history, NBGRADER_EXECUTION=autograde)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        kernel_manager_class=manager,
        resources={"metadata": {"path": cwd}},
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
    )
    client.execute()
    return ["".join(o.get("text", "") for o in c.outputs if o.output_type == "stream") for c in nb.cells]


def facts(manager, cwd: str) -> dict:
    return json.loads(run(manager, cwd, FACTS)[0])


def test_a_forked_kernel_is_the_cold_kernel_of_its_sandbox(cwd, monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "1234")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    cold, warm = facts(SandboxedKernelManager, cwd), facts(ForkedKernelManager, cwd)
    differ = {"uid", "gid", "euid", "random", "processes", "bounding", "session"}
    assert {k: v for k, v in warm.items() if k not in differ} == {
        k: v for k, v in cold.items() if k not in differ
    }
    assert warm["env"]["PYTHONHASHSEED"] == "1234" and warm["hash"] == cold["hash"]
    sandbox = Sandbox()
    for kernel in (cold, warm):
        assert sandbox.first_uid <= kernel["uid"] < sandbox.first_uid + sandbox.uid_count
        assert kernel["uid"] == kernel["gid"] == kernel["euid"] and kernel["groups"] == []
        assert kernel["status"] == {
            "CapInh": "0000000000000000",
            "CapPrm": "0000000000000000",
            "CapEff": "0000000000000000",
            "CapAmb": "0000000000000000",
            "NoNewPrivs": "1",
            "Seccomp": "2",
        }
    assert warm["bounding"] == "0000000000000000"  # stricter than setpriv, which leaves it
    assert warm["limits"]["RLIMIT_AS"] == [sandbox.memory_limit] * 2
    assert warm["limits"]["RLIMIT_NPROC"] == [sandbox.max_processes] * 2
    # In its sandbox's PID namespace: bwrap (1), cat (2), the kernel; nothing else, as a cold one.
    assert len(warm["processes"]) == len(cold["processes"]) + 1 == 3


def test_each_kernel_draws_its_own_random_numbers_and_hashes_as_a_cold_one(cwd, monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    first, second = facts(ForkedKernelManager, cwd), facts(ForkedKernelManager, cwd)
    cold = facts(SandboxedKernelManager, cwd)
    assert first["random"] != second["random"]
    assert "PYTHONHASHSEED" not in first["env"] and first["flags"] == cold["flags"]  # hash randomization on
    monkeypatch.setenv("PYTHONHASHSEED", "77")  # another seed: its own warm parent, started with it
    seeded, cold = facts(ForkedKernelManager, cwd), facts(SandboxedKernelManager, cwd)
    assert seeded["hash"] == cold["hash"] and seeded["flags"] == cold["flags"]


LEAVE = """
import builtins, json, os, random, subprocess, sys, threading, time, types
json.LEAK = builtins.LEAK = "first"
sys.modules["gradekit_leak"] = types.ModuleType("gradekit_leak")
os.environ["LEAK"] = "first"
for path in ("/tmp/leak", "/dev/shm/leak", "leak"):
    open(path, "w").write("first")
threading.Thread(target=time.sleep, args=(60,), name="leaky", daemon=True).start()
child = subprocess.Popen(["sleep", "60"])
random.seed(1)
print(json.dumps({"pid": child.pid, "random": random.random()}))
"""

LOOK = """
import builtins, json, os, random, sys, threading
print(json.dumps({
    "module": hasattr(json, "LEAK"), "builtin": hasattr(builtins, "LEAK"),
    "modules": "gradekit_leak" in sys.modules, "env": "LEAK" in os.environ,
    "files": [p for p in ("/tmp/leak", "/dev/shm/leak", "leak") if os.path.exists(p)],
    "threads": [t.name for t in threading.enumerate() if t.name == "leaky"],
    "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "random": random.random(), "me": os.getpid(),
}))
"""


def test_nothing_of_one_submission_reaches_the_next(cwd, tmp_path):
    other = tmp_path / "next"
    other.mkdir()
    km_first = asyncio.run(start(cwd))  # the first submission's kernel stays up meanwhile
    try:
        left = json.loads(asyncio.run(execute(km_first, LEAVE)))
        for _ in range(2):  # the next submission, while the first kernel runs, then after it ended
            seen = json.loads(run(ForkedKernelManager, str(other), LOOK)[0])
            assert seen["random"] != left["random"]
            assert not any(seen[k] for k in ("module", "builtin", "modules", "env", "files", "threads")), seen
            assert seen["processes"] == [1, 2, seen["me"]], seen  # bwrap, cat, itself: not the sleeper
            asyncio.run(stop(km_first))
        # the same folder again: the first kernel's scratch files went with its sandbox
        seen = json.loads(run(ForkedKernelManager, cwd, LOOK)[0])
        assert seen["files"] == [], seen
    finally:
        asyncio.run(stop(km_first))


async def start(cwd: str) -> ForkedKernelManager:
    km = ForkedKernelManager(kernel_name="python3")
    await km.start_kernel(cwd=cwd, extra_arguments=["--HistoryManager.hist_file=:memory:"])
    return km


async def execute(km, code: str) -> str:
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        out = []
        await kc.execute_interactive(
            textwrap.dedent(code), timeout=60, output_hook=lambda m: out.append(m["content"].get("text", ""))
        )
        return "".join(out)
    finally:
        kc.stop_channels()


async def stop(km) -> None:
    if km.has_kernel:
        await km.shutdown_kernel(now=True)


def test_the_kernel_and_what_it_started_end_with_the_shutdown(cwd):
    km = asyncio.run(start(cwd))
    asyncio.run(execute(km, LEAVE))  # a thread, and a child process sleeping for a minute
    uid = km._uid
    assert [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid], "the kernel's uid"
    asyncio.run(stop(km))
    deadline = time.monotonic() + 10  # processes in the middle of their exit, given time to finish it
    while alive := [
        p.info
        for p in psutil.process_iter(["uids", "status", "name"])
        if p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE
    ]:
        assert time.monotonic() < deadline, alive
        time.sleep(0.05)
    assert km.forked.sandbox.poll() is not None  # bwrap, and with it the sandbox's PID namespace


def test_a_kernel_that_ends_itself_is_seen_dead(cwd):
    with pytest.raises(DeadKernelError):
        run(ForkedKernelManager, cwd, "import os; os._exit(3)", "print('never')")


PROCESSES = "import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))"


def test_a_warm_parent_that_died_is_started_again(cwd):
    assert run(ForkedKernelManager, cwd, "print(1)") == ["1\n"]
    for parent in WarmParent._parents.values():
        if parent.process is not None:
            os.kill(parent.process.pid, signal.SIGKILL)
            parent.process.wait()
    assert run(ForkedKernelManager, cwd, PROCESSES) == ["3\n"]  # forked again: bwrap, cat, the kernel


def test_a_forked_kernel_imports_nothing_while_it_starts(cwd):
    """The warm parent has imported all a kernel's start imports (it rehearses a start and imports
    what that imported): the modules a forked kernel has that the warm parent had not are only
    those its cells import. (The rehearsal once failed unseen, and every forked kernel imported
    the debugger, 0.08 s of its start.)"""
    WarmParent.stop_all(grace=0)
    cell = "import json, sys; print(json.dumps(list(sys.modules)))"
    (modules,) = run(ForkedKernelManager, cwd, cell)
    (parent,) = WarmParent._parents.values()
    assert (parent.hello["problems"], parent.hello["left_out"]) == ([], [])
    assert parent.hello["rehearsed"] > 100
    imported_since_the_fork = json.loads(modules)[parent.hello["modules"] :]
    assert imported_since_the_fork == []


def test_a_forked_kernel_collects_its_own_garbage_only(cwd):
    """The warm parent's objects are frozen when it forks (gc.freeze): the kernel's garbage
    collector never walks them (its first full collection walked the whole imported heap, 25 ms
    of every start), and still collects the kernel's own cycles."""
    WarmParent.stop_all(grace=0)
    cell = """
    import gc
    class Node:
        pass
    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    print(gc.get_freeze_count(), gc.collect() >= 2)
    """
    (said,) = run(ForkedKernelManager, cwd, cell)
    (parent,) = WarmParent._parents.values()
    frozen, collected = said.split()
    assert parent.hello["frozen"] > 10_000  # the imports of ipykernel and the course's modules
    # (the kernel has freed a few of them since: a frozen object goes when nothing refers to it)
    assert int(frozen) > 0.9 * parent.hello["frozen"] and collected == "True"
    (said,) = run(SandboxedKernelManager, cwd, "import gc; print(gc.get_freeze_count())")
    assert said == "0\n"  # a cold kernel freezes nothing


def test_the_warm_parent_ends_before_its_grader_does(tmp_path):
    """A grader that exits has ended its warm parents by its last moment, not left them to end on
    their own once their socket closes: a sharded run would find such a one still running and end
    it as left behind by a killed nbgrader (CI saw `ended 1 process(es) left behind` after an
    ordinary run of two shards). The grader's last atexit handler (the first registered) looks."""
    grader = textwrap.dedent(
        """
        import atexit, os, psutil
        started = []
        atexit.register(lambda: print("running" if psutil.pid_exists(started[0]) else "ended"))
        from gradekit.sandbox.warm_parent import WarmParent
        parent = WarmParent.for_env(dict(os.environ), ("json",))
        parent.start()
        started.append(parent.process.pid)
        """
    )
    done = subprocess.run([sys.executable, "-c", grader], capture_output=True, text=True, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "ended\n"), done.stderr


@pytest.mark.parametrize("forking", ["works", "fails"])
def test_a_started_kernel_is_ready_as_jupyter_clients_are(cwd, monkeypatch, forking):
    """ForkedKernelManager starts kernels without jupyter_client's in_pending_state (it sleeps
    0.01 s per start), and sets the manager's `ready` future as it does: done once started, forked
    or, where forking fails, cold."""

    def refuse(self, request, fds):
        raise ForkUnavailable("no warm parent today")

    if forking == "fails":
        monkeypatch.setattr(WarmParent, "fork", refuse)

    async def start_and_stop():
        manager = ForkedKernelManager(kernel_name="python3")
        await manager.start_kernel(cwd=cwd)
        try:
            ready = manager.ready
            return ready.done() and ready.exception() is None, await manager.is_alive(), manager.cold
        finally:
            await manager.shutdown_kernel(now=True)

    assert asyncio.run(start_and_stop()) == (True, True, forking == "fails")


def test_a_kernel_that_cannot_be_forked_starts_cold(cwd, monkeypatch, caplog):
    def refuse(self, request, fds):
        raise ForkUnavailable("no warm parent today")

    monkeypatch.setattr(WarmParent, "fork", refuse)
    # a cold kernel is the sandbox's second process (after bwrap); a forked one the third (after cat)
    assert run(ForkedKernelManager, cwd, PROCESSES) == ["2\n"]
    assert "no warm parent today" in caplog.text and "starting a cold kernel" in caplog.text


def test_what_the_warm_parent_cannot_import_is_logged_once(cwd, monkeypatch, caplog):
    """A module of c.Sandbox.warm_imports that does not import is said in the log, once per warm
    parent, and the kernels still start (they import it themselves, or fail as a cold one would)."""
    modules = (*warm_parent.warm_modules(Sandbox()), "no_such_module_of_the_course")
    monkeypatch.setattr(warm_parent, "warm_modules", lambda sandbox: modules)
    assert run(ForkedKernelManager, cwd, "print(1)") == ["1\n"]
    assert run(ForkedKernelManager, cwd, "print(2)") == ["2\n"]
    said = "cannot import no_such_module_of_the_course: ModuleNotFoundError"
    assert caplog.text.count(said) == 1, caplog.text


def test_where_kernels_cannot_be_forked_the_reason_is_given(monkeypatch):
    assert "ipykernel" in unavailable_reason(["/usr/bin/python2", "-m", "ipykernel_launcher", "-f", "x"])
    assert "ipykernel" in unavailable_reason(["python", "-m", "some_other_kernel", "-f", "x"])
    monkeypatch.setattr(warm_parent.os, "geteuid", lambda: 1000)
    assert "root" in unavailable_reason()


def test_a_kernel_out_of_file_descriptors_still_shows_its_output(cwd):
    """A cold kernel's start writes to its stderr (the debugger's warning, from its imports), which
    sets its output machinery up; a forked kernel, whose imports ran in the warm parent, writes the
    same, or a cell that used up every file descriptor loses its output and waits out a timeout
    (found by the cohort's forging cases, which leak descriptors)."""
    leak = """
    import os
    kept = []
    try:
        while True:
            kept.append(os.dup(0))
    except OSError as exc:
        print("exhausted", exc.errno)
    """
    for manager in (SandboxedKernelManager, ForkedKernelManager):
        assert run(manager, cwd, leak, "print('after')") == ["exhausted 24\n", "after\n"], manager
