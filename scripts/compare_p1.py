#!/usr/bin/env python3
"""Compare `pytap -p1` with `stap -p1` over stap's own tapsets and examples.

    scripts/compare_p1.py [-j N] [--show N] [--diff] [FILES/DIRS ...]

Each .stp file is copied to a scratch dir (stap refuses to run tapset files
in place) and run through `stap -g -p1` (outputs cached by content hash
under $TMPDIR/pytap-p1-oracle) and through pytap in-process with
`--runtime=kernel -g -p1` and PYTAP_TAPSET=/usr/share/systemtap/tapset.

A file matches when stap accepts it and pytap prints exactly the same
stdout; or when stap rejects it and pytap rejects it too with its first
error at the same line.  Prints N/M and the failing files.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOTS = ["/usr/share/systemtap/tapset", "/usr/share/systemtap/examples"]
TAPSET = "/usr/share/systemtap/tapset"
CACHE = os.path.join(tempfile.gettempdir(), "pytap-p1-oracle")
SCRATCH = os.path.join(tempfile.gettempdir(), "pytap-p1-scratch")


def collect(paths):
    files = []
    for p in paths:
        if os.path.isfile(p):
            files.append((os.path.dirname(p), p))
            continue
        for d, _, names in os.walk(p):
            for n in sorted(names):
                if n.endswith(".stp"):
                    files.append((p, os.path.join(d, n)))
    return sorted(files, key=lambda x: x[1])


def scratch_copy(root, path):
    rel = os.path.join(os.path.basename(root.rstrip("/")), os.path.relpath(path, root))
    dst = os.path.join(SCRATCH, rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(path, dst)
    return dst


def stap_run(path):
    with open(path, "rb") as f:
        key = hashlib.sha1(path.encode() + b"\0" + f.read()).hexdigest()
    cf = os.path.join(CACHE, key)
    if os.path.exists(cf + ".rc"):
        with open(cf + ".out", encoding="utf-8", errors="surrogateescape") as o, \
                open(cf + ".err", encoding="utf-8", errors="surrogateescape") as e, \
                open(cf + ".rc") as r:
            return o.read(), e.read(), int(r.read())
    p = subprocess.run(["stap", "-g", "-p1", path], capture_output=True)
    out = p.stdout.decode("utf-8", "surrogateescape")
    err = p.stderr.decode("utf-8", "surrogateescape")
    err = "".join(l for l in err.splitlines(True) if not l.startswith("Tip: "))
    os.makedirs(CACHE, exist_ok=True)
    for ext, data in ((".out", out), (".err", err)):
        with open(cf + ext, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(data)
    with open(cf + ".rc", "w") as f:
        f.write(str(p.returncode))
    return out, err, p.returncode


def pytap_run(path):
    from pytap import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(["--runtime=kernel", "-g", "-p1", path])
        except SystemExit as e:
            rc = e.code
        except Exception as e:  # noqa: a crash is a mismatch, not a stop
            err.write(f"CRASH {type(e).__name__}: {e}\n")
            rc = 99
    return out.getvalue(), err.getvalue(), rc


def first_error_where(err):
    for line in err.splitlines():
        s = line.strip()
        if s.startswith(("saw:", "at:")):
            return s.rsplit(":", 2)[-2] if " at " in s else s
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*", default=ROOTS)
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--show", type=int, default=40, help="list this many failures")
    ap.add_argument("--diff", action="store_true", help="show a diff for each failure")
    ap.add_argument("--strict", action="store_true",
                    help="rejected files must print exactly stap's error text")
    a = ap.parse_args()
    os.environ["PYTAP_TAPSET"] = TAPSET
    files = collect(a.paths)
    copies = [scratch_copy(r, p) for r, p in files]
    with ThreadPoolExecutor(a.j) as ex:
        stap_results = list(ex.map(stap_run, copies))
    ok = 0
    fails = []
    accepted = 0
    for path, (sout, serr, src) in zip(copies, stap_results):
        pout, perr, prc = pytap_run(path)
        if src == 0:
            accepted += 1
            good = prc == 0 and pout == sout
        else:
            good = prc != 0 and first_error_where(serr) == first_error_where(perr)
            if good and a.strict:
                good = serr == perr
        if good:
            ok += 1
        else:
            fails.append((path, src, prc, sout, serr, pout, perr))
    print(f"p1 match: {ok}/{len(copies)} ({accepted} accepted by stap)")
    for path, src, prc, sout, serr, pout, perr in fails[: a.show]:
        print(f"FAIL {path} (stap rc={src}, pytap rc={prc})")
        if a.diff:
            if src == 0 and prc == 0:
                d = difflib.unified_diff(sout.splitlines(), pout.splitlines(), "stap", "pytap",
                                         lineterm="", n=1)
                print("\n".join(list(d)[:30]))
            elif a.strict and prc != 0 and src != 0:
                d = difflib.unified_diff(serr.splitlines(), perr.splitlines(), "stap", "pytap",
                                         lineterm="", n=1)
                print("\n".join(list(d)[:30]))
            else:
                print("  stap : " + (serr.strip().splitlines() or [""])[0][:200]
                      + " | " + str(first_error_where(serr)))
                print("  pytap: " + (perr.strip().splitlines() or [""])[0][:200]
                      + " | " + str(first_error_where(perr)))
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main())
