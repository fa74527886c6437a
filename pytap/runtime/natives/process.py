"""Twins of tapsets/process.stp and tapsets/bpf/kernel-side helpers that
have a user-space meaning: facts about the process an event came from,
read from /proc/PID (for begin/end probes: the pytap process itself)."""
from __future__ import annotations

import os

from ..builtins import builtin


def _pid(ctx) -> int:
    return (ctx.pid if ctx is not None and ctx.pid else 0) or os.getpid()


def _tid(ctx) -> int:
    return (ctx.tid if ctx is not None and ctx.tid else 0) or os.getpid()


def _stat_fields(path: str):
    """Fields of a /proc/.../stat file, counted from 1 as proc(5) does."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    rparen = text.rfind(")")
    if rparen < 0:
        return None
    # field 1 pid, 2 comm (may hold spaces), 3 state ...
    return [None, text.split()[0], text[text.find("(") + 1:rparen]] + text[rparen + 2:].split()


def _field(fields, n: int) -> int:
    try:
        return int(fields[n])
    except (TypeError, IndexError, ValueError):
        return 0


@builtin("__pytap_signal_pid")
def signal_pid(ctx, which):
    pid = _pid(ctx)
    try:
        if which == 3:
            return os.getsid(pid)
        if which == 2:
            return os.getpgid(pid)
    except OSError:
        return 0
    return pid


@builtin("__pytap_mm_args")
def mm_args(ctx, which):
    # /proc/PID/stat fields 48 and 49: arg_start, arg_end
    fields = _stat_fields(f"/proc/{_pid(ctx)}/stat")
    return _field(fields, 49 if which else 48)


_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)


@builtin("__pytap_cputime")
def cputime(ctx, sys_):
    # utime/stime (fields 14/15) of the thread, in clock ticks
    fields = _stat_fields(f"/proc/{_pid(ctx)}/task/{_tid(ctx)}/stat")
    return _field(fields, 15 if sys_ else 14) * _TICK_NS


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@builtin("__pytap_proc_mem")
def proc_mem(ctx, what):
    pid = _pid(ctx)
    try:
        with open(f"/proc/{pid}/statm") as f:
            size, resident, _shared, text, _lib, data = (int(x) for x in f.read().split()[:6])
    except (OSError, ValueError):
        return 0
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    if what == 0:
        return size
    if what == 1:
        return resident
    if what == 2:
        return _status_kb(pid, "RssFile") // page_kb
    if what == 3:
        return text
    return data


@builtin("__pytap_time_str")
def time_str(ctx, v, digits):
    """msecs/usecs/nsecs_to_string: "%dm%d.%.Nds" with C's truncating division."""
    scale = 10 ** digits

    def cdiv(a, b):
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q

    secs = cdiv(v, scale)
    frac = v - secs * scale
    mins = cdiv(secs, 60)
    return "%dm%d.%.*ds" % (mins, secs - mins * 60, digits, frac)


@builtin()
def bytes_to_string(ctx, b):
    """Five characters and a unit, as the native version formats them."""
    if b < 1024:
        return "%5d" % b
    unit = "K"
    rem, x = b % 1024, b // 1024
    for u in ("M", "G"):
        if x < 1024:
            break
        rem, x, unit = x % 1024, x // 1024, u
    if x < 10:
        return "%d.%.2d%s" % (x, rem * 100 // 1024, unit)
    if x < 100:
        return "%2d.%d%s" % (x, rem * 10 // 1024, unit)
    return "%4d%s" % (x, unit)


@builtin()
def cmdline_args(ctx, n, m, delim):
    """Arguments n..m (m < 0: all) of the event's process, from
    /proc/PID/cmdline, joined like the BPF version."""
    try:
        with open(f"/proc/{_pid(ctx)}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    args = raw.split(b"\0")
    if raw.endswith(b"\0"):
        args.pop()
    out = ""
    for nr, a in enumerate(args):
        if m >= 0 and nr > m:
            break
        text = a.decode("utf-8", "surrogateescape")
        if nr == n:
            out = text
        elif nr > n:
            out += delim + (text if text else '""')
    return out


# tapsets/bpf/task.stp: these take task_struct pointers, which exist only in
# a BPF handler; pass 3 refuses them in user-space handlers, and the twins
# fail clearly if one is reached anyway.
def _register_kernel_only():
    from ..builtins import _kernel_only
    for name in ("task_uid", "task_gid", "task_euid", "task_egid", "task_prio", "task_nice",
                 "task_max_file_handles", "task_open_file_handles", "pid2task",
                 "__pytap_task_start"):
        builtin(name)((lambda nm: lambda ctx, arg: _kernel_only(nm)(ctx, arg))(name))
    for name in ("__pytap_task_cputime", "__pytap_mm_stat"):
        builtin(name)((lambda nm: lambda ctx, a, b: _kernel_only(nm)(ctx, a, b))(name))


_register_kernel_only()
