"""Twins of tapsets/memory.stp's kernel readers (kernel_string,
kernel_string_n, kernel_long, kernel_int) for handlers the interpreter
runs: the bytes come through runtime/kmem.py (a BPF program run on
demand); an address it cannot read is stap's copy fault."""
from __future__ import annotations

from ..builtins import _fault, _maxlen, builtin
from ..format import from_bytes
from ..kmem import read_kernel


def _kstr(ctx, addr, n, err):
    data = read_kernel(addr, n + 1, string=True) if n > 0 else b""
    if data is None:
        if err is not None:
            return err
        raise _fault("kernel string", addr)
    return from_bytes(data[:n])


@builtin()
def kernel_string(ctx, addr, *err):
    return _kstr(ctx, addr, _maxlen(ctx), err[0] if err else None)


@builtin()
def kernel_string_n(ctx, addr, n, *err):
    return _kstr(ctx, addr, max(0, min(n, _maxlen(ctx))), err[0] if err else None)


def _knum(addr, size, kind):
    data = read_kernel(addr, size)
    if data is None or len(data) < size:
        raise _fault(kind, addr)
    return int.from_bytes(data, "little", signed=True)


@builtin()
def kernel_long(ctx, addr):
    return _knum(addr, 8, "kernel long")


@builtin()
def kernel_int(ctx, addr):
    return _knum(addr, 4, "kernel int")
