"""Twins of tapsets/bpf/kernel_context.stp's positional-argument natives:
the registers and trace records they read exist only while a BPF handler
runs, so a user-space handler reaching them gets a clear error."""
from __future__ import annotations

from ..builtins import BUILTINS, _kernel_only

BUILTINS["__pytap_arg_slots"] = _kernel_only("__pytap_arg_slots")
BUILTINS["__pytap_ulong_arg_at"] = (lambda ctx, argnum, slots:
                                    _kernel_only("__pytap_ulong_arg_at")(ctx, argnum, slots))
