"""A local demo JupyterHub for the course (`./kit hub`): an instructor and students with real unix
accounts, nbgrader's exchange in a shared folder, students fetching and submitting from
JupyterLab's *Assignments* tab, the instructor grading in formgrader.

    sudo ./kit hub                 # set up (idempotent) and run on http://127.0.0.1:8000
    python -m gradekit hub --setup-only --root /srv/kit-hub --port 8000

What it sets up (as root; every path under `--root`, default /srv/kit-hub):
- a Python environment readable by every account (`venv/`): exactly the kit's uv.lock with the
  `hub` extra, built with Debian's /usr/bin/python3 (the kit's own .venv may sit under a home only
  root can enter), the kit installed into it as a package;
- configurable-http-proxy from npm (`proxy/`, pinned `CHP_VERSION`);
- the unix accounts (`useradd`, home 0700, the demo password `PASSWORD` by `chpasswd`): one
  instructor, whose home holds the course (`~/mini_auto_grad/`: the kit's nbgrader_config.py and
  source/), and the students;
- nbgrader's exchange (`exchange/`, mode 1777: nbgrader needs it world-writable, the sticky bit
  keeps one account from renaming another's folders), and each account's ~/.jupyter: the course id
  and exchange (nbgrader_config.py), for students formgrader and the assignment creator turned off
  (the server and the lab extensions), for the instructor the course root;
- jupyterhub_config.py: PAM login (the unix passwords), one single-user server per account run as
  that account (LocalProcessSpawner), JupyterLab, everything on 127.0.0.1.

A production hub changes: the authenticator (the university's: OAuth/LTI/LDAP), the spawner
(containers, e.g. DockerSpawner or KubeSpawner, with the exchange as a shared volume), the exchange
path (shared storage mounted at the same path for every server), the course id, and TLS in front
of the proxy. Autograding still needs bubblewrap on the machine that grades (docs/hub.md).
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from gradekit.course import course_id
from gradekit.course.notebooks import COURSE_ROOT, assignments

CHP_VERSION = "5.3.0"  # configurable-http-proxy, from npm
PASSWORD = "kit-demo-2026"  # every demo account's; the hub listens on 127.0.0.1 only
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: readable by every account
STUDENT_OFF = {  # what a student's JupyterLab does not load
    "server": ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"],
    "lab": [
        "@jupyter/nbgrader:formgrader",
        "@jupyter/nbgrader:create-assignment",
        "@jupyter/nbgrader:course-list",
    ],
}


class HubError(RuntimeError):
    """The hub cannot be set up here; the message says what is missing and how to get it."""


@dataclass
class Hub:
    """One demo hub: where it lives, its port (the proxy's; the hub's own API and the proxy's API
    use the next two), and its accounts."""

    root: Path = Path("/srv/kit-hub")
    port: int = 8000
    instructor: str = "kit-instructor"
    students: tuple[str, ...] = ("kit-student1", "kit-student2", "kit-student3")
    password: str = PASSWORD
    repo: Path = field(default=COURSE_ROOT)  # the course served: its nbgrader_config.py and source/
    grade_on_submit: bool = False  # the grading service (gradekit.hub.grading_service) as a managed service

    @property
    def course_id(self) -> str:
        """The served course's `c.CourseDirectory.course_id` (its folder's name if unset)."""
        return course_id(self.repo)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def exchange(self) -> Path:
        return self.root / "exchange"

    @property
    def proxy(self) -> Path:
        return self.root / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def config(self) -> Path:
        return self.root / "jupyterhub_config.py"

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.instructor, *self.students)

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    @property
    def course(self) -> Path:
        """The instructor's course root."""
        return self.home(self.instructor) / self.course_id


# ---------------------------------------------------------------------------------------------
# Setting up


def _run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode:
        raise HubError(f"{' '.join(map(str, argv))} failed ({result.returncode}): {result.stderr[-2000:]}")


def check_machine() -> None:
    """Raises HubError unless this process may set up a hub: root, useradd, npm, Debian's Python."""
    if os.geteuid() != 0:
        raise HubError(
            "the demo hub creates unix accounts and runs their servers: run it as root (sudo ./kit hub)"
        )
    for tool, package in (("useradd", "passwd"), ("chpasswd", "passwd"), ("npm", "npm")):
        if shutil.which(tool) is None:
            raise HubError(f"{tool} is missing: apt-get install {package}")
    if not Path(SYSTEM_PYTHON).exists():
        raise HubError(f"{SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv")


