"""Twins of tapsets/system.stp: shell commands, signals, time zone, HZ and
the load average, for handlers the interpreter runs."""
from __future__ import annotations

import os
import subprocess
import sys

from ..builtins import builtin
from ..errors import ScriptRuntimeError
from ...codegen.native_macros import config_hz, tz_facts


@builtin()
def system(ctx, cmd):
    # stap runs the command once the handler is done; here it runs now,
    # after what the handler printed so far, and pytap waits for it so the
    # output keeps its order
    write = getattr(ctx.interp, "write", None) if ctx is not None and ctx.interp is not None else None
    flush = getattr(getattr(write, "__self__", None), "flush", None)     # lifecycle's Output
    if callable(flush):
        flush()
    sys.stdout.flush()
    subprocess.run(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL)
    return 0


@builtin("raise")
def raise_(ctx, signo):
    tid = (ctx.tid if ctx is not None else 0) or os.getpid()
    try:
        os.kill(tid, int(signo))
    except (OSError, ValueError) as e:
        raise ScriptRuntimeError(f"raise/send_sig error {-getattr(e, 'errno', 22) or -22}")
    return 0


@builtin()
def tz_gmtoff(ctx):
    return tz_facts()[0]


@builtin()
def tz_name(ctx):
    return tz_facts()[1]


@builtin("HZ")
def hz(ctx):
    return config_hz()


def _loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


@builtin()
def sprint_loadavg(ctx):
    try:
        return " ".join(_loadavg())
    except OSError:
        return ""


@builtin()
def get_loadavg_index(ctx, indx):
    if indx not in (0, 1, 2):
        raise ScriptRuntimeError("get_loadavg_index: indx must be 0, 1 or 2")
    try:
        whole, _, frac = _loadavg()[indx].partition(".")
        return int(whole) * 100 + int((frac + "00")[:2])
    except (OSError, ValueError):
        return 0




@builtin()
def probe_type(ctx):
    """From the probe point a user-space handler runs for (codegen expands
    it per probe in BPF: codegen/lower.py probe_type_name)."""
    pp = getattr(ctx, "pp", "") or ""
    if pp.startswith(("begin", "end", "error", "never")) or not pp:
        return "begin_end"
    if pp.startswith("timer.jiffies"):
        return "timer"
    if pp.startswith("timer.profile") or pp.startswith("perf"):
        return "perf_event"
    if pp.startswith("timer."):
        return "hrtimer"
    if pp.startswith(("kernel.trace", "kernel.statm")):
        return "tracepoint"
    if pp.startswith(("process.begin", "process.end", "process.thread")):
        return "utrace"
    ret = pp.endswith(".return")
    if pp.startswith(("process", "uprobe")):
        return "uretprobe" if ret else "uprobe"
    if pp.startswith("kernel") or pp.startswith("module") or pp.startswith("kprobe"):
        return "kretprobe" if ret else "kprobe"
    return ""
