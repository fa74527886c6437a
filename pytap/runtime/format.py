"""stap's printf family and string-literal escapes, in Python.

Semantics follow SystemTap's run-time vsprintf (read for behaviour):
- every integer conversion is 64-bit: %d/%i signed, %u/%x/%X/%o print the
  value's two's-complement u64 pattern;
- %p is `%#x` (stap >= 1.3): "0x" then lower-case hex, no zero fill;
- %s takes a precision as the maximum length; '#' changes nothing for %s
  (stap 4.8's runtime copies the bytes as they are), and the '0' flag on
  %s/%m/%M appends a NUL byte after the field, as stap's runtime does;
- %m/%M take an address in the script; here they format the bytes already
  read (a str): `precision` bytes (1 without), %M as hex pairs;
- %c prints the low byte of a number; with `#` it escapes non-printables;
- %b writes the raw little-endian bytes of the value (width/precision 1, 2,
  4 or 8, default 8); bytes >= 0x80 come back as surrogateescape characters
  (see to_bytes), which the output writer turns back into those bytes;
- `*` takes the width/precision from the next argument; a negative `*`
  width means left-justify;
- an unknown conversion prints itself (`%q` -> "%q").
Values are Python ints (s64) and strs.
"""
from __future__ import annotations

import struct
from typing import List, Sequence

from .errors import ScriptRuntimeError

MASK64 = (1 << 64) - 1

_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f",
    "v": "\v", "\\": "\\", '"': '"', "'": "'", "?": "?",
}


def to_bytes(text: str) -> bytes:
    """The bytes a script string stands for.  Strings read from BPF are
    decoded as UTF-8 with surrogateescape, so stray bytes survive; the
    output writer encodes the same way."""
    return text.encode("utf-8", "surrogateescape")


def from_bytes(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def to_s64(v: int) -> int:
    """Wrap a Python int to a signed 64-bit value."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


def to_u64(v: int) -> int:
    return v & MASK64


def unescape(raw: str) -> str:
    """Turn a string literal's text (escapes as written) into its value.

    stap hands literals to C unchanged, so C's rules apply: \\n \\t ...,
    \\ooo (1-3 octal digits), \\xHH; an unknown escape yields the character
    itself.  A NUL ends the C string, so the value stops there.  Escapes
    make bytes: "\\303\\251" is the same string as "é"."""
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != "\\" or i + 1 >= n:
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out += _SIMPLE_ESCAPES[nxt].encode()
            i += 2
        elif nxt in "01234567":
            j = i + 1
            while j < n and j < i + 4 and raw[j] in "01234567":
                j += 1
            out.append(int(raw[i + 1:j], 8) & 0xFF)
            i = j
        elif nxt == "x" and i + 2 < n and raw[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < n and j < i + 4 and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(raw[i + 2:j], 16))
            i = j
        else:
            out += nxt.encode("utf-8", "surrogateescape")
            i += 2
    nul = out.find(0)
    if nul >= 0:
        del out[nul:]
    return from_bytes(bytes(out))


def escape(text: str) -> str:
    """Inverse of unescape for printing string values in quotes (the exit
    report of unread globals)."""
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append("\\%03o" % o)
        else:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------ conversions

def _number(num: int, base: int, width: int, precision: int, flags: str,
            signed: bool, upper: bool = False, special: bool = False) -> str:
    """stap's number(): sign, 0x / 0 prefix, precision zeros, padding."""
    left = "-" in flags
    zeropad = "0" in flags and not left
    size = width
    sign = ""
    if signed:
        num = to_s64(num)
        if num < 0:
            sign = "-"
            num = -num
        elif "+" in flags:
            sign = "+"
        elif " " in flags:
            sign = " "
        if sign:
            size -= 1
    else:
        num = to_u64(num)
    prefix = ""
    if special:
        if base == 16:
            size -= 2
            prefix = "0X" if upper else "0x"
        elif base == 8:
            size -= 1
            prefix = "0"
    if base == 10:
        digits = str(num)
    elif base == 16:
        digits = format(num, "X" if upper else "x")
    else:
        digits = format(num, "o")
    precision = max(precision, len(digits))
    size -= precision
    out = []
    if not zeropad and not left and size > 0:
        out.append(" " * size)
        size = 0
    out.append(sign)
    out.append(prefix)
    if not left and size > 0:
        out.append("0" * size)   # zeropad here (left/plain already consumed)
        size = 0
    out.append("0" * (precision - len(digits)))
    out.append(digits)
    if size > 0:
        out.append(" " * size)
    return "".join(out)


def _char(c: int, width: int, flags: str) -> str:
    byte = c & 0xFF
    ch = chr(byte)
    body = from_bytes(bytes([byte]))      # one raw byte, even >= 0x80
    if "#" in flags and (not (0x20 <= byte < 0x7F) or ch in "'\\"):
        esc = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r",
               "\t": "t", "\v": "v", "'": "'", "\\": "\\"}.get(ch)
        body = "\\" + esc if esc else "\\%03o" % byte
    pad = " " * max(0, width - len(body))
    return body + pad if "-" in flags else pad + body


