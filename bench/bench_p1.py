#!/usr/bin/env python3
"""Pass-1 speed.

1. start-up: `pytap -p1` against `stap -p1` on a small script, alternating
   the two, median of N runs each (wall seconds), and the ratio;
2. throughput: lines/second parsing every .stp file of SystemTap's tapset
   and example corpus in-process (as tapsets: privileged, kernel runtime),
   and the same for `stap -p1` run file by file (a sample: stap pays its
   start-up per file, so this is what a user sees, not its parser speed).

Usage: bench/bench_p1.py [-n RUNS] [--stap-sample N]
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTAP = [str(ROOT / ".venv" / "bin" / "pytap")] if (ROOT / ".venv" / "bin" / "pytap").exists() \
    else [sys.executable, "-m", "pytap"]
CORPUS = ["/usr/share/systemtap/tapset", "/usr/share/systemtap/examples"]

SMALL = r'''
global count
probe timer.s(1) {
  count++
  printf("%d ticks, %s\n", count, count > 1 ? "many" : "one")
  if (count >= 3) exit()
}
'''


def timed(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def corpus_files():
    out = []
    for root in CORPUS:
        out += sorted(glob.glob(os.path.join(root, "**", "*.stp"), recursive=True))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=11)
    ap.add_argument("--stap-sample", type=int, default=20)
    a = ap.parse_args()
    have_stap = subprocess.run(["which", "stap"], capture_output=True).returncode == 0

    with tempfile.TemporaryDirectory() as d:
        script = os.path.join(d, "small.stp")
        with open(script, "w") as f:
            f.write(SMALL)
        timed(PYTAP + ["-p1", script])   # warm the PLY table cache
        py, st = [], []
        for _ in range(a.n):
            py.append(timed(PYTAP + ["-p1", script]))
            if have_stap:
                st.append(timed(["stap", "-p1", script]))
    rows = [("startup -p1 small script (s)", statistics.median(py),
             statistics.median(st) if st else None)]

    # throughput, pytap in-process
    os.environ.setdefault("PYTAP_TAPSET", "/usr/share/systemtap/tapset")
    sys.path.insert(0, str(ROOT))
    from pytap.diagnostics import PassFailed
    from pytap.options import Options
    from pytap.parser import parse
    opts = Options(runtime="kernel", guru=True)
    files = corpus_files()
    texts = []
    for p in files:
        with open(p, encoding="utf-8", errors="surrogateescape") as f:
            texts.append((p, f.read()))
    lines = sum(t.count("\n") for _, t in texts)
    parse("probe begin {}", "warm.stp", opts)
    t0 = time.perf_counter()
    for p, t in texts:
        try:
            parse(t, p, opts, privileged=True)
        except PassFailed:
            pass
    py_lps = lines / (time.perf_counter() - t0)
    st_lps = None
    if have_stap and a.stap_sample:
        sample = [(p, t) for p, t in texts if "/examples/" in p][: a.stap_sample]
        s_lines = sum(t.count("\n") for _, t in sample)
        t0 = time.perf_counter()
        for p, _ in sample:
            subprocess.run(["stap", "-g", "-p1", p], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        st_lps = s_lines / (time.perf_counter() - t0)
    rows.append((f"lines/s, {len(files)} files, {lines} lines", py_lps, st_lps))

    print(f"{'measure':44} {'pytap':>12} {'stap':>12} {'pytap/stap':>11}")
    for name, p, s in rows:
        ratio = f"{p / s:.2f}" if s else "-"
        sv = f"{s:12.3f}" if s is not None else f"{'-':>12}"
        print(f"{name:44} {p:12.3f} {sv} {ratio:>11}")
    print("(startup: lower is better; lines/s: higher is better; stap lines/s is "
          "per-file stap -p1 runs, start-up included)")


if __name__ == "__main__":
    main()
