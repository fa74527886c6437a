#!/usr/bin/env python3
"""Output throughput: one printed line per event, at a given event rate.

The workload (bench/getppid_rate.c) makes N getppid() calls paced at RATE
calls/s; each tracer prints one line per call of that process:

  pytap     probe kernel.trace("syscalls:sys_enter_getppid")
                { if (pid() == target()) printf("getppid %d\\n", pid()) }
  bpftrace  tracepoint:syscalls:sys_enter_getppid /pid == cpid/
                { printf("getppid %d\\n", pid); }

both with -c, stdout to a file, default buffer sizes.  Reported: the share
of the N lines printed (100% = lossless), median over the reps, and the rate
the workload reached (tracing slows it down: a tracer can only be asked for
what the loop achieves with it attached).  No assertion on any figure.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import common as c

SCRIPT = ('probe kernel.trace("syscalls:sys_enter_getppid") '
          '{ if (pid() == target()) printf("getppid %d\\n", pid()) }')
BT = 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf("getppid %d\\n", pid); }'


def build(tmp):
    exe = os.path.join(tmp, "getppid_rate")
    subprocess.run(["gcc", "-O2", "-o", exe, str(c.BENCH_DIR / "getppid_rate.c")], check=True)
    return exe


def one(argv):
    """(lines printed, achieved rate, note)"""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=300)
        out.seek(0)
        lines = 0
        lost = ""
        for l in out:
            if l.startswith(b"getppid "):
                lines += 1
            elif b"Lost" in l:               # bpftrace reports lost events on stdout
                lost = l.decode(errors="replace").strip()[:70]
        err.seek(0)
        text = err.read().decode(errors="replace")
    rate = None
    note = lost
    for l in text.splitlines():
        if "calls/s" in l:
            rate = float(l.split(":")[-1].split()[0])
        elif "transport failures" in l or "Lost" in l:
            note = l.strip()[:70]
    if p.returncode != 0 and not note:
        note = f"exit {p.returncode}: {text.strip().splitlines()[-1][:70] if text.strip() else ''}"
    return lines, rate, note


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=500000, help="calls per run")
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("--rates", default="300000,600000,1000000")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(tmp)
        tracers = []
        if c.have("bpftrace"):
            tracers.append(("bpftrace", lambda cmd: ["bpftrace", "-c", cmd, "-e", BT]))
        tracers.append(("pytap", lambda cmd: c.PYTAP + ["-c", cmd, "-e", SCRIPT]))
        subprocess.run(c.PYTAP + ["-p4", "-e", SCRIPT], capture_output=True)   # compile once
        rows = []
        for rate in [int(x) for x in a.rates.split(",")]:
            cmd = f"{exe} {a.n} {rate}"
            res = {name: [] for name, _ in tracers}
            for _ in range(a.reps):
                for name, mk in tracers:          # side by side, interleaved
                    res[name].append(one(mk(cmd)))
            for name, _ in tracers:
                runs = res[name]
                share = statistics.median(l / a.n * 100 for l, _, _ in runs)
                worst = min(l for l, _, _ in runs)
                got = [r for _, r, _ in runs if r]
                notes = [n for _, _, n in runs if n]
                rows.append([f"{rate:,}", name, f"{share:.4f}% (worst {worst:,})",
                             f"{statistics.median(got):,.0f}" if got else "n/a",
                             f"{len(notes)}/{len(runs)} runs: {notes[0]}" if notes else ""])
    print(f"### Output throughput: one line per getppid, {a.n:,} calls "
          f"(median of {a.reps}; load {os.getloadavg()[0]:.1f})\n")
    print(c.markdown_table(["asked calls/s", "tracer", "lines printed", "reached calls/s",
                            "lost (as reported)"], rows))
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
