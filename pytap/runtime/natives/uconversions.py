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


def _kernel_fault(kind):
    def twin(ctx, addr, *rest):
        raise _fault(kind, addr)
    return twin


for _kind in ("char", "short", "pointer"):
    builtin(f"kernel_{_kind}")(_kernel_fault(f"kernel {_kind}"))
builtin("__pytap_kernel_buffer")(_kernel_fault("kernel buffer"))


def _wide(ctx, addr, unit, err):
    """Code units until a 0 unit, decoded (utf-16-le / utf-32-le) to text of
    at most MAXSTRINGLEN - 1 UTF-8 bytes."""
    limit = (ctx.interp.maxstringlen if ctx is not None and ctx.interp is not None else 128) - 1
    data = _read_user(ctx, addr, limit * unit) if addr else None
    if not data:
        if err is not None:
            return err
        raise _fault("user string", addr)
    units = [data[i:i + unit] for i in range(0, len(data) - unit + 1, unit)]
    end = next((i for i, u in enumerate(units) if u == b"\0" * unit), len(units))
    raw = b"".join(units[:end])
    text = raw.decode("utf-16-le" if unit == 2 else "utf-32-le", errors="replace")
    enc = text.encode("utf-8")[:limit]
    return from_bytes(enc.decode("utf-8", errors="ignore").encode("utf-8"))


@builtin()
def user_string_utf16(ctx, addr, *err):
    return _wide(ctx, addr, 2, err[0] if err else None)


@builtin()
def user_string_utf32(ctx, addr, *err):
    return _wide(ctx, addr, 4, err[0] if err else None)
