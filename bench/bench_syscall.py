#!/usr/bin/env python3
"""Nanoseconds added per syscall by a tracer counting raw_syscalls:sys_enter
by process name, and each tracer's peak RSS.

Tracers: none, bpftrace `@[comm] = count()`, pytap `c[execname()]++`, and a
hand-written BCC program (the reference for what is achievable).
Goal: pytap's added cost <= 0.6x bpftrace's.
"""
import sys

import common as c


def tracers():
    return [
        c.bpftrace_tracer("bpftrace", "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
        c.pytap_tracer("pytap", 'global c; probe kernel.trace("raw_syscalls:sys_enter") { c[execname()]++ }'),
        c.bcc_ref_tracer("BCC reference", "comm"),
    ]


def main(argv=None):
    return c.overhead_main(argv, __doc__, "Per-syscall overhead: count by execname", tracers(),
                           footer="Goal: pytap's added ns/syscall <= 0.6x bpftrace's.")


if __name__ == "__main__":
    sys.exit(main())
