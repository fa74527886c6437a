"""Python twins of the native functions of the process, scheduler,
signal and memory tapsets (tapsets/kprocess.stp, signal.stp, vm.stp)."""
from __future__ import annotations

import bisect
from typing import List, Optional, Tuple

from ..builtins import builtin

_SYMS: Optional[Tuple[List[int], List[str]]] = None


def _kernel_symbols() -> Tuple[List[int], List[str]]:
    """Text symbols of /proc/kallsyms, sorted by address (read once)."""
    global _SYMS
    if _SYMS is None:
        pairs = []
        try:
            with open("/proc/kallsyms") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] in "tTwW":
                        addr = int(parts[0], 16)
                        if addr:
                            pairs.append((addr, parts[2]))
        except OSError:
            pass
        pairs.sort()
        _SYMS = ([a for a, _ in pairs], [n for _, n in pairs])
    return _SYMS


@builtin("__kf_symname")
def kf_symname(ctx, addr):
    """stap's symname(): the function containing addr, else the address."""
    addrs, names = _kernel_symbols()
    u = addr & (2 ** 64 - 1)
    i = bisect.bisect_right(addrs, u) - 1
    if i >= 0 and addrs:
        return names[i]
    return f"0x{u:x}"


@builtin()
def sigset_mask_str(ctx, mask):
    m = mask & (2 ** 64 - 1)
    return ",".join(str(i + 1) for i in range(64) if m >> i & 1)


# Kernel-only natives of these tapsets: an alias applies them to event
# values only, so a user-mode handler gets their result from its BPF stub
# (codegen's _event_only_call); reached any other way, a clear error.
def _kernel_only(name, nargs):
    from ..builtins import BUILTINS, _kernel_only as make
    inner = make(name)
    if nargs == 1:
        BUILTINS[name] = lambda ctx, a: inner(ctx, a)
    else:
        BUILTINS[name] = lambda ctx, a, b: inner(ctx, a, b)


_kernel_only("__kf_quote", 2)
_kernel_only("__kf_user_long", 2)
_kernel_only("__kf_migrate_dest", 1)
_kernel_only("__kf_irq_ret", 1)


_SIGNALS = ["SIG_0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
            "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM",
            "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG",
            "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO/SIGPOLL", "SIGPWR",
            "SIGSYS"]


@builtin("__kf_signal_name")
def kf_signal_name(ctx, sig):
    v = sig & 0xffffffff
    if v < len(_SIGNALS):
        return _SIGNALS[v]
    if v == 0x85:
        return "TRACESYSGOOD"
    return f"0x{v:x}"
