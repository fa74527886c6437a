#!/usr/bin/env python3
"""Map-heavy handler: count every syscall by (pid, process name).

pytap `c[pid(), execname()]++` vs bpftrace `@[pid, comm] = count()` vs a
hand-written BCC hash map keyed by (pid, comm).
"""
import argparse
import sys

import common as c


def tracers():
    return [
        c.bpftrace_tracer("bpftrace", "tracepoint:raw_syscalls:sys_enter { @[pid, comm] = count(); }"),
        c.pytap_tracer("pytap", 'global c; probe kernel.trace("raw_syscalls:sys_enter") { c[pid(), execname()]++ }'),
        c.bcc_ref_tracer("BCC reference", "pidcomm"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--iterations", type=int, default=1_000_000)
    ap.add_argument("-r", "--reps", type=int, default=5, help="loop runs per measurement")
    ap.add_argument("-R", "--rounds", type=int, default=3, help="tracer start/stop rounds")
    a = ap.parse_args(argv)
    rows = c.measure_overhead(tracers(), a.iterations, a.reps, a.rounds)
    print(f"### Map-heavy handler: count by (pid, execname) "
          f"(getppid loop, {a.iterations} calls; median of {a.reps} runs, median of {a.rounds} rounds)\n")
    print(c.overhead_table(rows, ref="bpftrace"))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
