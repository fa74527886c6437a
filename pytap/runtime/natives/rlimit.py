"""Twins of tapsets/rlimit.stp's task readers and tapsets/tcp_info.stp's sock
readers: kernel pointers exist only in BPF, so in user space they fail clearly
(runtime/builtins.py)."""

from ..builtins import BUILTINS, _kernel_only

_LIMITS = ("cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
           "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime")


def _one_arg(name):
    fail = _kernel_only(name)
    return lambda ctx, task: fail(ctx, task)


for _lim in _LIMITS:
    BUILTINS[f"task_rlimit_{_lim}"] = _one_arg(f"task_rlimit_{_lim}")
_cur = _kernel_only("task_rlimit")
BUILTINS["__pytap_task_rlimit_cur"] = lambda ctx, task, lim: _cur(ctx, task, lim)
BUILTINS["task_fd_lookup"] = (lambda fail: (lambda ctx, task, fd: fail(ctx, task, fd)))(
    _kernel_only("task_fd_lookup"))

# tapsets/tcp_info.stp: struct sock readers, BPF only
for _name in ("tcp_get_info_rto", "tcp_get_info_snd_cwnd", "tcp_ts_get_info_state", "__tcp_sock_sport",
              "__tcp_sock_dport"):
    BUILTINS[_name] = _one_arg(_name)
