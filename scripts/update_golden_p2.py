#!/usr/bin/env python3
"""Regenerate tests/golden/p2/*.case from stap (the oracle).

A case file:

    [case]
    <script text>
    [opts]            optional: extra command-line options, e.g. -v
    -v
    [tapset]          optional: "stap" = elaborate against SystemTap's own
    stap              tapsets (pytap runs with PYTAP_TAPSET=/usr/share/systemtap/tapset
                      --runtime=kernel); default: our tapsets/
    [compare]         optional: "all" (default) or "probes" (only the
    probes            "# probes" section of stdout is compared)
    [out]             stap -p2 stdout
    [err]             stap's stderr, minus Debian's "Tip:" line and the
                      timing lines of -v
    [rc]              exit status

Usage: scripts/update_golden_p2.py [NAME...]   (default: every case)
New cases: write just the [case] (and [opts] ...) sections, then run this.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "p2"
SECTIONS = ("case", "opts", "tapset", "compare", "out", "err", "rc")


def read_case(path: Path) -> dict:
    sec, cur = {}, None
    for line in path.read_text().splitlines(keepends=True):
        m = re.match(r"^\[(\w+)\]\n?$", line)
        if m and m.group(1) in SECTIONS:
            cur = m.group(1)
            sec[cur] = ""
            continue
        if cur is not None:
            sec[cur] += line
    return sec


def write_case(path: Path, sec: dict) -> None:
    out = []
    for k in SECTIONS:
        if k in sec:
            v = sec[k]
            out.append(f"[{k}]\n{v}")
            if v and not v.endswith("\n"):
                out.append("\n")
    path.write_text("".join(out))


def filter_stap_err(text: str) -> str:
    keep = []
    for line in text.splitlines(keepends=True):
        if line.startswith("Tip: ") or "README.Debian" in line:
            continue
        if re.match(r"^Pass [0-9]: (parsed|analyzed|translated|compiled)", line):
            continue
        keep.append(line)
    return "".join(keep)


def run_stap(sec: dict):
    opts = sec.get("opts", "").split()
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "case.stp"
        script.write_text(sec["case"])
        r = subprocess.run(["stap", "-p2", *opts, "case.stp"], capture_output=True,
                           text=True, cwd=d)
    return r.stdout, filter_stap_err(r.stderr), r.returncode


def main(argv):
    names = set(argv[1:])
    for path in sorted(GOLDEN.glob("*.case")):
        if names and path.stem not in names:
            continue
        sec = read_case(path)
        out, err, rc = run_stap(sec)
        if sec.get("compare", "").strip() == "probes":
            i = out.find("# probes\n")
            out = out[i:] if i >= 0 else out     # keep the files small
        sec["out"], sec["err"], sec["rc"] = out, err, f"{rc}\n"
        write_case(path, sec)
        print(f"{path.name}: rc={rc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
