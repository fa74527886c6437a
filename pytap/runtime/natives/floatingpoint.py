"""Twins of tapsets/floatingpoint.stp: doubles kept as bit patterns in longs.

Python floats are IEEE-754 doubles, so the arithmetic is the hardware's;
what stap's softfloat runtime does differently is reproduced here: its
default NaN (0x7ff8000000000000), its integer conversion limits, and the
way it prints and parses decimal text.
"""
from __future__ import annotations

import math
import struct
from fractions import Fraction

from ..builtins import builtin

DEFAULT_NAN = 0x7FF8000000000000
QUIET_BIT = 0x0008000000000000


def _s64(v: int) -> int:
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def bits_to_float(v) -> float:
    return struct.unpack("<d", struct.pack("<Q", int(v) & ((1 << 64) - 1)))[0]


def float_to_bits(f: float) -> int:
    return _s64(struct.unpack("<Q", struct.pack("<d", f))[0])


def _is_nan_bits(v) -> bool:
    v = int(v) & ((1 << 64) - 1)
    return (v >> 52) & 0x7FF == 0x7FF and v & ((1 << 52) - 1) != 0


def _result(f: float, *operands) -> int:
    if math.isnan(f):
        for o in operands:
            if _is_nan_bits(o):
                return _s64(int(o) | QUIET_BIT)
        return _s64(DEFAULT_NAN)
    return float_to_bits(f)


def _binary(op, a, b) -> int:
    try:
        r = op(bits_to_float(a), bits_to_float(b))
    except ZeroDivisionError:
        r = math.nan
    except (OverflowError, ValueError):
        r = math.nan
    return _result(r, a, b)


def _div(x: float, y: float) -> float:
    if y == 0.0:
        if math.isnan(x) or x == 0.0:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _rem(x: float, y: float) -> float:
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or y == 0.0:
        return math.nan
    if math.isinf(y):
        return x
    return math.remainder(x, y)


@builtin()
def long_to_fp(ctx, v):
    return float_to_bits(float(_s64(v)))


@builtin()
def fp_add(ctx, a, b):
    return _binary(lambda x, y: x + y, a, b)


@builtin()
def fp_sub(ctx, a, b):
    return _binary(lambda x, y: x - y, a, b)


@builtin()
def fp_mul(ctx, a, b):
    return _binary(lambda x, y: x * y, a, b)


@builtin()
def fp_div(ctx, a, b):
    return _binary(_div, a, b)


@builtin()
def fp_rem(ctx, a, b):
    return _binary(_rem, a, b)


@builtin()
def fp_sqrt(ctx, a):
    x = bits_to_float(a)
    if math.isnan(x):
        return _result(x, a)
    if x < 0:
        return _s64(DEFAULT_NAN)
    return float_to_bits(math.sqrt(x))


@builtin()
def fp_eq(ctx, a, b):
    return int(bits_to_float(a) == bits_to_float(b))


@builtin()
def fp_le(ctx, a, b):
    return int(bits_to_float(a) <= bits_to_float(b))


@builtin()
def fp_lt(ctx, a, b):
    return int(bits_to_float(a) < bits_to_float(b))


@builtin()
def fp32_to_fp64(ctx, v):
    f = struct.unpack("<f", struct.pack("<I", int(v) & 0xFFFFFFFF))[0]
    if math.isnan(f):
        # the payload moves to the top of the wider fraction, quieted
        u = int(v) & 0xFFFFFFFF
        return _s64(((u >> 31) << 63) | (0x7FF << 52) | QUIET_BIT | ((u & 0x7FFFFF) << 29))
    return float_to_bits(f)


_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)


@builtin()
def fp_to_long(ctx, v, mode, exact):
    x = bits_to_float(v)
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return _INT64_MAX if x > 0 else _INT64_MIN
    q = Fraction(x)
    floor = math.floor(q)
    frac = q - floor
    mode = int(mode)
    if frac == 0:
        n = floor
    elif mode == 1:                 # toward zero
        n = math.trunc(q)
    elif mode == 2:                 # down
        n = floor
    elif mode == 3:                 # up
        n = floor + 1
    elif mode == 4:                 # nearest, ties away from zero
        n = floor + 1 if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and q > 0) else floor
    elif mode == 6:                 # odd
        n = math.trunc(q)
        if n % 2 == 0:
            n += 1 if q > 0 else -1
    else:                           # nearest, ties to even
        if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and floor % 2 == 1):
            n = floor + 1
        else:
            n = floor
    if n > _INT64_MAX:
        return _INT64_MAX
    if n < _INT64_MIN:
        return _INT64_MIN
    return int(n)


@builtin()
def fp_to_string(ctx, v, precision):
    """stap's f64_to_str: integer part, '.', precision-1 truncated digits,
    then one digit rounded up from the digit after it (without carrying:
    a 9 rounded up prints as 10)."""
    u = int(v) & ((1 << 64) - 1)
    sign = u >> 63
    exp = (u >> 52) & 0x7FF
    sig = u & ((1 << 52) - 1)
    if exp:
        sig |= 1 << 52
    e = exp - 1023
    shift = 52 - e
    out = "-" if sign else ""
    if shift <= 0:
        ipart, fpart, base = sig << -shift, 0, 1
    else:
        ipart, fpart, base = sig >> shift, sig & ((1 << shift) - 1), 1 << shift
    out += str(ipart) + "."
    for _ in range(int(precision) - 1):
        fpart *= 10
        out += str(fpart // base)
        fpart %= base
    fpart *= 10
    last = fpart // base
    fpart %= base
    after = 0
    if fpart:
        after = fpart * 10 // base
    if after >= 5:
        last += 1
    return out + str(last)


@builtin()
def string_to_fp(ctx, s):
    """stap's str_to_f64: digits accumulated as value*10 + d in doubles,
    divided by 10**(digits after the point), scaled by an exponent."""
    i, n = 0, len(s)
    sign = -1.0 if s[:1] == "-" else 1.0
    if s[:1] in ("-", "+"):
        i += 1
    value, power = 0.0, 1.0
    while i < n and s[i].isdigit():
        value = value * 10.0 + float(ord(s[i]) - 48)
        i += 1
    if i < n and s[i] == ".":
        i += 1
    while i < n and s[i].isdigit():
        value = value * 10.0 + float(ord(s[i]) - 48)
        power *= 10.0
        i += 1
    if i < n and s[i] in "eE":
        i += 1
        neg = i < n and s[i] == "-"
        if i < n and s[i] in "-+":
            i += 1
        p2 = 0
        while i < n and s[i].isdigit():
            p2 = p2 * 10 + ord(s[i]) - 48
            i += 1
        for _ in range(min(p2, 400)):
            power = power * 10.0 if neg else power / 10.0
    if i != n:
        return _s64(DEFAULT_NAN)
    return _result(sign * _div(value, power))
