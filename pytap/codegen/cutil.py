"""Small text helpers for C generation: literals, escapes, identifiers."""
from __future__ import annotations

import re

INT64_MIN = -(1 << 63)

_SIMPLE_ESC = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f",
               "v": "\v", "\\": "\\", '"': '"', "'": "'", "?": "?"}


def unescape(raw: str) -> str:
    """stap string-literal escapes -> text (\\n \\t ... octal \\NNN, hex \\xHH)."""
    try:
        from ..runtime.format import unescape as _u   # the user-space helper's, if present
        return _u(raw)
    except Exception:
        pass
    out = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nx = raw[i + 1]
        if nx in _SIMPLE_ESC:
            out.append(_SIMPLE_ESC[nx])
            i += 2
        elif nx in "01234567":
            m = re.match(r"[0-7]{1,3}", raw[i + 1:])
            out.append(chr(int(m.group(0), 8) & 0xFF))
            i += 1 + len(m.group(0))
        elif nx == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", raw[i + 2:])
            if m:
                out.append(chr(int(m.group(0), 16)))
                i += 2 + len(m.group(0))
            else:
                out.append("x")
                i += 2
        else:
            out.append(nx)
            i += 2
    return "".join(out)


def c_string(text: str) -> str:
    """A C string literal holding `text` (bytes 0..255 as octal escapes)."""
    out = ['"']
    for ch in text:
        o = ord(ch) & 0xFF if ord(ch) < 256 else ord("?")
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 32 <= o < 127:
            out.append(chr(o))
        else:
            out.append("\\%03o" % o)
    out.append('"')
    return "".join(out)


def c_long(v: int) -> str:
    v = ((v + (1 << 63)) % (1 << 64)) - (1 << 63)
    if v == INT64_MIN:
        return "(-9223372036854775807LL - 1)"
    return f"{v}LL"


def c_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def round8(n: int) -> int:
    return (n + 7) // 8 * 8


def printf_escape(text: str) -> str:
    """Literal text inside a printf format (so % survives formatting)."""
    return text.replace("%", "%%")
