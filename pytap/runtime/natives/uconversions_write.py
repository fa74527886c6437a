"""Twins of tapsets/uconversions_write.stp: writing the probed process's
memory through /proc/PID/mem when a handler runs in user space."""
from __future__ import annotations

from ..builtins import builtin
from ..errors import ScriptRuntimeError


def _write(ctx, addr, data: bytes, what: str) -> int:
    pid = getattr(ctx, "pid", 0) if ctx is not None else 0
    try:
        if not pid or not addr:
            raise OSError
        with open(f"/proc/{pid}/mem", "r+b", buffering=0) as f:
            f.seek(int(addr) & ((1 << 64) - 1))
            f.write(data)
    except (OSError, ValueError, OverflowError):
        raise ScriptRuntimeError(f"user {what} copy fault at 0x{int(addr) & ((1 << 64) - 1):x} "
                                 "[man error::fault]")
    return 0


def _setter(name, size):
    def twin(ctx, addr, val):
        return _write(ctx, addr, (int(val) & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), name)
    twin.__name__ = f"set_user_{name}"
    return twin


for _name, _size in (("char", 1), ("short", 2), ("int", 4), ("long", 8), ("pointer", 8)):
    builtin(f"set_user_{_name}")(_setter(_name, _size))


def _string_bytes(ctx, val, n) -> bytes:
    msl = ctx.interp.maxstringlen if ctx is not None and getattr(ctx, "interp", None) else 128
    raw = str(val).encode("utf-8", "surrogateescape")
    cap = max(1, min(int(n) + 1, msl))
    return raw[:cap - 1] + b"\0" if len(raw) + 1 > cap else raw + b"\0"


@builtin()
def set_user_string(ctx, addr, val):
    return _write(ctx, addr, _string_bytes(ctx, val, 1 << 30), "string")


@builtin()
def set_user_string_n(ctx, addr, n, val):
    return _write(ctx, addr, _string_bytes(ctx, val, n), "string")