def text_escape(s: str) -> str:
    """stap's _stp_text_str escaping (text_str(), "%#s"): printable ASCII
    stays, the C short escapes for \\a \\b \\f \\n \\r \\t \\v \\" \\\\,
    three-digit octal for other bytes."""
    out = []
    for ch in s:
        o = ord(ch)
        if 0x20 <= o < 0x7F and ch not in '"\\':
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append("\\" + _SHORT_ESCAPES[ch])
        elif 0xDC80 <= o <= 0xDCFF:
            # a byte that was not valid UTF-8 (surrogateescape): octal
            out.append("\\%03o" % (o - 0xDC00))
        elif o >= 0x80:
            # a decoded UTF-8 character: stap prints \\uXXXX / \\UXXXXXXXX
            out.append("\\u%04x" % o if o <= 0xFFFF else "\\U%08x" % o)
        else:
            out.append("\\%03o" % o)
    return "".join(out)


_SHORT_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r",
                  "\t": "t", "\v": "v", '"': '"', "\\": "\\"}


def _memory(s: str, conv: str, width: int, precision: int, flags: str) -> str:
    if conv == "s":
        if s.isascii():
            body = s if precision < 0 else s[:precision]
        else:                           # precision counts bytes
            body = s if precision < 0 else from_bytes(to_bytes(s)[:precision])

    else:
        n = precision if precision > 0 else 1
        raw = to_bytes(s)[:n].ljust(n, b"\0")
        body = raw.hex() if conv == "M" else from_bytes(raw)
    size = len(body) if body.isascii() else len(to_bytes(body))    # width counts bytes
    pad = " " * max(0, width - size)
    text = body + pad if "-" in flags else pad + body
    # stap's _stp_vsprint_memory writes a NUL after the field when the 0
    # flag is given (it reaches the output; a sprintf result ends there)
    return text + "\0" if "0" in flags else text


def _binary(num: int, width: int, precision: int, flags: str) -> str:
    def valid(p):
        return p if p in (1, 2, 4, 8) else -1
    precision = valid(precision)
    if width < 0:
        if precision < 0:
            width = precision = 8
        else:
            width = precision
    elif precision < 0:
        precision = valid(width)
        if precision < 0:
            precision = 8
    fmtc = {1: "<b", 2: "<h", 4: "<i", 8: "<q"}[precision]
    bits = 8 * precision
    v = num & ((1 << bits) - 1)
    if v >> (bits - 1):
        v -= 1 << bits
    data = from_bytes(struct.pack(fmtc, v))
    pad = "\0" * max(0, width - precision)
    return data + pad if "-" in flags else pad + data


class FormatError(ScriptRuntimeError):
    """A format the run time cannot honour (too few arguments, which
    elaboration normally rejects; %m of an unreadable address): reported as
    a run-time error rather than a crash."""


