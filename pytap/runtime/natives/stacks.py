"""Python twins of tapsets/stacks.stp (backtraces and symbols).

A handler run by the interpreter gets backtrace()/ubacktrace()/uaddr()...
from its BPF stub (codegen captures `/* capture */` natives); called
elsewhere (begin/end) there is no event stack: "" / 0, as stap's
unwinder gives outside a probe context.  The formatting natives format at
once (runtime/stacks.py); print forms are not cut to MAXSTRINGLEN.
"""
from __future__ import annotations

from .. import stacks
from ..builtins import builtin

_PRINT_KINDS = set("FSGTB")


class _Unclipped(str):
    unclipped = True


def _result(kind: str, text: str) -> str:
    return _Unclipped(text) if kind in _PRINT_KINDS else text


@builtin("backtrace", "ubacktrace")
def _no_stack(ctx):
    return ""


@builtin("__kaddr", "__kcaller", "uaddr")
def _no_addr(ctx):
    return 0


@builtin("__kframe", "__uframe")
def _no_frame(ctx, n):
    return 0


@builtin("task_backtrace")
def task_backtrace(ctx, task):
    return ""


@builtin("__klazy")
def _klazy(ctx, kind, stk):
    return _result(kind, stacks.format_kind(kind[:1], stacks.expand(stk)))


@builtin("__ulazy")
def _ulazy(ctx, kind, stk):
    stk = stacks.expand(stk)
    pid = stacks.S.hex_pid.get(stk) or getattr(ctx, "pid", 0)
    if kind[:1] == "L":
        head, _, rest = stk.partition(":")
        pid = stacks.S.hex_pid.get(rest) or pid
    return _result(kind, stacks.format_kind(kind[:1], stk, pid))


@builtin("__kalazy")
def _kalazy(ctx, kind, addr):
    return stacks.format_kind(kind[:1], f"{addr & 0xFFFFFFFFFFFFFFFF:x}")


@builtin("__ualazy")
def _ualazy(ctx, kind, addr):
    return stacks.format_kind(kind[:1], f"{addr & 0xFFFFFFFFFFFFFFFF:x}", getattr(ctx, "pid", 0))
