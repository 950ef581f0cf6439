"""The course in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against JupyterLab started with the very flags of `./kit student` and `./kit formgrader`.

A student opens the release, runs a cell that calls an unfinished exercise and sees
`NotImplementedError`, then clicks nbgrader's Validate button and reads its verdict; an instructor
opens formgrader on the course root and finds the assignment. Screenshots go to
`test-artifacts/browser/`.

Run with `pytest -m browser`. Without /usr/bin/chromium or the playwright package the tests skip,
or fail when the environment variable CI is set. Only 127.0.0.1 is reachable from the browser.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from gradekit.course.notebooks import COURSE_ROOT, grade_cells, is_checks_cell, nbgrader_meta
from simulation.course import ASSIGNMENT, NOTEBOOK

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = COURSE_ROOT / "test-artifacts" / "browser"
KIT = COURSE_ROOT / "kit"

STARTUP_S = 60  # a JupyterLab server answering /api/status
UI_MS = 30_000  # any one thing to show up in the page
VALIDATE_MS = 90_000  # the Validate round trip: save, then nbgrader runs the whole notebook


def require(what: str) -> None:
    """A missing browser dependency skips locally, and fails in CI (where it must be installed)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so the browser tests must run)", pytrace=False)
    pytest.skip(what)


# ---------------------------------------------------------------------------------------------
# JupyterLab servers started like the kit starts them


def kit_lab_args(command: str) -> list[str]:
    """The arguments that `./kit <command>` gives `jupyter lab` (its `"$@"` left out)."""
    text = KIT.read_text().replace("\\\n", " ")
    block = re.search(rf"^\s*{command}\)\n(.*?)^\s*;;", text, re.M | re.S)
    assert block, f"no `{command})` case in {KIT}"
    line = re.search(r"exec jupyter lab (.*?)\"\$@\"", block.group(1))
    assert line, f'`./kit {command}` does not exec `jupyter lab ... "$@"`'
    # Shell expansions (an array of optional flags, say) are the kit's business, not jupyter's;
    # but for `${first}`, the first notebook of the release (sorted), which `./kit student` opens.
    first = sorted(p.name for p in (COURSE_ROOT / "release").glob("*/*.ipynb"))[0]
    args = [arg.replace("${first}", first) for arg in shlex.split(line.group(1))]
    return [arg for arg in args if "$" not in arg]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    base: str  # http://127.0.0.1:PORT
    token: str
    log: Path

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}?token={self.token}"

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (the server shuts its kernels down), then SIGKILL whatever
    is left of it and of its kernels (which jupyter_client starts in sessions of their own)."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    with suppress(ProcessLookupError, psutil.NoSuchProcess):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, psutil.NoSuchProcess):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for child in family:
        with suppress(ProcessLookupError, psutil.NoSuchProcess):
            child.kill()


@contextmanager
def jupyter_lab(kit_command: str, cwd: Path, home: Path) -> Iterator[Lab]:
    """`./kit <kit_command>` in `cwd`: `jupyter lab` with the kit's arguments, plus what a caller would
    append to the kit (a free port, a known token, and --allow-root when run as root). Jupyter's
    own config, runtime and lab-settings folders are private to the test, and the settings say no
    to fetching news."""
    # JupyterLab asks whether to fetch news from jupyter.org: answer no beforehand, in the settings.
    notification = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        *kit_lab_args(kit_command),
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    if os.geteuid() == 0:  # CI containers: jupyter refuses root without it
        command.append("--allow-root")
    log = home / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{lab.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(lab.url("/api/status"), timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab not up after {STARTUP_S} s:\n{lab.log_tail()}", pytrace=False)
            time.sleep(0.25)
        yield lab
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def student_lab(course, tmp_path_factory) -> Iterator[Lab]:
    """`./kit student`: a folder like the repository root (the course's nbgrader_config.py, which
    Validate reads from the server's working directory) whose workspace/ holds a copy of the
    release."""
    root = tmp_path_factory.mktemp("student")
    shutil.copy(course / "nbgrader_config.py", root)
    (root / "workspace").mkdir()
    shutil.copy(course / "release" / ASSIGNMENT / NOTEBOOK, root / "workspace")
    with jupyter_lab("student", root, tmp_path_factory.mktemp("student-jupyter")) as lab:
        yield lab


@pytest.fixture(scope="module")
def formgrader_lab(course, tmp_path_factory) -> Iterator[Lab]:
    """`./kit formgrader` on a copy of the generated course (nbgrader_config.py, gradebook.db,
    release/), since a formgrader may write to the course it serves."""
    root = Path(shutil.copytree(course, tmp_path_factory.mktemp("formgrader") / "course"))
    with jupyter_lab("formgrader", root, tmp_path_factory.mktemp("formgrader-jupyter")) as lab:
        yield lab


# ---------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session", autouse=True)
def browser_requirements() -> None:
    """Checked before anything else is set up (autouse, session scope), so a skip is quick."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require("the playwright package is missing: pip install -e '.[browser]'")
    if not os.access(CHROMIUM, os.X_OK):
        require(f"{CHROMIUM} is missing: apt-get install -y chromium")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile that can reach 127.0.0.1 and nothing else."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
            timeout=UI_MS,
        )
        context.set_default_timeout(UI_MS)
        context.route(
            re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/])[a-z]+://"), lambda route: route.abort()
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser, request):
    """A tab; if the test fails, its last state is saved as failed-<test>.png."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_MS)
    failed_before = request.session.testsfailed
    page = browser.new_page()
    yield page
    if request.session.testsfailed > failed_before:
        shot(page, f"failed-{request.node.name}.png")
    page.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name))


