"""Twins of tapsets/session.stp: this run's module name and sizes, output
file switching, and the kernel-stack position (BPF only)."""
from __future__ import annotations

import os
import zlib

from ..builtins import BUILTINS, _kernel_only, builtin


def _output(ctx):
    """The run's Output (runtime/lifecycle.py), if the handler writes to one."""
    interp = getattr(ctx, "interp", None) if ctx is not None else None
    write = getattr(interp, "write", None)
    return getattr(write, "__self__", None)


def _script_name(ctx) -> str:
    interp = getattr(ctx, "interp", None) if ctx is not None else None
    script = getattr(getattr(interp, "session", None), "script", None)
    return getattr(script, "name", "") or ""


@builtin()
def module_name(ctx):
    return "stap_%x_%d" % (zlib.crc32(_script_name(ctx).encode()), os.getpid())


def _bpf_memlock() -> tuple:
    """memlock bytes of this process's BPF maps and programs (/proc fdinfo)."""
    maps = progs = 0
    base = "/proc/self/fdinfo"
    try:
        fds = os.listdir(base)
    except OSError:
        return 0, 0
    for fd in fds:
        try:
            with open(f"{base}/{fd}") as f:
                text = f.read()
        except OSError:
            continue
        mem = 0
        for line in text.splitlines():
            if line.startswith("memlock:"):
                try:
                    mem = int(line.split()[1])
                except (IndexError, ValueError):
                    pass
        if "map_type:" in text:
            maps += mem
        elif "prog_type:" in text:
            progs += mem
    return maps, progs


@builtin()
def module_size(ctx):
    data, text = _bpf_memlock()
    return "%ddata/%dtext/%dctx/%dnet/%dalloc kb" % (data // 1024, text // 1024, 0, 0, 0)


@builtin()
def switch_file(ctx):
    out = _output(ctx)
    if out is not None and hasattr(out, "switch_file"):
        out.switch_file()
    return 0


@builtin()
def stack_size(ctx):
    return 16384


BUILTINS["stack_used"] = _kernel_only("stack_used")
BUILTINS["stack_unused"] = _kernel_only("stack_unused")