def uv_binary(repo: Path) -> Path:
    """The kit's pinned uv (`./kit` installs it into .tools/)."""
    found = sorted(repo.glob(".tools/uv-*/bin/uv"))
    if not found:
        raise HubError(f"no uv in {repo}/.tools: run ./kit once (it installs the pinned uv)")
    return found[-1]


def build_environment(hub: Hub) -> None:
    """`venv/`: uv.lock with the hub extra, the kit as a package, for Debian's Python."""
    hub.root.mkdir(parents=True, exist_ok=True)
    hub.root.chmod(0o755)
    shared_environment(hub.repo, hub.venv, extra="hub")


def shared_environment(repo: Path, venv: Path, extra: str) -> None:
    """An environment at `venv` that every account can use: uv.lock with `extra`, the kit in
    `repo` installed as a package (not editable: `repo` may sit in a home only its owner reads),
    Debian's Python, bytecode compiled (the accounts cannot write __pycache__ there).
    Raises HubError if uv fails."""
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON_DOWNLOADS="never")
    _run(
        [
            str(uv_binary(repo)),
            "sync",
            "--locked",
            "--no-editable",
            "--extra",
            extra,
            "--python",
            SYSTEM_PYTHON,
            "--compile-bytecode",
            "--quiet",
        ],
        cwd=repo,
        env=env,
    )
    lock = venv / ".lock"  # uv makes it 0666: an account holding it would stall the next setup
    if lock.exists():
        lock.chmod(0o600)


def install_proxy(hub: Hub) -> None:
    if hub.proxy.exists():
        return
    _run(
        [
            "npm",
            "install",
            "--prefix",
            str(hub.root / "proxy"),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"configurable-http-proxy@{CHP_VERSION}",
        ]
    )


def create_accounts(hub: Hub) -> None:
    """Each account with a private home (0700: nbgrader issue #1711) and the demo password."""
    for user in hub.accounts:
        try:
            pwd.getpwnam(user)
        except KeyError:
            _run(["useradd", "--create-home", "--shell", "/bin/bash", user])
        hub.home(user).chmod(0o700)
    lines = "".join(f"{user}:{hub.password}\n" for user in hub.accounts)
    _run(["chpasswd"], input=lines)


def write_as(user: str, path: Path, text: str, mode: int = 0o644) -> None:
    """Write `path` (and its missing folders) owned by `user`."""
    info = pwd.getpwnam(user)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent
    while folder != Path(info.pw_dir) and Path(info.pw_dir) in folder.parents:
        os.chown(folder, info.pw_uid, info.pw_gid)
        folder = folder.parent
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    os.chown(path, info.pw_uid, info.pw_gid)


def chown_tree(root: Path, user: str) -> None:
    """`root` and the folders and files in it owned by `user`."""
    info = pwd.getpwnam(user)
    for folder, _dirs, files in os.walk(root):
        os.chown(folder, info.pw_uid, info.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), info.pw_uid, info.pw_gid)


