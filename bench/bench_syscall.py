#!/usr/bin/env python3
"""Nanoseconds added per syscall by a tracer counting raw_syscalls:sys_enter
by process name, and each tracer's peak RSS.

Tracers: none, bpftrace `@[comm] = count()`, pytap `c[execname()]++`, and a
hand-written BCC program (the reference for what is achievable).
Goal: pytap's added cost <= 0.6x bpftrace's.
"""
import argparse
import sys

import common as c


def tracers():
    return [
        c.bpftrace_tracer("bpftrace", "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"),
        c.pytap_tracer("pytap", 'global c; probe kernel.trace("raw_syscalls:sys_enter") { c[execname()]++ }'),
        c.bcc_ref_tracer("BCC reference", "comm"),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", "--iterations", type=int, default=1_000_000)
    ap.add_argument("-r", "--reps", type=int, default=5, help="loop runs per measurement")
    ap.add_argument("-R", "--rounds", type=int, default=3, help="tracer start/stop rounds")
    a = ap.parse_args(argv)
    rows = c.measure_overhead(tracers(), a.iterations, a.reps, a.rounds)
    print(f"### Per-syscall overhead: count by execname "
          f"(getppid loop, {a.iterations} calls; median of {a.reps} runs, median of {a.rounds} rounds)\n")
    print(c.overhead_table(rows, ref="bpftrace"))
    print("\nGoal: pytap's added ns/syscall <= 0.6x bpftrace's.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
