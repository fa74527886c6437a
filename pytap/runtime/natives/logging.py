"""Twins of tapsets/logging.stp: the kernel log (/dev/kmsg) and the ftrace
buffer (trace_marker), written from user space."""
from __future__ import annotations

from ..builtins import builtin
from ..errors import ScriptRuntimeError

KMSG = "/dev/kmsg"
TRACE_MARKERS = ("/sys/kernel/tracing/trace_marker", "/sys/kernel/debug/tracing/trace_marker")


def _kmsg(level: int, lines) -> None:
    level = int(level) & 7
    try:
        with open(KMSG, "wb", buffering=0) as f:
            for line in lines:
                # one write is one kernel log record
                f.write(b"<%d>%s\n" % (level, line.encode("utf-8", "surrogateescape")))
    except OSError as e:
        raise ScriptRuntimeError(f"printk: cannot write to {KMSG}: {e.strerror}")


@builtin()
def printk(ctx, level, msg):
    _kmsg(level, [msg])
    return 0


@builtin("__pytap_kmsg_lines")
def kmsg_lines(ctx, level, text):
    _kmsg(level, [line for line in str(text).split("\n") if line])
    return 0


@builtin()
def ftrace(ctx, msg):
    # a full ftrace buffer or no tracefs: the message is dropped, as stap's is
    for path in TRACE_MARKERS:
        try:
            with open(path, "w") as f:
                f.write(msg + "\n")
            return 0
        except OSError:
            continue
    return 0
