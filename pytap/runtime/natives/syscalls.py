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


def _sigset(table, v: int) -> str:
    names = [n for bit, n in table if v & bit]
    return "[" + "|".join(names) + "]" if names else "[EMPTY]"


def _decoder(name):
    kind, table, mask, base, absval = DECODERS[name]

    def twin(ctx, v):
        if absval:
            v = abs(v)
        if mask == "s32":
            v = ((v & 0xffffffff) ^ 0x80000000) - 0x80000000
        elif mask is not None:
            v &= mask
        if kind == "sigset":
            return _sigset(table, v)
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


@builtin("_sc_stp_sigset_u")
def _sc_stp_sigset_u(ctx, uaddr):
    if not uaddr:
        return "NULL"
    data = _b._read_user(ctx, uaddr, 8)
    if not data or len(data) < 8:
        return _hex(uaddr)
    return _sigset(DECODERS["_sc_sigset_bits"][1], int.from_bytes(data, "little"))


@builtin("_sc_fildes_index_u")
def _sc_fildes_index_u(ctx, uaddr, index):
    if not uaddr or index not in (0, 1):
        return 0
    data = _b._read_user(ctx, uaddr, 8)
    if not data or len(data) < 8:
        return 0
    return int.from_bytes(data[4 * index:4 * index + 4], "little", signed=True)


def _s32(v: int) -> int:
    v &= 0xffffffff
    return v - (1 << 32) if v & 0x80000000 else v


@builtin("_sc_ustruct")
def _sc_ustruct(ctx, uaddr, kind):
    """rlimit (1), itimerspec (2), itimerval (3), timezone (4): see
    tapsets/syscall_decoders.stp."""
    if not uaddr:
        return "NULL"
    size = {1: 16, 4: 8}.get(kind, 32)
    data = _b._read_user(ctx, uaddr, size)
    if not data or len(data) < size:
        return _hex(uaddr)
    if kind == 4:
        a, b = (int.from_bytes(data[i:i + 4], "little", signed=True) for i in (0, 4))
        return f"[{a}, {b}]"
    w = [int.from_bytes(data[i:i + 8], "little", signed=True) for i in range(0, size, 8)]
    if kind == 1:
        return f"[{w[0]},{w[1]}]"
    w = [_s32(x) for x in w]
    return f"[{w[0]}.{w[1]:06d},{w[2]}.{w[3]:06d}]"


@builtin("_sc_uload")
def _sc_uload(ctx, addr, size, ok):
    n = {1: 1, 2: 2, 4: 4}.get(size, 8)
    data = _b._read_user(ctx, addr, n)
    good = bool(data) and len(data) == n
    if ok:
        return 1 if good else 0
    return int.from_bytes(data, "little") if good else 0


_SHORT_ESC = {7: "a", 8: "b", 12: "f", 10: "n", 13: "r", 9: "t", 11: "v", 34: '"', 92: "\\"}


@builtin("_sc_user_buffer_quoted")
def _sc_user_buffer_quoted(ctx, addr, inlen, outlen):
    """stap's user_buffer_quoted (see tapsets/syscall_decoders.stp)."""
    msl = _b._maxlen(ctx) + 1
    if outlen <= 0:
        return ""
    if inlen <= 0 or inlen > msl - 1:
        inlen = msl - 1
    budget = min(outlen, msl - 1)
    data = _b._read_user(ctx, addr, inlen)
    if not data or len(data) < inlen:
        return _hex(addr)
    budget = max(budget, 5) - 2
    out = '"'
    left, esc, esc_len, c = inlen, -1, 0, 0
    for b in data:
        c = b
        if budget <= 0:
            break
        left -= 1
        if 32 <= b <= 126 and b not in (34, 92):
            num, text = 1, chr(b)
        else:
            short = _SHORT_ESC.get(b)
            num = 2 if short else 4
            text = "\\" + short if short else ("\\0" if b == 0 else "\\%03o" % b)
            if esc < 0 and budget - 3 < num:
                esc, esc_len = len(out), num
        if budget < num:
            break
        out += text
        budget -= num
    if c and left > 0:
        t = len(out) - 3 + budget
        if esc >= 0 and esc < t < esc + esc_len:
            t = esc
        return out[:max(t, 1)] + '"...'
    return out + '"'


@builtin("_sc_stp_xattr_val_str")
def _sc_stp_xattr_val_str(ctx, uaddr, size):
    """stap's _stp_xattr_val_str (see tapsets/syscall_decoders.stp)."""
    n = 50 if size < 0 or size > 50 else size
    data = _b._read_user(ctx, uaddr, n) if uaddr and n else None
    if not data or len(data) < n:
        return _hex(uaddr)
    budget = _b._maxlen(ctx) + 1 - 3
    out, i = '"', 0
    while i < n:
        c = data[i]
        if 32 <= c <= 126:
            budget -= 1
            out += chr(c)
        else:
            if budget < 4:
                break
            budget -= 4
            out += "\\x%02x" % c
        if budget == 0:
            break
        i += 1
    if i > 1 and data[i - 1] == 0 and 32 <= data[i - 2] <= 126 and len(out) > 4:
        out = out[:-4]
    return out + '"'
