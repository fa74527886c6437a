#!/usr/bin/env python3
"""Pass-2 speed: `pytap -p2` against `stap -p2` on a script that uses
tapset aliases and functions.

Both elaborate against the same library (SystemTap's tapsets, kernel
runtime), and pytap also against its own tapsets/.  "first run": pytap's whole
cache (PLY tables, kallsyms, BTF index, parsed tapsets) is empty; "cold":
only the parsed-tapset cache is empty; "warm": the cache was filled by an earlier
run.  Prints medians of N runs (wall seconds) and pytap/stap ratios.

Usage: bench/bench_p2.py [-n RUNS]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTAP = [str(ROOT / ".venv" / "bin" / "pytap")] if (ROOT / ".venv" / "bin" / "pytap").exists() \
    else [sys.executable, "-m", "pytap"]
STAP_TAPSETS = "/usr/share/systemtap/tapset"

SCRIPT_STAP_LIB = r'''
global reads
probe nd_syscall.read.return { reads[execname(), pid()] <<< retval }
probe timer.s(5) {
  foreach ([n, p] in reads- limit 10)
    printf("%s %d %d %s\n", n, p, @sum(reads[n, p]), ctime(gettimeofday_s()))
  exit()
}
'''

SCRIPT_OURS = r'''
global n
probe sendrecv = tcp.sendmsg, tcp.recvmsg { n++ }
probe sendrecv.return { if (size > 0) n += size }
probe timer.s(5) { printf("%d\n", n) }
'''


def timed(cmd, env, cwd) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr.decode()}")
    return dt


def bench(runs: int):
    work = Path(tempfile.mkdtemp(prefix="bench_p2_"))
    (work / "lib.stp").write_text(SCRIPT_STAP_LIB)
    (work / "ours.stp").write_text(SCRIPT_OURS)
    base_env = dict(os.environ)
    rows = []

    def pytap_env(cache, tapset=None):
        env = dict(base_env, XDG_CACHE_HOME=str(cache))
        env.pop("PYTAP_TAPSET", None)
        if tapset:
            env["PYTAP_TAPSET"] = tapset
        return env

    have_stap = shutil.which("stap") is not None
    if have_stap:
        stap = [timed(["stap", "-p2", "lib.stp"], base_env, work) for _ in range(runs)]
        rows.append(("stap -p2 (SystemTap tapsets)", statistics.median(stap)))
    def cold_tapsets(cache):
        """A cache with everything but the parsed tapsets (and their name
        index): what a first run after a tapset change costs."""
        for p in (cache / "pytap").glob("index-*.pickle"):
            p.unlink()
        shutil.rmtree(cache / "pytap" / "tapsets", ignore_errors=True)

    for label, cmd, tapset, name in (
            ("SystemTap tapsets", PYTAP + ["--runtime=kernel", "-p2", "lib.stp"], STAP_TAPSETS, "stap"),
            ("pytap tapsets", PYTAP + ["-p2", "ours.stp"], None, "own")):
        empty = [timed(cmd, pytap_env(work / f"{name}-empty{i}", tapset), work) for i in range(runs)]
        rows.append((f"pytap -p2 first run, empty cache ({label})", statistics.median(empty)))
        cache = work / f"{name}-warm"
        timed(cmd, pytap_env(cache, tapset), work)
        cold = []
        for _ in range(runs):
            cold_tapsets(cache)
            cold.append(timed(cmd, pytap_env(cache, tapset), work))
        rows.append((f"pytap -p2 cold tapset cache ({label})", statistics.median(cold)))
        timed(cmd, pytap_env(cache, tapset), work)
        warm = [timed(cmd, pytap_env(cache, tapset), work) for _ in range(runs)]
        rows.append((f"pytap -p2 warm cache ({label})", statistics.median(warm)))
    shutil.rmtree(work, ignore_errors=True)
    return rows, have_stap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=5)
    a = ap.parse_args()
    rows, have_stap = bench(a.runs)
    ref = rows[0][1] if have_stap else None
    print(f"median of {a.runs} runs")
    for name, t in rows:
        ratio = f"  x{t / ref:.2f} of stap" if ref else ""
        print(f"{name:45s} {t * 1000:8.1f} ms{ratio}")


if __name__ == "__main__":
    main()