def configure_nbgrader(hub: Hub) -> None:
    """The exchange, the instructor's course, and every account's ~/.jupyter."""
    hub.exchange.mkdir(parents=True, exist_ok=True)
    hub.exchange.chmod(0o1777)
    # The course's folder exists before any student can make it (or a link in its place): a
    # student's folder there would stop the instructor's release, a link would redirect it.
    instructor = pwd.getpwnam(hub.instructor)
    course_folder = hub.exchange / hub.course_id
    if not course_folder.exists() and not course_folder.is_symlink():
        course_folder.mkdir(mode=0o755)
        os.chown(course_folder, instructor.pw_uid, instructor.pw_gid)
    info = os.lstat(course_folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != instructor.pw_uid:
        raise HubError(
            f"{course_folder} is not the instructor's folder: remove it (as root) and set up again"
        )
    common = textwrap.dedent(f"""\
        # written by gradekit.hub: the course every account takes part in
        c = get_config()  # noqa: F821
        c.CourseDirectory.course_id = {hub.course_id!r}
        c.Exchange.root = {str(hub.exchange)!r}
        """)
    course = hub.course
    if not (course / "source").exists():
        course.mkdir(parents=True, exist_ok=True)
        shutil.copy(hub.repo / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(hub.repo / "source", course / "source")
        chown_tree(course, hub.instructor)
    home = hub.home(hub.instructor)
    write_as(
        hub.instructor,
        home / ".jupyter" / "nbgrader_config.py",
        common
        + textwrap.dedent(f"""\
            # the instructor: formgrader and the command line work on the course in ~/{hub.course_id}
            load_subconfig({str(course / "nbgrader_config.py")!r})  # noqa: F821
            c.CourseDirectory.root = {str(course)!r}
            c.Exchange.root = {str(hub.exchange)!r}
            """),
    )
    import json

    for student in hub.students:
        home = hub.home(student)
        write_as(student, home / ".jupyter" / "nbgrader_config.py", common)
        server = {"ServerApp": {"jpserver_extensions": dict.fromkeys(STUDENT_OFF["server"], False)}}
        write_as(student, home / ".jupyter" / "jupyter_server_config.json", json.dumps(server, indent=1))
        page = {"disabledExtensions": dict.fromkeys(STUDENT_OFF["lab"], True)}
        write_as(student, home / ".jupyter" / "labconfig" / "page_config.json", json.dumps(page, indent=1))


def write_hub_config(hub: Hub) -> None:
    bin_path = f"{hub.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    text = textwrap.dedent(f"""\
        # written by gradekit.hub (`./kit hub`): a local demo hub; docs/hub.md says what production changes
        c = get_config()  # noqa: F821
        c.JupyterHub.bind_url = "http://127.0.0.1:{hub.port}"
        c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub.port + 1}"
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{hub.port + 2}"
        c.ConfigurableHTTPProxy.command = [{str(hub.proxy)!r}]
        c.JupyterHub.db_url = "sqlite:///{hub.root / "jupyterhub.sqlite"}"
        c.JupyterHub.cookie_secret_file = {str(hub.root / "jupyterhub_cookie_secret")!r}
        c.JupyterHub.authenticator_class = "pam"
        c.Authenticator.allowed_users = {set(hub.accounts)!r}
        c.Authenticator.admin_users = {{{hub.instructor!r}}}
        c.JupyterHub.spawner_class = "localprocess"
        c.Spawner.cmd = [{str(hub.venv / "bin" / "jupyterhub-singleuser")!r}]
        c.Spawner.default_url = "/lab"
        c.Spawner.environment = {{"PATH": {bin_path!r}}}
        c.Spawner.start_timeout = 120
        c.Spawner.http_timeout = 120
        """)
    if hub.grade_on_submit:
        text += grading_service_config(hub)
    hub.config.write_text(text, encoding="utf-8")
    hub.config.chmod(0o600)
    database = hub.root / "jupyterhub.sqlite"  # the hub's users, cookies, OAuth codes: root only
    database.touch(mode=0o600)
    database.chmod(0o600)


def grading_service(hub: Hub) -> dict:
    """The grading service as a JupyterHub managed service: the hub starts it as the instructor,
    on the instructor's course, and starts it again if it ends."""
    return {
        "name": "grading",
        "command": [
            str(hub.venv / "bin" / "python"),
            "-m",
            "gradekit",
            "grade-on-submit",
            "--course",
            str(hub.course),
        ],
        "user": hub.instructor,
        "cwd": str(hub.course),
        "environment": {"PATH": f"{hub.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"},
    }


def grading_service_config(hub: Hub) -> str:
    return f"c.JupyterHub.services = [{grading_service(hub)!r}]\n"


def setup(hub: Hub) -> None:
    """Everything `run` needs; running it again changes nothing that is already right.
    Raises HubError (not root, a tool missing, a step failing)."""
    check_machine()
    build_environment(hub)
    install_proxy(hub)
    create_accounts(hub)
    configure_nbgrader(hub)
    write_hub_config(hub)


def command(hub: Hub) -> list[str]:
    return [str(hub.venv / "bin" / "jupyterhub"), "-f", str(hub.config)]


def remove_accounts(hub: Hub) -> None:
    """Delete the hub's accounts and their homes (the tests' clean-up)."""
    for user in hub.accounts:
        subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
        subprocess.run(["userdel", "--remove", user], capture_output=True)


def banner(hub: Hub) -> str:
    roles = {user: "student" for user in hub.students}
    roles[hub.instructor] = f"instructor (formgrader: {hub.url}/user/{hub.instructor}/formgrader)"
    accounts = "\n".join(f"  {user:16} {roles[user]}" for user in hub.accounts)
    return (
        f"demo JupyterHub: {hub.url}  (local only)\n"
        f"accounts, password {hub.password!r} for all:\n{accounts}\n"
        f"course: {hub.course} ({', '.join(assignments(hub.repo))}); exchange: {hub.exchange}\n"
        "Ctrl-C stops it."
    )


def hub_command(args) -> int:
    """`python -m gradekit hub`: set up and run the demo hub (root)."""
    hub = Hub(root=args.root.resolve(), port=args.port, grade_on_submit=args.grade_on_submit)
    try:
        setup(hub)
    except HubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(banner(hub), flush=True)
    if args.setup_only:
        return 0
    os.chdir(hub.root)
    os.execv(command(hub)[0], command(hub))
