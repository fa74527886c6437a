"""begin, end, error (each with an optional priority N, may be negative)
and never.

These run in user space (the interpreter) in increasing N, then script
order; nothing is attached.  spec: {} ; priority: N.
"""
from __future__ import annotations

from .core import ResolvedPoint, make_point


def _build(concrete, point, platform):
    functor, value = concrete[0]
    prio = value if isinstance(value, int) else 0
    return [ResolvedPoint(functor, make_point(point, concrete), {}, prio)]


PATTERNS = [
    ("begin", _build), ("begin(number)", _build),
    ("end", _build), ("end(number)", _build),
    ("error", _build), ("error(number)", _build),
    ("never", _build),
]


def attach(bpf, fn_name, rp):
    return None     # run by the interpreter, never attached


def program_type(rp):
    return None
