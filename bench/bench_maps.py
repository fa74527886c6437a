#!/usr/bin/env python3
"""Map-heavy handler: count every syscall by (pid, process name).

pytap `c[pid(), execname()]++` vs bpftrace `@[pid, comm] = count()` vs a
hand-written BCC hash map keyed by (pid, comm).
"""
import sys

import common as c


def tracers():
    return [
        c.bpftrace_tracer("bpftrace", "tracepoint:raw_syscalls:sys_enter { @[pid, comm] = count(); }"),
        c.pytap_tracer("pytap", 'global c; probe kernel.trace("raw_syscalls:sys_enter") { c[pid(), execname()]++ }'),
        c.bcc_ref_tracer("BCC reference", "pidcomm"),
    ]


def main(argv=None):
    return c.overhead_main(argv, __doc__, "Map-heavy handler: count by (pid, execname)", tracers())


if __name__ == "__main__":
    sys.exit(main())
