#!/usr/bin/env python3
"""Regenerate golden expectations from stap.

    scripts/update_golden.py p1 [CASE_FILES...]

A case file (tests/golden/p1/NAME.case) is:

    [options]          (optional: extra stap/pytap options, shell-quoted,
    -g                  e.g. -g, or script arguments after `--`)
    [case]
    <script>
    [out]
    <stdout then stderr of `stap -p1 OPTIONS -e SCRIPT ARGS`>
    [exit]
    <exit status>

Only the [out] and [exit] sections are rewritten.  stap's Debian-specific
"Tip: ..." line is dropped (pytap does not print it).
"""
from __future__ import annotations

import glob
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def read_case(path):
    """-> dict(options=[...], script=str, out=str|None, exit=int|None)"""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    sections = {}
    cur = None
    buf = []
    for line in text.splitlines(True):
        s = line.rstrip("\n")
        if s in ("[options]", "[case]", "[out]", "[exit]"):
            if cur is not None:
                sections[cur] = "".join(buf)
            cur, buf = s[1:-1], []
            continue
        buf.append(line)
    if cur is not None:
        sections[cur] = "".join(buf)
    script = sections.get("case", "")
    if script.endswith("\n"):
        script = script[:-1]
    opts = shlex.split(sections.get("options", ""))
    ex = sections.get("exit")
    return {"options": opts, "script": script, "out": sections.get("out"),
            "exit": int(ex.strip()) if ex and ex.strip() else None}


def split_options(opts):
    """options before `--` go to the tool, after are script arguments."""
    if "--" in opts:
        i = opts.index("--")
        return opts[:i], opts[i + 1:]
    return opts, []


def write_case(path, case, out, code):
    parts = []
    if case["options"]:
        parts.append("[options]\n" + shlex.join(case["options"]) + "\n")
    parts.append("[case]\n" + case["script"] + "\n")
    parts.append("[out]\n" + out)
    parts.append("[exit]\n" + str(code) + "\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(parts))


def run_stap(case, last_pass=1):
    tool_opts, args = split_options(case["options"])
    cmd = ["stap", f"-p{last_pass}"] + tool_opts + ["-e", case["script"]] + args
    p = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape")
    err = "".join(l for l in p.stderr.splitlines(True) if not l.startswith("Tip: "))
    return p.stdout + err, p.returncode


def main(argv):
    if not argv or argv[0] not in ("p1",):
        print(__doc__)
        return 2
    kind = argv[0]
    files = argv[1:] or sorted(glob.glob(os.path.join(ROOT, "tests", "golden", kind, "*.case")))
    for path in files:
        case = read_case(path)
        out, code = run_stap(case, last_pass=int(kind[1:]))
        write_case(path, case, out, code)
        print(f"{os.path.relpath(path, ROOT)}: exit {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