# ---------------------------------------------------------------------------------------------
# The tests


def test_student_sees_unfinished_exercise_and_validate_verdict(student_lab, page, release_nb):
    from playwright.sync_api import expect

    helpers_cell = next(i for i, c in enumerate(release_nb.cells) if is_checks_cell(c))
    value_cell = next(i for i, c in enumerate(release_nb.cells) if "class Value" in c.source)
    first_ex1_test = next(
        i
        for i, c in enumerate(release_nb.cells)
        if nbgrader_meta(c).get("grade") and nbgrader_meta(c)["grade_id"].startswith("ex1_")
    )
    assert helpers_cell < value_cell < first_ex1_test

    # The kit's default_url opens the release notebook.
    page.goto(student_lab.url("/"))
    page.wait_for_url(f"**/lab/tree/{NOTEBOOK}*")
    panel = page.locator(".jp-NotebookPanel")
    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(release_nb.cells))
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")
    validate = panel.locator(".jp-Toolbar .validate-button")
    expect(validate).to_be_visible()
    shot(page, "01-notebook-open.png")

    # The checks and the Value class define; the first ex1 test calls unfinished operators, and
    # every one of its checks says so.
    for index in (helpers_cell, value_cell, first_ex1_test):
        cell = cells.nth(index)
        cell.scroll_into_view_if_needed()
        cell.click(position={"x": 40, "y": 12})  # the prompt area: selects it (the checks' cell is folded)
        page.keyboard.press("Shift+Enter")
        expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]:"))
    for index in (helpers_cell, value_cell):
        expect(cells.nth(index).locator(".jp-OutputArea-output")).to_have_count(0)
    output = cells.nth(first_ex1_test).locator(".jp-OutputArea")  # the summary, then the error
    expect(output).to_contain_text("checks failed")
    expect(output).to_contain_text("sum_data (0/0.25): not written yet (NotImplementedError)")
    output.scroll_into_view_if_needed()
    shot(page, "02-not-implemented.png")

    # Validate saves the notebook, nbgrader runs all of it, and a dialog gives the verdict.
    validate.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results", timeout=VALIDATE_MS)
    verdict = dialog.locator("#validation-message")
    expect(verdict).to_have_class(re.compile(r"\bvalidation-failed\b"))
    failed = verdict.locator("p", has_text="The following cell failed:")
    expect(failed).to_have_count(len(grade_cells(release_nb)))
    expect(verdict).to_contain_text("NotImplementedError")
    shot(page, "03-validate-verdict.png")
    dialog.get_by_role("button", name="Ok").click()
    expect(dialog).to_have_count(0)


def test_formgrader_lists_the_assignment(formgrader_lab, page):
    from playwright.sync_api import expect

    # The kit's default_url is formgrader, which redirects to its assignment list.
    page.goto(formgrader_lab.url("/"))
    page.wait_for_url("**/formgrader/manage_assignments*")
    row = page.locator("#main-table tr", has=page.locator(".name", has_text=ASSIGNMENT))
    expect(row).to_have_count(1)
    expect(row.locator(".name")).to_have_text(ASSIGNMENT)
    shot(page, "04-formgrader.png")
