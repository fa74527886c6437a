"""Python twins of tapsets/bpf/registers.stp's slot natives.  A handler
that runs in user space gets each register from its BPF stub (the natives
are /* capture */); without an event (begin/end) there are no registers:
0, as a BPF program with no pt_regs would not have them either."""
from __future__ import annotations

from ..builtins import builtin

_SLOTS = [f"__pytap_regslot_{i}" for i in range(21)]


@builtin(*_SLOTS)
def _no_register(ctx):
    return 0
