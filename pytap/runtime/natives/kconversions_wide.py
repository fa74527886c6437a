"""Twin of tapsets/kconversions_wide.stp's reader: user memory is read
through /proc like user_string_utf16/32; kernel memory only from BPF."""
from __future__ import annotations

from ..builtins import _kernel_only, builtin
from .uconversions import _wide


@builtin("__pytap_wide_string")
def wide_string(ctx, addr, unit, user):
    if not user:
        return _kernel_only("kernel_string_utf16/32")(ctx, addr)
    return _wide(ctx, addr, 4 if int(unit) == 4 else 2, None)
