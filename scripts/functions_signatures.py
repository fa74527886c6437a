#!/usr/bin/env python3
"""Compare the tapset functions pytap offers with SystemTap's documented API.

For every `man 3stap function::NAME` page whose NAME pytap's tapsets define,
build one call per SYNOPSIS overload with arguments of the documented
types, elaborate the script with `pytap -p2` and `stap -p2` (stap's own
tapsets), and compare each function's signature line (`name:type (args)`).
Prints one line per difference and `N/M signatures match`; exit status 1
when any differs.  Functions stap cannot elaborate here are reported and
left out.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAN3 = Path("/usr/share/man/man3")
VOID = re.compile(r"^\s*(?:\d\)\s*)?\w+\s*\(")     # "name(...)" without ":type"


def documented() -> dict:
    names = sorted(p.name[len("function::"):].split(".3stap")[0] for p in MAN3.glob("function::*"))
    ours = set()
    for f in list((ROOT / "tapsets").glob("*.stp")) + list((ROOT / "tapsets" / "bpf").glob("*.stp")):
        ours |= set(re.findall(r"^function\s+(\w+)", f.read_text(), re.M))
    # declared only so that a call is refused with the reason (not offered)
    nope = ROOT / "tapsets" / "not_on_ebpf.stp"
    refused = set(re.findall(r"^function\s+(\w+)", nope.read_text(), re.M)) if nope.exists() else set()
    out = {}
    for name in names:
        if name not in ours or name in refused:
            continue
        text = subprocess.run(["man", "3stap", f"function::{name}"], capture_output=True, text=True,
                              env={**os.environ, "MANWIDTH": "300"}).stdout
        syn = text.split("SYNOPSIS", 1)[-1].split("ARGUMENTS", 1)[0].split("DESCRIPTION", 1)[0]
        calls = []
        for m in re.finditer(r"\b%s(:\w+)?\s*\(([^)]*)\)" % re.escape(name), syn):
            args = []
            for a in (x.strip() for x in m.group(2).split(",") if x.strip()):
                t = a.split(":", 1)[1].strip() if ":" in a else "long"
                args.append('"x"' if t == "string" else "1")
            call = f"{name}({', '.join(args)})"
            calls.append(call if m.group(1) else f"VOID {call}")
        if calls:
            out[name] = sorted(set(calls))
    return out


def script(calls) -> str:
    lines = [f"\t{c[5:]}" if c.startswith("VOID ") else f"\tprintln({c})" for c in calls]
    return "probe timer.s(1) {\n" + "\n".join(lines) + "\n}\n"


def signatures(cmd, path) -> tuple:
    # -u: no duplicate-function merging, so every function keeps its own line
    r = subprocess.run(cmd + ["-g", "-u", "-p2", path], capture_output=True, text=True)
    sigs = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(\w+)(?::\w+)? \(", line)
        if m:
            sigs.setdefault(m.group(1), set()).add(line.strip())
    return r.returncode, sigs, r.stderr


def main() -> int:
    docs = documented()
    # stap's own tapsets fail on some functions here: find and drop them
    skipped = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "calls.stp")
        names = sorted(docs)
        while True:
            Path(path).write_text(script([c for n in names for c in docs[n]]))
            rc, stap, err = signatures(["stap"], path)
            if rc == 0:
                break
            bad = [n for n in names if re.search(r"\b%s\b" % n, err)]
            if not bad:
                # an error inside stap's own tapset: the function around it
                for m in re.finditer(r" at (/\S+\.stp):(\d+):", err):
                    lines = Path(m.group(1)).read_text().splitlines()[:int(m.group(2))]
                    for line in reversed(lines):
                        f = re.match(r"\s*function\s+(\w+)", line)
                        if f:
                            bad += [f.group(1)] if f.group(1) in names else []
                            break
            if not bad:
                print(err, file=sys.stderr)
                return 2
            skipped += bad[:1]
            names.remove(bad[0])
        rc, ours, err = signatures([sys.executable, "-m", "pytap"], path)
        if rc != 0:
            print(err, file=sys.stderr)
            return 1
    bad = 0
    for n in names:
        if stap.get(n) != ours.get(n):
            bad += 1
            print(f"{n}: stap {sorted(stap.get(n, []))} pytap {sorted(ours.get(n, []))}")
    for n in skipped:
        print(f"{n}: skipped (stap -p2 fails on it here)")
    print(f"{len(names) - bad}/{len(names)} signatures match")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
