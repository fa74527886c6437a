#!/usr/bin/env python3
"""Compare pytap's probe listing with stap's and with the man pages.

    scripts/compare_listing.py [--verbose] [PATTERN ...]

For each PATTERN (default: the process, scheduler, signal, memory and
interrupt families) two figures:

  stap  N/M   of the M probes `stap -L PATTERN` prints, N are listed by
              `pytap -L PATTERN` with every one of stap's locals, same name
              and type.  `$target` variables and stap's internal
              `__tracepoint_arg_*` locals are not counted; a stap local of
              type `unknown` (stap could not assign it on this kernel)
              needs only its name.
  man   N/M   of the M probes documented by `man 3stap probe::NAME` whose
              name matches PATTERN, N are listed by pytap with every value
              of the page's VALUES section as a local.

stap -L resolves only what this kernel lets it (no kprobes, no debuginfo
here), so the man figure covers the rest.  Exit status 0 when every
figure is complete.
"""
from __future__ import annotations

import fnmatch
import gzip
import os
import re
import subprocess
import sys
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAN_DIR = "/usr/share/man/man3"

DEFAULT_PATTERNS = ["kprocess.*", "scheduler.*", "scheduler.*.*",
                    "signal.*", "signal.*.*", "vm.*", "vm.*.*",
                    "irq_handler.*", "softirq.*", "workqueue.*"]

# words the man pages' VALUES sections carry by accident (a description
# wrapped onto the name column in probe::signal.send.return)
MAN_NOISE = {"and"}


def listing(cmd: List[str]) -> Dict[str, Dict[str, str]]:
    """probe name -> {local: type} from `stap -L` / `pytap -L` output."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    probes: Dict[str, Dict[str, str]] = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        locs: Dict[str, str] = {}
        # types may contain spaces ("$ptr:void const*"): split on " name:"
        for m in re.finditer(r"(?:^|\s)([A-Za-z_$][\w$]*):(.*?)(?=\s+[A-Za-z_$][\w$]*:|$)",
                             line[len(parts[0]):]):
            locs[m.group(1)] = m.group(2).strip()
        probes[parts[0]] = locs
    return probes


def counted(locs: Dict[str, str]) -> Dict[str, str]:
    return {n: t for n, t in locs.items()
            if not n.startswith("$") and not n.startswith("__tracepoint_arg_")}


def man_values(name: str) -> List[str]:
    """The VALUES names of man 3stap probe::NAME (read from the troff)."""
    path = os.path.join(MAN_DIR, f"probe::{name}.3stap.gz")
    try:
        text = gzip.open(path, "rt", errors="replace").read()
    except OSError:
        return []
    m = re.search(r"^\.SH \"VALUES\"\s*$(.*?)^\.SH ", text, re.S | re.M)
    if not m:
        return []
    out = []
    for item in re.finditer(r"^\.PP\s*\n([^\n]*)\n", m.group(1), re.M):
        word = re.sub(r"\\f[BIRP]", "", item.group(1)).strip()
        if re.fullmatch(r"[a-z_][a-z0-9_]*", word) and word not in MAN_NOISE:
            out.append(word)
    return out


def documented(pattern: str) -> List[str]:
    names = []
    for f in sorted(os.listdir(MAN_DIR)):
        if f.startswith("probe::") and f.endswith(".3stap.gz"):
            n = f[len("probe::"):-len(".3stap.gz")]
            if fnmatch.fnmatchcase(n, pattern) and n.count(".") == pattern.count("."):
                names.append(n)
    return names


def main(argv: List[str]) -> int:
    verbose = "--verbose" in argv or "-v" in argv
    patterns = [a for a in argv if not a.startswith("-")] or DEFAULT_PATTERNS
    pytap = [sys.executable, "-m", "pytap"]
    complete = True
    for pat in patterns:
        ours = listing(pytap + ["-L", pat])
        theirs = listing(["stap", "-L", pat])
        good = 0
        for probe, locs in sorted(theirs.items()):
            mine = ours.get(probe)
            missing = []
            if mine is None:
                missing = ["(probe not listed)"]
            else:
                for n, t in counted(locs).items():
                    if n not in mine or (t != "unknown" and mine[n] != t):
                        missing.append(f"{n}:{t}" + (f" (pytap {mine[n]})" if n in mine else ""))
            if missing:
                if verbose:
                    print(f"  stap {probe}: missing {' '.join(missing)}")
            else:
                good += 1
        docs = documented(pat)
        dgood = 0
        for probe in docs:
            mine = ours.get(probe)
            want = man_values(probe)
            missing = ["(probe not listed)"] if mine is None else [v for v in want if v not in mine]
            if missing:
                if verbose:
                    print(f"  man {probe}: missing {' '.join(missing)}")
            else:
                dgood += 1
        complete &= good == len(theirs) and dgood == len(docs)
        print(f"{pat:16} stap {good}/{len(theirs)}  man {dgood}/{len(docs)}")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
