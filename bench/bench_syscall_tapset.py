#!/usr/bin/env python3
"""The system-call tapset against the bare tracepoints.

1. Start-up over every system call, side by side in one run:
     pytap    'global c; probe syscall.* { c++ }'
     bpftrace 'tracepoint:syscalls:sys_enter_* { @c = count(); }'
   each with `-c "date +%s.%N"`: "start" is launch -> the command runs (all
   probes attached: both tracers start the command only then), "total" is
   launch -> the tracer has exited (includes detaching every probe, which
   the kernel makes slow: ~40-80 ms per syscalls tracepoint here).  pytap
   is measured cold (empty compiled-object cache) and warm.  (The handler
   is `c++`, not `{}`: pytap, like stap, elides empty probes.)

2. Per-call cost of a tapset probe whose handler reads none of the alias's
   locals against the bare tracepoint it is built on (getppid loop):
     kernel.trace("syscalls:sys_enter_getppid") { c++ }
     syscall.getppid { c++ }
   Unread locals (name, argstr, ...) are elided before lowering, so both
   generate the same BPF C; the script also checks that (pytap -p3).

Usage: bench/bench_syscall_tapset.py [-r REPS] [-n ITERATIONS] [--skip-overhead]
Needs root and bpftrace.  No timing is asserted anywhere.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import common as c

PYTAP_ALL = "global c; probe syscall.* { c++ }"
BPFTRACE_ALL = "tracepoint:syscalls:sys_enter_* { @c = count(); }"
CMD = "/usr/bin/date +%s.%N"


def one_start(argv, env=None):
    """(start s, total s, error) for one tracer run with -c CMD."""
    t0_wall = time.time()
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    total = time.monotonic() - t0
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return None, None, f"exit {p.returncode}: {last[:120]}"
    m = re.search(r"^(\d{9,}\.\d+)$", p.stdout, re.M)
    if not m:
        return None, None, "the command's timestamp is missing from the output"
    return float(m.group(1)) - t0_wall, total, None


def startup(reps):
    rows = []
    tracers = []
    if c.have("bpftrace"):
        tracers.append(("bpftrace (sys_enter_*)", ["bpftrace", "-e", BPFTRACE_ALL, "-c", CMD], None, False))
    else:
        rows.append(["bpftrace (sys_enter_*)", "n/a", "n/a", "bpftrace not installed"])
    cold_dir = tempfile.mkdtemp(prefix="pytap-bench-cache-")
    tracers.append(("pytap syscall.* (cold cache)", c.PYTAP + ["-e", PYTAP_ALL, "-c", CMD],
                    cold_dir, True))
    tracers.append(("pytap syscall.* (warm cache)", c.PYTAP + ["-e", PYTAP_ALL, "-c", CMD],
                    None, False))
    for name, argv, cache, fresh in tracers:
        starts, totals, err = [], [], ""
        for _ in range(reps):
            env = dict(os.environ)
            if cache:
                if fresh:
                    subprocess.run(["rm", "-rf", cache])
                    os.makedirs(cache, mode=0o700)
                env["XDG_CACHE_HOME"] = cache
            s, t, e = one_start(argv, env)
            if e:
                err = e
                break
            starts.append(s)
            totals.append(t)
        rows.append([name, c.fmt(c.median(starts), " s", 2), c.fmt(c.median(totals), " s", 2), err])
    subprocess.run(["rm", "-rf", cold_dir])
    print(f"### Start-up over every system call (-c \"{CMD}\"; median of {reps} runs)\n")
    print(c.markdown_table(["tracer", "start (launch -> command runs)", "total (until exit)", "note"], rows))
    print()


def same_c():
    """Do the tapset probe and the bare tracepoint generate the same C?"""
    def p3(script):
        r = subprocess.run(c.PYTAP + ["-p3", "-e", script], capture_output=True, text=True)
        # only the source-location comments may differ
        return re.sub(r"/\* @<input>:\d+:\d+ \*/", "", r.stdout) if r.returncode == 0 else None
    a = p3('global c; probe kernel.trace("syscalls:sys_enter_getppid") { c++ }')
    b = p3("global c; probe syscall.getppid { c++ }")
    if a is None or b is None:
        return "pytap -p3 failed"
    return "identical" if a == b else "DIFFERENT"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("-n", "--iterations", type=int, default=1_000_000)
    ap.add_argument("-R", "--rounds", type=int, default=3)
    ap.add_argument("--skip-overhead", action="store_true")
    a = ap.parse_args(argv)
    print(f"## System-call tapset ({os.uname().release}, {os.cpu_count()} CPUs)\n")
    startup(a.reps)
    if a.skip_overhead:
        return 0
    tracers = [
        c.pytap_tracer("bare tracepoint", 'global c; probe kernel.trace("syscalls:sys_enter_getppid") { c++ }'),
        c.pytap_tracer("syscall.getppid", "global c; probe syscall.getppid { c++ }"),
        c.bpftrace_tracer("bpftrace", "tracepoint:syscalls:sys_enter_getppid { @c = count(); }"),
    ]
    rows = c.measure_overhead(tracers, a.iterations, a.reps, a.rounds)
    print(f"### A tapset probe that reads no local vs the bare tracepoint "
          f"(getppid loop, {a.iterations} calls; median of {a.reps} runs, {a.rounds} rounds)\n")
    print(c.overhead_table(rows, ref="bare tracepoint"))
    print(f"\nGenerated BPF C of the two pytap probes (pytap -p3): {same_c()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