def parse_format(fmt: str) -> List[tuple]:
    """Split a format into ("lit", text) and ("conv", flags, width, prec, conv)
    pieces; width/prec are int, None, or "*"."""
    pieces = []
    lit = []
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch != "%":
            lit.append(ch)
            i += 1
            continue
        i += 1
        flags = ""
        while i < n and fmt[i] in "-+ #0":
            flags += fmt[i]
            i += 1
        width = None
        if i < n and fmt[i] == "*":
            width = "*"
            i += 1
        else:
            j = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > j:
                width = int(fmt[j:i])
        prec = None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                prec = "*"
                i += 1
            else:
                j = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[j:i]) if i > j else 0
        while i < n and fmt[i] in "hlL":   # length qualifiers: all 64-bit here
            i += 1
        if i >= n:
            lit.append("%")
            break
        conv = fmt[i]
        i += 1
        if conv == "%":
            lit.append("%")
            continue
        if conv not in "diuxXopscbmM":
            lit.append("%" + conv)
            continue
        if lit:
            pieces.append(("lit", "".join(lit)))
            lit = []
        pieces.append(("conv", flags, width, prec, conv))
    if lit:
        pieces.append(("lit", "".join(lit)))
    return pieces


def format_arg_types(fmt: str) -> List[str]:
    """The argument kinds a format consumes, in order: "long" / "string"."""
    kinds = []
    for p in parse_format(fmt):
        if p[0] != "conv":
            continue
        _, _, width, prec, conv = p
        if width == "*":
            kinds.append("long")
        if prec == "*":
            kinds.append("long")
        # %m/%M take an address (a long); the BPF side reads the bytes
        kinds.append("string" if conv == "s" else "long")
    return kinds


def stap_sprintf(fmt: str, args: Sequence) -> str:
    """Format like stap's printf; `fmt` is already unescaped."""
    out = []
    it = iter(args)

    def nxt():
        try:
            return next(it)
        except StopIteration:
            raise FormatError("too few arguments to format") from None

    for p in parse_format(fmt):
        if p[0] == "lit":
            out.append(p[1])
            continue
        _, flags, width, prec, conv = p
        if width == "*":
            width = to_s64(int(nxt()))
            if width < 0:
                flags += "-"
                width = -width
        elif width is None:
            width = -1
        if prec == "*":
            prec = max(0, to_s64(int(nxt())))
        elif prec is None:
            prec = -1
        arg = nxt()
        if conv in "mM" and not isinstance(arg, str):
            # an address: only the BPF side can read that memory; a record
            # delivers the bytes as a string instead
            raise FormatError("kernel read fault at 0x%x" % to_u64(int(arg)))
        if conv in "smM":
            out.append(_memory(arg if isinstance(arg, str) else str(arg), conv, width, prec, flags))
            continue
        num = arg if isinstance(arg, int) else _str_to_int(arg)
        if conv == "c":
            out.append(_char(num, width, flags))
        elif conv == "b":
            out.append(_binary(num, width, prec, flags))
        elif conv in "di":
            out.append(_number(num, 10, width, prec, flags, signed=True))
        elif conv == "u":
            out.append(_number(num, 10, width, prec, flags, signed=False))
        elif conv in "xX":
            out.append(_number(num, 16, width, prec, flags, signed=False,
                               upper=conv == "X", special="#" in flags))
        elif conv == "o":
            out.append(_number(num, 8, width, prec, flags, signed=False, special="#" in flags))
        elif conv == "p":
            out.append(_number(num, 16, width, prec, flags, signed=False, special=True))
    return "".join(out)


def _str_to_int(v) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------- print / printd

def print_value(v) -> str:
    """How print()/println() render one value: longs in decimal, strings
    as they are."""
    if isinstance(v, int):
        return str(to_s64(v))
    return str(v)


def stap_print(values: Sequence, newline: bool = False) -> str:
    """print(a, b, ...) concatenates its arguments; println adds "\\n"."""
    text = "".join(print_value(v) for v in values)
    return text + "\n" if newline else text


def stap_printd(delimiter: str, values: Sequence, newline: bool = False) -> str:
    """printd(delim, a, b, ...): the values joined by the (unescaped)
    delimiter; printdln adds "\\n"."""
    text = delimiter.join(print_value(v) for v in values)
    return text + "\n" if newline else text
