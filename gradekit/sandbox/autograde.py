"""The sandbox in nbgrader's autograde: an Execute whose kernels are sandboxed, and an exporter
that refuses to start autograding when the sandbox cannot run (unless allowed).

- `SandboxedExecute` replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`
  (gradekit.grading.judge.JudgedExecute is one). It starts each kernel with `SandboxedKernelManager`.
- `SandboxCheckedExporter`, as `Autograde.exporter_class`, checks the sandbox once before the first
  submission is touched: without a working bwrap, autograding stops with a plain message unless
  `c.Sandbox.allow_unsandboxed = True`.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import Execute

from gradekit.course import load_config
from gradekit.sandbox import forked, warm_parent
from gradekit.sandbox.kernels import SandboxedKernelManager, UnsandboxedKernelManager, protected_paths
from gradekit.sandbox.policy import Sandbox, SandboxUnavailable


class SandboxedExecute(Execute):
    """nbgrader's Execute, with each kernel in a sandbox (use it in Autograde.autograde_preprocessors)."""

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    def preprocess(self, nb, resources=None, km=None):
        sandbox = Sandbox(parent=self)
        if not sandbox.decide(self.log):
            self.kernel_manager_class = UnsandboxedKernelManager
        elif not sandbox.fork_kernels:
            self.kernel_manager_class = SandboxedKernelManager
        else:
            reason = warm_parent.unavailable_reason(kernel_argv(nb, self.kernel_name))
            if reason is not None:
                log_once(self.log.warning, f"Cold kernels, not forked: {reason}")
            else:
                log_once(self.log.info, "Kernels are forked from a warm parent (c.Sandbox.fork_kernels)")
            self.kernel_manager_class = SandboxedKernelManager if reason else forked.ForkedKernelManager
        return super().preprocess(nb, resources, km=km)

    def create_kernel_manager(self):
        # (Not async_start_new_kernel: nbclient's synchronous start_new_kernel, which nbconvert
        # calls, wraps NotebookClient's own coroutine and never reaches an override of it.)
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):  # ForkedKernelManager is one
            km.sandbox_protected = tuple(protected_paths(self.config))
        return km


_logged: set[str] = set()


def log_once(write, message: str) -> None:
    """`write(message)` (a logger's method), once per process (not once per submission)."""
    if message not in _logged:
        _logged.add(message)
        write(message)


def kernel_argv(nb, kernel_name: str = "") -> list[str] | None:
    """The command of the kernelspec that runs notebook `nb` (nbclient's choice: `kernel_name`,
    else the notebook's kernelspec); None if there is no such kernelspec."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3")
    try:
        return KernelSpecManager().get_kernel_spec(name).argv
    except NoSuchKernel:
        return None


def is_sandboxed_execute(preprocessor) -> bool:
    """Whether an autograde step (a dotted name or a class) runs kernels in the sandbox."""
    if isinstance(preprocessor, str):
        from traitlets.utils.importstring import import_item

        try:
            preprocessor = import_item(preprocessor)
        except (ImportError, AttributeError, ValueError):
            return False
    return isinstance(preprocessor, type) and issubclass(preprocessor, SandboxedExecute)


class SandboxCheckedExporter(NotebookExporter):
    """Autograde's exporter (c.Autograde.exporter_class): refuses to start autograding, before any
    submission is touched, when the sandbox cannot run and unsandboxed grading is not allowed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sandbox = Sandbox(parent=self)
        reason = None
        preprocessors = getattr(self.parent, "autograde_preprocessors", None)
        if preprocessors is not None and not any(map(is_sandboxed_execute, preprocessors)):
            reason = (
                "Autograde.autograde_preprocessors runs the kernels with nbgrader's own Execute: "
                "put gradekit.sandbox.SandboxedExecute in its place"
            )
        try:
            if sandbox.decide(self.log, reason):
                self.log.info("Autograding in a bubblewrap sandbox (%s)", sandbox.bwrap_path())
        except SandboxUnavailable as refusal:
            self.log.error(str(refusal))
            raise NbGraderException(str(refusal)) from None


def dotted(preprocessor) -> str:
    if isinstance(preprocessor, str):
        return preprocessor
    return f"{preprocessor.__module__}.{preprocessor.__qualname__}"


def course_autograde_preprocessors(config_file: str | Path) -> list[str]:
    """The autograde steps a course's nbgrader_config.py sets (nbgrader's defaults if it sets none)."""
    from nbgrader.converters import Autograde

    config = load_config(Path(config_file).resolve().parent)
    if "Autograde" in config and "autograde_preprocessors" in config.Autograde:
        steps = config.Autograde.autograde_preprocessors
    else:
        steps = Autograde.class_traits()["autograde_preprocessors"].default()
    return [dotted(step) for step in steps]


def with_sandboxed_execute(preprocessors) -> list[str]:
    """`preprocessors` (names or classes) with nbgrader's Execute replaced by SandboxedExecute."""
    from traitlets.utils.importstring import import_item

    swapped = []
    for step in map(dotted, preprocessors):
        if is_sandboxed_execute(step):
            swapped.append(step)
        elif import_item(step) is Execute:
            swapped.append(dotted(SandboxedExecute))
        else:
            swapped.append(step)
    return swapped
