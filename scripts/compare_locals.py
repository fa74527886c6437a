#!/usr/bin/env python3
"""Compare the probe locals pytap offers with SystemTap's.

For each probe pattern, runs `stap -L PATTERN` and `pytap -L PATTERN` once
each and reports, per probe stap lists, whether pytap lists the same probe
with at least stap's locals (same names, same types).  Prints N/M per
pattern, the misses, and the total.

Not compared: `$target` variables (they name the mechanism underneath: stap
reaches these aliases through kprobes or raw_syscalls, pytap through
per-call tracepoints) and stap's internal locals (`__name`,
`_entry_tvar_*`, which its own alias bodies use for bookkeeping).

stap -L takes minutes per pattern on a busy machine, so its output for
the default patterns is saved in tests/data/stap_L/PATTERN.txt (made here
with stap 4.8) and used when present; --fresh runs stap instead.
--stap-cache DIR keeps fresh outputs per pattern; --stap-file
PATTERN=FILE uses a given file.

usage: compare_locals.py [-v] [--fresh] [--stap-cache DIR] [--pytap CMD] [PATTERN ...]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

DEFAULT_PATTERNS = ["syscall.*", "syscall.*.return", "nd_syscall.*", "nd_syscall.*.return",
                    "signal.*", "kprocess.*", "scheduler.*", "vm.*", "irq_handler.*", "netdev.*"]


def parse_listing(text: str) -> dict:
    """`-L` output -> {probe: {local: type}} (target variables left out)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        locs = {}
        for p in parts[1:]:
            if p.startswith("$") or ":" not in p:
                continue
            name, typ = p.split(":", 1)
            locs[name] = typ
        out[parts[0]] = locs
    return out


def internal(name: str) -> bool:
    return name.startswith("__") or name.startswith("_entry_tvar")


def compare(stap: dict, mine: dict):
    """-> (matched probes, [(probe, what is wrong)])"""
    ok, misses = 0, []
    for probe, locs in sorted(stap.items()):
        if probe not in mine:
            misses.append((probe, "not listed"))
            continue
        have = mine[probe]
        bad = []
        for n, t in locs.items():
            if internal(n):
                continue
            if n not in have:
                bad.append(f"{n}:{t} missing")
            elif have[n] != t and t != "unknown":
                # "unknown": stap could not type it on this kernel (its
                # alias reads a $var the tracepoint no longer has)
                bad.append(f"{n} is {have[n]}, stap {t}")
        if bad:
            misses.append((probe, ", ".join(bad)))
        else:
            ok += 1
    return ok, misses


def run(cmd, timeout):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return r.stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"warning: {' '.join(cmd)}: {e}", file=sys.stderr)
        return ""


SAVED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "stap_L")


def stap_listing(pattern, cache, files, timeout, fresh=False):
    if pattern in files:
        return open(files[pattern]).read()
    saved = os.path.join(SAVED, pattern + ".txt")
    if not fresh and os.path.exists(saved):
        return open(saved).read()
    path = None
    if cache:
        os.makedirs(cache, exist_ok=True)
        path = os.path.join(cache, hashlib.sha1(pattern.encode()).hexdigest()[:16] + ".L")
        if os.path.exists(path):
            return open(path).read()
    text = run(["stap", "-L", pattern], timeout)
    if path and text:
        with open(path, "w") as f:
            f.write(text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("patterns", nargs="*", default=DEFAULT_PATTERNS)
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    ap.add_argument("--fresh", action="store_true", help="run stap even where a saved output exists")
    ap.add_argument("--stap-cache", metavar="DIR")
    ap.add_argument("--stap-file", action="append", default=[], metavar="PATTERN=FILE")
    ap.add_argument("--pytap", default=f"{shlex.quote(sys.executable)} -m pytap")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args(argv)
    files = dict(s.split("=", 1) for s in args.stap_file)
    pytap = shlex.split(args.pytap)

    def one(pattern):
        return (stap_listing(pattern, args.stap_cache, files, args.timeout, args.fresh),
                run(pytap + ["-L", pattern], args.timeout))

    # the stap runs dominate; run the patterns side by side
    with ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(one, args.patterns))
    total_ok = total = 0
    for pattern, (stext, mtext) in zip(args.patterns, results):
        stap, mine = parse_listing(stext), parse_listing(mtext)
        ok, misses = compare(stap, mine)
        total_ok += ok
        total += len(stap)
        print(f"{pattern}: {ok}/{len(stap)}")
        for probe, why in misses if args.verbose else misses[:10]:
            print(f"  {probe}: {why}")
        if not args.verbose and len(misses) > 10:
            print(f"  ... {len(misses) - 10} more (-v lists all)")
    print(f"total: {total_ok}/{total}")
    return 0 if total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
