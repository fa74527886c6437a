#!/usr/bin/env python3
"""Start-to-exit time of a one-shot timer script, and the tracer's peak RSS.

pytap -e 'probe timer.ms(1) { exit() }'  vs  bpftrace -e 'interval:ms:1 { exit(); }'
(warm: pytap replays its compiled-object cache), and a new script every run
(`global x; probe timer.ms(1) { x = N; exit() }` vs `interval:ms:1 { @x = N;
exit(); }` with a new N each time, so pytap's BCC/clang compiles it).
Median of N runs (own loop: wall time from fork to exit, RSS from wait4).
wait4's peak RSS covers the tracer's waited-for children too: for a new
script that is pytap's compile child (BCC/clang); the tracer itself stays
at its warm size while it runs (`bench_syscall.py` shows VmHWM while tracing).
"""
import argparse
import itertools
import os
import subprocess
import sys
import time

import common as c


def one_run(argv):
    """(seconds, peak RSS KiB, error)."""
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    except OSError as e:
        return None, None, str(e)
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux).
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        last = (err.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        return None, None, f"exit {p.returncode}: {last[:120]}"
    return dt, ru.ru_maxrss, None


_fresh = itertools.count(int(time.time() * 1000) % 10**9)


def measure(argv, reps):
    """argv: a list, or a callable giving a new list per run."""
    times, rss = [], []
    for _ in range(reps):
        dt, kb, err = one_run(argv() if callable(argv) else argv)
        if err:
            return None, None, err
        times.append(dt)
        rss.append(kb)
    return c.median(times), max(rss), ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-r", "--reps", type=int, default=5)
    a = ap.parse_args(argv)
    cases = [
        ("bpftrace", ["bpftrace", "-e", "interval:ms:1 { exit(); }"], c.have("bpftrace")),
        ("pytap", c.PYTAP + ["-e", "probe timer.ms(1) { exit() }"], os.path.exists(c.PYTAP[0])),
        ("bpftrace, new script", lambda: ["bpftrace", "-e",
                                          f"interval:ms:1 {{ @x = {next(_fresh)}; exit(); }}"],
         c.have("bpftrace")),
        ("pytap, new script", lambda: c.PYTAP + [
            "-e", f"global x; probe timer.ms(1) {{ x = {next(_fresh)}; exit() }}"],
         os.path.exists(c.PYTAP[0])),
    ]
    results = {}
    for name, cmd, ok in cases:
        if not ok:
            results[name] = (None, None, "not installed")
            continue
        one_run(cmd() if callable(cmd) else cmd)   # warm caches (page cache, BTF/tapset caches)
        results[name] = measure(cmd, a.reps)
    rows = []
    for name, (t, kb, note) in results.items():
        ref = results["bpftrace, new script" if "new" in name else "bpftrace"][0]
        rows.append([name, c.fmt(t * 1000 if t else None, digits=0),
                     c.ratio(t, ref), f"{kb / 1024:.1f}" if kb else "n/a", note])
    print(f"### Start-to-exit of a 1 ms timer script (median of {a.reps})\n")
    print(c.markdown_table(["tracer", "ms", "vs bpftrace", "peak RSS MiB", "note"], rows))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
