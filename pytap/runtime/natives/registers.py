"""Twins of tapsets/registers.stp and tapsets/bpf/registers.stp.  A handler
that runs in user space gets registers_valid() and each pt_regs slot from
its BPF stub (those natives are /* capture */); without an event
(begin/end) there are no registers, as stap's begin/end probes have none:
registers_valid() is 0 and register() fails."""
from __future__ import annotations

from ..builtins import builtin

_SLOTS = [f"__pytap_regslot_{i}" for i in range(21)]


@builtin()
def registers_valid(ctx):
    return 0


@builtin(*_SLOTS)
def _no_register(ctx):
    return 0
