"""A seccomp filter for the sandbox, for the one piece of kernel state namespaces do not separate."""

from __future__ import annotations

import os
import struct

# Linux's key retention service (add_key, request_key, keyctl) keeps per-uid keyrings in the host
# kernel: namespaces do not separate them, and a key can outlive its process and be read by the next
# sandbox. A seccomp filter answers these system calls with EPERM. System call numbers per audit
# architecture (linux/audit.h, and the syscall tables of each architecture):
KEYRING_SYSCALLS = {
    0xC000003E: (248, 249, 250),  # x86_64
    0x40000003: (286, 287, 288),  # i386 (also reachable from x86_64 processes through int 0x80)
    0xC00000B7: (217, 218, 219),  # aarch64
}
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: refused altogether


def seccomp_program() -> bytes:
    """A classic-BPF seccomp filter (struct sock_filter, linux/filter.h; see seccomp(2)) that makes
    the key retention service's system calls fail with EPERM and allows every other one, as bwrap's
    `--seccomp FD` reads it."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, eperm = 0x7FFF0000, 0x00050001  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    nr, arch = 0, 4  # offsets in struct seccomp_data
    code: list[list] = [[ld_abs, 0, 0, arch]]
    for audit_arch, numbers in KEYRING_SYSCALLS.items():
        block = [[ld_abs, 0, 0, nr]]
        if audit_arch == 0xC000003E:
            block.append([jge, "deny", 0, X32_SYSCALL_BIT])
        block += [[jeq, "deny", 0, number] for number in numbers]
        block.append([ret, 0, 0, allow])
        code.append([jeq, 0, len(block), audit_arch])
        code += block
    code += [[ret, 0, 0, allow], [ret, 0, 0, eperm]]
    deny = len(code) - 1
    packed = b""
    for index, (op, jt, jf, k) in enumerate(code):
        jt = deny - index - 1 if jt == "deny" else jt
        packed += struct.pack("=HBBI", op, jt, jf, k)
    return packed


def seccomp_fd() -> int:
    """A file descriptor holding `seccomp_program()`, to pass to bwrap (`--seccomp FD`) and close."""
    fd = os.memfd_create("gradekit-seccomp")
    os.write(fd, seccomp_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
