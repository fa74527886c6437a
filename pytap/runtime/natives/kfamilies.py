"""Python twins of the native functions of the process, scheduler,
signal and memory tapsets (tapsets/kprocess.stp, signal.stp, vm.stp)."""
from __future__ import annotations

from ..builtins import builtin


@builtin()
def sigset_mask_str(ctx, mask):
    m = mask & (2 ** 64 - 1)
    return ",".join(str(i + 1) for i in range(64) if m >> i & 1)


# Kernel-only natives of these tapsets: an alias applies them to event
# values only, so a user-mode handler gets their result from its BPF stub
# (codegen/capture.py); reached any other way, a clear error.
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
