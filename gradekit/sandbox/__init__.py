"""Grade untrusted code: every student process of `nbgrader autograde` runs in a bubblewrap sandbox.

How it plugs into nbgrader (see docs/sandbox.md for the whole story):

- `SandboxedExecute` replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`. It starts
  each kernel with `SandboxedKernelManager`, which wraps the kernelspec's command in `bwrap`.
- `SandboxCheckedExporter`, as `Autograde.exporter_class`, checks the sandbox once before the first
  submission is touched: without a working bwrap, autograding stops with a plain message unless
  `c.Sandbox.allow_unsandboxed = True`.

Inside the sandbox the kernel sees the Python runtime (read-only), a size-limited scratch tmpfs at
its working directory holding the submission's files (read-only), a size-limited /tmp, and nothing
else of the host: no course directory, no gradebook, no home directory, no network (a new network
namespace), no other process (a new PID namespace). Resource limits (address space, CPU time,
processes and threads, file size, open files) are set with `prlimit` inside the sandbox. As root,
the kernel also drops to an unprivileged uid of its own (`setpriv`), because the kernel does not
enforce RLIMIT_NPROC for root; as any other user, the kernel runs in a new user namespace, where
the process count is per sandbox.

The kernel talks to nbgrader over ZeroMQ IPC sockets that live in a tmpfs inside the sandbox:
nbgrader reaches them through `/proc/<sandbox pid>/root/...`, so no host directory is writable
from inside.

Modules:
- `policy`: the configuration (`c.Sandbox.*`), the limits, availability, the one refuse-unless-sandboxed rule;
- `bwrap`: the bubblewrap command: mounts, the submission's folder, namespaces, the privilege drop;
- `seccomp`: the seccomp filter for the one piece of kernel state namespaces do not separate;
- `kernels`: jupyter_client kernel managers whose kernel runs inside bwrap;
- `forked`: kernels forked warm into their sandbox, the grader's side (`c.Sandbox.fork_kernels`);
- `warm_parent`: the warm parent, started, asked to fork and stopped by the grader;
- `warm`: the warm parent itself, that forks them (run as a script; standard library only);
- `ready`: the kernel client that is ready as soon as a forked kernel is;
- `kernel_tuning`: run inside a grading kernel (shipped there by gradekit.channel.boot): two of
  ipykernel's per-cell waits for nothing dropped, outputs unchanged;
- `autograde`: the nbgrader glue (`SandboxedExecute`, `SandboxCheckedExporter`).
"""

import os

from gradekit.sandbox.autograde import (
    SandboxCheckedExporter,
    SandboxedExecute,
    course_autograde_preprocessors,
    is_sandboxed_execute,
    with_sandboxed_execute,
)
from gradekit.sandbox.bwrap import KERNEL_DIR, bwrap_version
from gradekit.sandbox.kernels import SandboxedKernelManager, UnsandboxedKernelManager, protected_paths, quiet
from gradekit.sandbox.policy import ALLOW_ENV, GiB, MiB, Sandbox, SandboxUnavailable
from gradekit.sandbox.seccomp import seccomp_fd, seccomp_program

__all__ = [
    "ALLOW_ENV",
    "KERNEL_DIR",
    "GiB",
    "MiB",
    "Sandbox",
    "SandboxCheckedExporter",
    "SandboxUnavailable",
    "SandboxedExecute",
    "SandboxedKernelManager",
    "UnsandboxedKernelManager",
    "course_autograde_preprocessors",
    "is_sandboxed_execute",
    "protected_paths",
    "quiet",
    "sandbox_command",
    "seccomp_fd",
    "seccomp_program",
    "with_sandboxed_execute",
]


def sandbox_command(args=None) -> int:
    """`python -m gradekit sandbox`: can this machine run sandboxed kernels? (for grading nodes)"""
    sandbox = Sandbox()
    reason = sandbox.unavailable_reason()
    if reason:
        print(f"sandbox: NOT available: {reason}")
        return 1
    bwrap = sandbox.bwrap_path()
    version = ".".join(map(str, bwrap_version(bwrap)))
    mode = "root: kernels drop to a uid of their own" if os.geteuid() == 0 else "user namespaces"
    print(f"sandbox: available (bwrap {version} at {bwrap}; {mode})")
    return 0
