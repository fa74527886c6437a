"""Twins of the I/O and network tapsets' kernel-memory natives
(tapsets/io_errno.stp, dentry.stp, netfilter.stp).  They read kernel
memory, which only a BPF handler can: in user space they raise a clear
error, like the kernel_context ones in runtime/builtins.py."""
from __future__ import annotations

from ..builtins import BUILTINS, _kernel_only

_ARITY = {"__io_kstr": 1, "__io_kstr_n": 2, "__io_kbyte": 1, "__io_kshort": 1, "__io_ulong": 1,
          "__disk_name": 2, "__nf_data_hex": 2, "__nf_data_str": 2, "__ip6_ntop": 1}


def _twin(name, arity):
    fail = _kernel_only(name)
    if arity == 1:
        return lambda ctx, a: fail(ctx, a)
    return lambda ctx, a, b: fail(ctx, a, b)


for _name, _n in _ARITY.items():
    BUILTINS[_name] = _twin(_name, _n)
