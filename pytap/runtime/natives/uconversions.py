"""Twins of tapsets/uconversions.stp: user memory of the event's process
through /proc/PID/mem (runtime/builtins.py has the shared readers)."""
from __future__ import annotations

from ..builtins import _read_user, _user_num, builtin, from_bytes, _fault

_TYPES = {"char": (1, True), "short": (2, True), "ushort": (2, False), "int": (4, True),
          "long": (8, True), "ulong": (8, False), "int8": (1, True), "uint8": (1, False),
          "int16": (2, True), "uint16": (2, False), "int32": (4, True), "uint32": (4, False),
          "int64": (8, True), "uint64": (8, False)}


def _reader(name, size, signed):
    def twin(ctx, addr):
        v = _user_num(ctx, addr, size, f"user {name}")
        if not signed and v < 0:
            v += 1 << (size * 8)
        return v - (1 << 64) if v >= 1 << 63 else v
    return twin


for _name, (_size, _signed) in _TYPES.items():
    builtin(f"user_{_name}_error")(_reader(_name, _size, _signed))


@builtin("__pytap_user_buffer")
def user_buffer(ctx, addr, inlen):
    n = max(0, min(inlen, 127))
    if n == 0:
        return ""
    data = _read_user(ctx, addr, n) if addr else None
    if not data:
        raise _fault("user buffer", addr)
    nul = data.find(b"\0")
    return from_bytes(data if nul < 0 else data[:nul])


@builtin("__pytap_maxstringlen")
def maxstringlen(ctx):
    return ctx.interp.maxstringlen if ctx is not None and ctx.interp is not None else 128
