#!/usr/bin/env python3
"""Documented probe locals from SystemTap's man pages (man 3stap probe::NAME,
section VALUES), for comparing with `pytap -L`.

    scripts/doc_locals.py FAMILY...            print NAME local local ...
    scripts/doc_locals.py --compare FAMILY...  N/M per family against pytap -L
"""
import os
import re
import subprocess
import sys

MANDIR = "/usr/share/man/man3"


def documented(family):
    out = {}
    for f in sorted(os.listdir(MANDIR)):
        m = re.match(r"probe::(.+)\.3stap(\.gz)?$", f)
        if not m or m.group(1).split(".")[0] != family:
            continue
        name = m.group(1)
        text = subprocess.run(["man", "-P", "cat", "3stap", f"probe::{name}"], capture_output=True,
                              text=True, env=dict(os.environ, MANWIDTH="200")).stdout
        sec = re.search(r"\nVALUES\n(.*?)(\n[A-Z][A-Z ]+\n|\Z)", text, re.S)
        names = []
        if sec:
            for line in sec.group(1).splitlines():
                mm = re.match(r"^ {7}(\w+)\s*$", line)
                if mm:
                    names.append(mm.group(1))
        out[name] = [n for n in names if n != "None"]
    return out


def pytap_listing(family, pytap):
    got = {}
    for pattern in (f"{family}.*", f"{family}.*.*", f"{family}.*.*.*"):
        r = subprocess.run([pytap, "-L", pattern], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts:
                got[parts[0]] = {p.split(":")[0] for p in parts[1:] if not p.startswith("$")}
    return got


def main(argv):
    compare = "--compare" in argv
    fams = [a for a in argv if not a.startswith("--")]
    pytap = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "bin", "pytap")
    for fam in fams:
        doc = documented(fam)
        if not compare:
            for k, v in doc.items():
                print(k, " ".join(v))
            continue
        got = pytap_listing(fam, pytap)
        full = [k for k, v in doc.items() if k in got and set(v) <= got[k]]
        offered = [k for k in doc if k in got]
        print(f"{fam}: {len(offered)}/{len(doc)} offered, {len(full)}/{len(doc)} with every documented local")
        for k in doc:
            if k not in got:
                print(f"  missing {k}")
            elif not set(doc[k]) <= got[k]:
                print(f"  {k} lacks {sorted(set(doc[k]) - got[k])}")


if __name__ == "__main__":
    main(sys.argv[1:])
