"""The course as a class uses it, end to end in a real browser: the demo JupyterHub of `./kit hub`
(gradekit/hub/__init__.py), real unix accounts, nbgrader's exchange.

The instructor generates and releases the assignment in formgrader; two students log in, fetch it
from JupyterLab's *Assignments* tab, work on it (one writes the reference solution, one only
exercise 1, into the notebook in their home) and submit it there; the instructor collects,
autogrades in the sandbox, generates and releases feedback (nbgrader's commands, as the instructor's
account); each student fetches their feedback in the Assignments tab and reads their own score. A
student can read neither another student's work nor the instructor's course, solutions or
gradebook. Screenshots of every step go to `test-artifacts/hub/`.

Run with `pytest -m hub` as root (accounts are created, and removed after). Without root, npm,
Chromium or Playwright the test skips, or fails when CI is set.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from gradekit import hub as kit_hub
from gradekit.cluster.lifeline import die_with_parent
from gradekit.course.notebooks import COURSE_ROOT, read
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.submissions import fill, only, reference_answers, region_exercises
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, require

pytestmark = pytest.mark.hub

ARTIFACTS = COURSE_ROOT / "test-artifacts" / "hub"
UI_MS = 60_000
COURSE = kit_hub.Hub().course_id


def free_ports(count: int = 3) -> int:
    """A port p with p, p+1, ... p+count-1 all free on 127.0.0.1."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + count >= 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no three free ports in a row")


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        require("the hub test creates unix accounts: run it as root")
    if shutil.which("npm") is None:
        require("npm is missing (apt-get install npm): the hub's proxy comes from npm")
    if not CHROMIUM.exists():
        require(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        require("the playwright package is missing")
    tag = f"{os.getpid() % 10000}"
    demo = kit_hub.Hub(
        root=Path(f"/srv/kit-hub-test-{tag}"),
        port=free_ports(),
        instructor=f"kt{tag}-teacher",
        students=(f"kt{tag}-alice", f"kt{tag}-bob", f"kt{tag}-carol"),
        grade_on_submit=True,  # the grading service runs as the hub's managed service
    )
    process = None
    try:
        kit_hub.setup(demo)
        log = (demo.root / "jupyterhub.log").open("w")
        process = subprocess.Popen(
            kit_hub.command(demo),
            cwd=demo.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{demo.url}/hub/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (demo.root / "jupyterhub.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the hub did not answer within 60 s"
            time.sleep(0.3)
        yield demo
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        kit_hub.remove_accounts(demo)
        shutil.rmtree(demo.root, ignore_errors=True)


def as_user(hub: kit_hub.Hub, user: str, script: str, check: bool = True) -> subprocess.CompletedProcess:
    """A bash script run as `user`, in their home, with the hub's environment first on PATH."""
    home = hub.home(user)
    result = subprocess.run(
        ["runuser", "-u", user, "--", "env", f"HOME={home}", f"PATH={hub.venv / 'bin'}:/usr/bin:/bin",
         "bash", "-c", f"cd {home} && {script}"],
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, f"{user}: {script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def served(hub: kit_hub.Hub, students: set[str], count: int, timeout: float = 300) -> list:
    """The grading service's finished tries of `students`, once there are `count` of them."""
    from gradekit.hub.ledger import Ledger

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = hub.course / "grading_service.sqlite"
        done = [t for t in Ledger(path).all() if t.student in students] if path.exists() else []
        done = [t for t in done if t.status not in ("pending", "grading")]
        if len(done) >= count:
            return done
        time.sleep(0.5)
    log = (hub.root / "jupyterhub.log").read_text()[-3000:]
    raise AssertionError(f"the grading service finished {len(done)} of {count} tries in {timeout:g} s\n{log}")


def log_in(browser, hub: kit_hub.Hub, user: str):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(UI_MS)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=120_000)
    page.wait_for_selector("#jp-main-dock-panel")
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def formgrader_action(page, column: str) -> str:
    """Click the assignment's button in formgrader's column (`assign`: Generate, `release`) and
    return what its dialog says, then close it."""
    page.click(f"td.{column} a")
    dialog = page.wait_for_selector(".modal-dialog .modal-body", timeout=120_000)
    page.wait_for_function(
        "() => /Success|Error|error/.test(document.querySelector('.modal-dialog').innerText)", timeout=120_000
    )
    text = dialog.inner_text()
    page.click(".modal-footer button")
    page.wait_for_selector(".modal-dialog", state="detached")
    return text


def open_assignments(page) -> None:
    """The Assignments tab (nbgrader's assignment list), from the Nbgrader menu."""
    page.click('#jp-menu-panel div.lm-MenuBar-itemLabel:text("Nbgrader")')
    page.click('#jp-mainmenu-nbgrader li[data-command="nbgrader:open-assignment-list"]')
    page.wait_for_selector("#released_assignments_list_loading", state="hidden")


def test_a_class_on_jupyterhub_from_release_to_feedback(hub):
    from playwright.sync_api import sync_playwright

    alice, bob = hub.students[:2]
    release_nb = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # 1. The instructor generates and releases the assignment in formgrader.
            teacher = log_in(browser, hub, hub.instructor)
            teacher.goto(f"{hub.url}/user/{hub.instructor}/formgrader")
            teacher.wait_for_selector("td.assign a")
            assert "Success" in formgrader_action(teacher, "assign")
            assert "Success" in formgrader_action(teacher, "release")
            teacher.wait_for_selector("td.status:has-text('released')")
            shot(teacher, "01-instructor-released.png")
            released = hub.exchange / COURSE / "outbound" / ASSIGNMENT / NOTEBOOK
            assert released.exists()
            release_nb = nbformat.read(str(released), as_version=4)

            # 2. Each student fetches it in the Assignments tab, works on it, and submits.
            answers = reference_answers(SOURCE_NOTEBOOK)
            work = {
                alice: fill(release_nb, answers),
                bob: fill(release_nb, only(answers, region_exercises(read(SOURCE_NOTEBOOK)), {"ex1"})),
            }
            students = {}
            for number, student in enumerate((alice, bob)):
                page = log_in(browser, hub, student)
                students[student] = page
                open_assignments(page)
                page.click("#released_assignments_list > .list_item .item_status button:text('Fetch')")
                page.wait_for_selector("#fetched_assignments_list > .list_item")
                shot(page, f"{2 + 2 * number:02d}-{student.split('-')[1]}-fetched.png")
                fetched = hub.home(student) / ASSIGNMENT / NOTEBOOK
                assert fetched.exists() and fetched.stat().st_uid == hub.home(student).stat().st_uid
                fetched.write_text(nbformat.writes(work[student]))  # the student's save (owner kept)
                page.click("#fetched_assignments_list > .list_item .item_status button:text('Submit')")
                page.wait_for_selector("#submitted_assignments_list > .list_item")
                shot(page, f"{3 + 2 * number:02d}-{student.split('-')[1]}-submitted.png")

            # 3. The grading service has graded each on submit; then the instructor collects,
            # autogrades (sandboxed), makes and releases feedback, as a batch.
            assert [t.status for t in served(hub, {alice, bob}, 2)] == ["graded", "graded"]
            course = f"~/{COURSE}"
            as_user(hub, hub.instructor, f"cd {course} && nbgrader collect {ASSIGNMENT}")
            graded = as_user(hub, hub.instructor, f"cd {course} && python -m gradekit grade --shards 1")
            assert "summary: shards=1 students=2 graded=2 failed=0" in graded.stderr, graded.stderr
            as_user(hub, hub.instructor, f"cd {course} && nbgrader generate_feedback {ASSIGNMENT}")
            as_user(hub, hub.instructor, f"cd {course} && nbgrader release_feedback {ASSIGNMENT}")
            teacher.goto(f"{hub.url}/user/{hub.instructor}/formgrader")
            teacher.wait_for_selector("td.num-submissions:has-text('2')")
            shot(teacher, "06-instructor-graded.png")
            with Gradebook(f"sqlite:///{hub.course / 'gradebook.db'}") as gradebook:
                scores = {s: gradebook.find_submission(ASSIGNMENT, s).score for s in (alice, bob)}
            assert scores == {alice: 30.0, bob: 10.0}

            # 4. Each student fetches their feedback and sees their own score, nobody else's.
            for number, (student, score) in enumerate(((alice, "30.0 / 30.0"), (bob, "10.0 / 30.0"))):
                page = students[student]
                page.reload()
                page.wait_for_selector("#jp-main-dock-panel")
                open_assignments(page)
                page.click("#submitted_assignments_list .item_status button:text('Fetch Feedback')")
                page.wait_for_selector("#submitted_assignments_list a:text('view feedback')")
                feedback = sorted((hub.home(student) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
                assert len(feedback) == 1, feedback
                stamp = feedback[0].parent.name
                page.goto(f"{hub.url}/user/{student}/files/{ASSIGNMENT}/feedback/{stamp}/{ASSIGNMENT}.html")
                page.wait_for_selector(f"text=Score: {score}")
                shot(page, f"{7 + number:02d}-{student.split('-')[1]}-feedback.png")
                other = bob if student == alice else alice
                page.goto(f"{hub.url}/user/{other}/lab")
                page.wait_for_load_state()
                assert page.query_selector("#jp-main-dock-panel") is None, (
                    f"{student} reached {other}'s server"
                )
        finally:
            browser.close()

    # 5. What a student's account can reach: the release, and nothing of anybody else's.
    inbound = hub.exchange / COURSE / "inbound"
    submissions = sorted(p.name for p in inbound.iterdir())
    assert len(submissions) == 2 and all(bob in name or alice in name for name in submissions)
    bobs = next(name for name in submissions if name.startswith(bob))
    forbidden = [
        f"ls {inbound}",  # the inbound folder cannot be listed: nobody learns another's folder name
        f"ls {hub.exchange / COURSE / 'feedback'}",
        f"ls {hub.home(bob)}",
        f"cat {hub.home(bob) / ASSIGNMENT / NOTEBOOK}",
        f"ls {hub.home(hub.instructor)}",
        f"cat {hub.course / 'source' / ASSIGNMENT / NOTEBOOK}",
        f"cat {hub.course / 'gradebook.db'}",
        f"ls {hub.course / 'release'}",  # the instructor's folders, solutions or not, are all in ~ (0700)
        f"ls {hub.course / 'submitted'}",
        f"cat {hub.course / 'autograded' / bob / ASSIGNMENT / NOTEBOOK}",
    ]
    for attempt in forbidden:
        result = as_user(hub, alice, attempt, check=False)
        assert result.returncode != 0 and "Permission denied" in result.stderr, (attempt, result.stdout[:500])
    # The release is for everybody; a student's own work and feedback are theirs.
    as_user(hub, alice, f"cat {hub.exchange / COURSE / 'outbound' / ASSIGNMENT / NOTEBOOK} > /dev/null")
    assert bobs  # (nbgrader names a submission folder with a random part: it cannot be guessed)


def test_collect_takes_only_what_a_student_submitted_themselves(hub):
    """What an adversarial review of the hub did with the world-writable inbound folder, as a
    student (alice), against bob and the grade: each forged folder is skipped with the reason, and
    bob's own submission is what the instructor collects (gradekit.intake.exchange.SafeCollect)."""
    alice, bob = hub.students[:2]
    course = f"~/{COURSE}"
    as_user(hub, hub.instructor, f"cd {course} && nbgrader generate_assignment {ASSIGNMENT} --force")
    as_user(hub, hub.instructor, f"cd {course} && nbgrader release_assignment {ASSIGNMENT} --force")
    for student in (alice, bob):
        as_user(hub, student, f"rm -rf {ASSIGNMENT} && nbgrader fetch_assignment {ASSIGNMENT}")
    bobs_work = "# bob wrote this, and handed it in"
    fetched = hub.home(bob) / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(str(fetched), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(bobs_work))
    fetched.write_text(nbformat.writes(nb))  # bob's save (the file stays his)
    as_user(hub, bob, f"nbgrader submit {ASSIGNMENT}")
    inbound = hub.exchange / COURSE / "inbound"
    source = hub.course / "source" / ASSIGNMENT / NOTEBOOK
    forged = {
        # a blank notebook as bob's, dated in the future so that it stays the latest
        f"{bob}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged1": f'cp {ASSIGNMENT}/{NOTEBOOK} "$D/"',
        # alice's own folder, with a link to the instructor's source notebook (hidden tests)
        f"{alice}+{ASSIGNMENT}+2026-01-01 00:00:00.000000 UTC+forged2": f'ln -s {source} "$D/{NOTEBOOK}"',
        # a name whose time does not parse (stock collect stops for everyone there)
        f"{alice}+{ASSIGNMENT}+not-a-time+forged3": f'cp {ASSIGNMENT}/{NOTEBOOK} "$D/"',
    }
    for name, fill_in in forged.items():
        as_user(
            hub,
            alice,
            f'D=\'{inbound / name}\' && mkdir "$D" && {fill_in} && echo x > "$D/submission_secret.txt"',
        )
    # nbgrader's own option, as alice: a submission in bob's name (owned by alice)
    as_user(hub, alice, f"nbgrader submit {ASSIGNMENT} --student {bob}")

    # the grading service refuses the same folders (the unparsable name it never takes for a try)
    theirs = [p.name for p in inbound.iterdir() if p.name.split("+")[0] in (alice, bob)]
    tries = [name for name in theirs if "not-a-time" not in name]
    finished = served(hub, {alice, bob}, len(tries))
    failed = [t for t in finished if t.status == "failed"]
    assert len(failed) == 3, [(t.folder, t.status, t.message) for t in finished]
    assert all("does not belong to" in t.message or "symbolic link" in t.message for t in failed)
    collected = as_user(hub, hub.instructor, f"cd {course} && nbgrader collect {ASSIGNMENT} --update")
    log = collected.stdout + collected.stderr
    skipped = dict(re.findall(r"Not collected: .*/inbound/(.+?): (.*)", log))
    assert len(skipped) == 4, log[-4000:]
    assert skipped[f"{bob}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged1"] == (
        f"{bob}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged1 does not belong to {bob}"
    )
    assert skipped[f"{alice}+{ASSIGNMENT}+2026-01-01 00:00:00.000000 UTC+forged2"].endswith(
        f"/{NOTEBOOK} is a symbolic link"
    )
    assert (
        skipped[f"{alice}+{ASSIGNMENT}+not-a-time+forged3"]
        == "the time in its name ('not-a-time') is not a time"
    )
    assert any(name.startswith(f"{bob}+") and "does not belong to" in why for name, why in skipped.items()
               if "forged" not in name), "alice's `nbgrader submit --student bob` is skipped"  # fmt: skip
    collected_bob = hub.course / "submitted" / bob / ASSIGNMENT / NOTEBOOK
    assert bobs_work in collected_bob.read_text()
    alices = hub.course / "submitted" / alice / ASSIGNMENT / NOTEBOOK  # her real one, from before
    assert not alices.is_symlink() and "BEGIN HIDDEN TESTS" not in alices.read_text()


def test_feedback_on_submit_names_the_failed_hidden_check_and_the_fourth_try_is_refused(hub):
    """A student submits a notebook with one mistake (tanh's derivative taken at the input) and,
    with no instructor at work, fetches feedback naming the failed hidden check with its hint and
    no hidden code; three more submits in the window: the fourth is not graded, and says when the
    next graded try opens."""
    from playwright.sync_api import sync_playwright

    from simulation import cohort

    carol = hub.students[2]
    outbound = hub.exchange / COURSE / "outbound" / ASSIGNMENT / NOTEBOOK
    if not outbound.exists():  # (run alone: release it as the class test does)
        as_user(hub, hub.instructor, f"cd ~/{COURSE} && nbgrader generate_assignment {ASSIGNMENT} --force")
        as_user(hub, hub.instructor, f"cd ~/{COURSE} && nbgrader release_assignment {ASSIGNMENT} --force")
    kit = cohort.Kit.load(COURSE_ROOT)
    mistake = next(c for c in cohort.catalog() if c.student == "bug_tanh_derivative").build(kit)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = log_in(browser, hub, carol)
            open_assignments(page)
            page.click("#released_assignments_list > .list_item .item_status button:text('Fetch')")
            page.wait_for_selector("#fetched_assignments_list > .list_item")
            (hub.home(carol) / ASSIGNMENT / NOTEBOOK).write_text(nbformat.writes(mistake))
            page.click("#fetched_assignments_list > .list_item .item_status button:text('Submit')")
            page.wait_for_selector("#submitted_assignments_list > .list_item")
            (first,) = served(hub, {carol}, 1)
            assert first.status == "graded" and first.score == 29.25, first

            text = fetch_and_read_feedback(page, hub, carol, first.folder)
            assert "tanh_chain" in text, "the failed hidden check is named"
            assert "the closure must multiply its local derivative" in text, "with its hint"
            assert "x.tanh().tanh(), at=0.7" not in text, "and none of its code"

            for number in range(3):  # three more in the window: two graded, the fourth refused
                page.click("#fetched_assignments_list > .list_item .item_status button:text('Submit')")
                inbound = hub.exchange / COURSE / "inbound"
                deadline = time.monotonic() + 60
                while len(list(inbound.glob(f"{carol}+*"))) < 2 + number and time.monotonic() < deadline:
                    time.sleep(0.2)
                served(hub, {carol}, 2 + number)
            finished = served(hub, {carol}, 4)
            assert [t.status for t in finished] == ["graded", "graded", "graded", "refused"], finished
            text = fetch_and_read_feedback(page, hub, carol, finished[3].folder)
            assert "used your 3 graded tries" in text and "next graded try opens at" in text, text[:2000]
        finally:
            browser.close()


def fetch_and_read_feedback(page, hub: kit_hub.Hub, student: str, folder: str) -> str:
    """Fetch Feedback in the Assignments tab until the feedback of the submission in the exchange
    folder `folder` (<student>+<assignment>+<time>+<random>) has arrived, then open it: its text."""
    stamp = folder.split("+")[2]
    target = hub.home(student) / ASSIGNMENT / "feedback" / stamp / f"{ASSIGNMENT}.html"
    deadline = time.monotonic() + 90
    while not target.exists():
        assert time.monotonic() < deadline, f"no feedback fetched for the submission of {stamp}"
        page.reload()
        page.wait_for_selector("#jp-main-dock-panel")
        open_assignments(page)
        # (any submission's button fetches the feedback of all of them)
        page.locator("#submitted_assignments_list button:text('Fetch Feedback')").first.click()
        for _ in range(20):
            if target.exists():
                break
            time.sleep(0.5)
    page.goto(f"{hub.url}/user/{student}/files/{ASSIGNMENT}/feedback/{stamp}/{ASSIGNMENT}.html")
    page.wait_for_load_state()
    text = page.inner_text("body")
    shot(page, f"{student.split('-')[1]}-feedback-{stamp.replace(' ', '_').replace(':', '')}.png")
    page.goto(f"{hub.url}/user/{student}/lab")  # back to the Assignments tab
    page.wait_for_selector("#jp-main-dock-panel")
    open_assignments(page)
    return text
