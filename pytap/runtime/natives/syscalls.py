"""Python twins of the system-call formatting functions
(tapsets/syscall_decoders.stp): errno_str, signal_str, syscall_name and the
private _sc_* argument decoders, for handlers that run in the interpreter.
The tables come from the same generator as the BPF versions."""
from __future__ import annotations

from .. import builtins as _b
from ..builtins import builtin
from .syscall_tables import DECODERS

_MASK64 = (1 << 64) - 1


def _hex(v: int) -> str:
    return "0x%x" % (v & _MASK64)


def _flags(table, v: int) -> str:
    if v == 0:
        for val, name in table:
            if val == 0:
                return name
        return "0x0"
    out = []
    for val, name in table:
        if val and v & val:
            out.append(name)
            v &= ~val
    if v:
        out.append(_hex(v))
    return "|".join(out)


def _value(table, v: int, base) -> str:
    for val, name in table:
        if val == v:
            return name
    if base == 16:
        return _hex(v)
    if base == 10:
        return str(v)
    return ""


def _decoder(name):
    kind, table, mask, base, absval = DECODERS[name]

    def twin(ctx, v):
        if absval:
            v = abs(v)
        if mask is not None:
            v &= mask
        return _flags(table, v) if kind == "flags" else _value(table, v, base)
    twin.__name__ = name
    return twin


for _name in DECODERS:
    builtin(_name)(_decoder(_name))


@builtin("_sc_ustr")
def _sc_ustr(ctx, addr):
    try:
        return _b._user_str(ctx, addr, _b._maxlen(ctx), "user string", None)
    except Exception:
        return ""


@builtin("_sc_ustr_q")
def _sc_ustr_q(ctx, addr):
    try:
        s = _b._user_str(ctx, addr, _b._maxlen(ctx), "user string", None)
    except Exception:
        return _hex(addr)
    return _b._text_strn(ctx, s, 0, 1)


def _times(ctx, uaddr, n, digits):
    if not uaddr or n < 1 or n > 2:
        return "NULL"
    data = _b._read_user(ctx, uaddr, 16 * n)
    if not data or len(data) < 16 * n:
        return _hex(uaddr)
    out = []
    for i in range(n):
        sec = int.from_bytes(data[16 * i:16 * i + 8], "little", signed=True)
        frac = int.from_bytes(data[16 * i + 8:16 * i + 16], "little", signed=True)
        if digits == 9 and frac == (1 << 30) - 1:
            out.append("[UTIME_NOW]")
        elif digits == 9 and frac == (1 << 30) - 2:
            out.append("[UTIME_OMIT]")
        else:
            out.append(f"[{sec}.{frac:0{digits}d}]")
    return "".join(out)


@builtin("_sc_timespec")
def _sc_timespec(ctx, uaddr, n):
    return _times(ctx, uaddr, n, 9)


@builtin("_sc_timeval")
def _sc_timeval(ctx, uaddr, n):
    return _times(ctx, uaddr, n, 6)
