"""procfs("PATH").read / .write (+ .umask(N), .read.maxsize(N)).

stap's kernel runtime makes /proc/systemtap/MODULE/PATH; pytap has no
kernel module, so pass 5 serves each PATH itself from user space as a
FIFO (pytap/runtime/procfs.py) and runs the handlers in the interpreter,
like begin/end.  Nothing is attached.

spec (family "procfs"):
  {"path": "PATH" ("command" when omitted), "kind": "read" | "write",
   "maxsize": N | None (read only), "umask": N | None}

`$value` is rewritten in pass 2 into calls of stap's synthesized
functions (pytap/elaborate/procfs_value.py); variables() only tells
@defined($value) that the name exists.
"""
from __future__ import annotations

from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, comp_desc, make_point

DEFAULT_PATH = "command"


def _check_path(path: str, comp) -> None:
    """stap's rules for PATH (relative, no empty component)."""
    where = (comp.loc, comp_desc(comp))
    if path.startswith("/"):
        raise StapError("procfs path cannot start with a '/'", *where)
    if path.endswith("/"):
        raise StapError("procfs path cannot end with a '/'", *where)
    if any(part == "" for part in path.split("/")):
        raise StapError("procfs path component cannot be empty", *where)


def _value_var() -> TargetVar:
    return TargetVar("value", "char*", 8, False, is_pointer=True, is_string=True,
                     source="procfs")


def _build(concrete, point, platform):
    path = DEFAULT_PATH
    kind, maxsize, umask = None, None, None
    for functor, value in concrete:
        if functor == "procfs" and value is not None:
            path = value
        elif functor in ("read", "write"):
            kind = functor
        elif functor == "maxsize":
            maxsize = value
        elif functor == "umask":
            umask = value
    if concrete[0][1] is not None:
        _check_path(path, point.components[0])
    if maxsize is not None and maxsize <= 0:
        raise StapError("maxsize must be greater than 0")
    spec = {"path": path, "kind": kind, "maxsize": maxsize, "umask": umask}
    return [ResolvedPoint("procfs", make_point(point, concrete), spec,
                          _vars=lambda: [_value_var()])]


PATTERNS = []
for _head in ("procfs", "procfs(string)"):
    for _mask in ("", ".umask(number)"):
        PATTERNS += [(f"{_head}{_mask}.read", _build),
                     (f"{_head}{_mask}.read.maxsize(number)", _build),
                     (f"{_head}{_mask}.write", _build)]


def attach(bpf, fn_name, rp):
    return None     # served by pytap/runtime/procfs.py, never attached


def program_type(rp):
    return None
