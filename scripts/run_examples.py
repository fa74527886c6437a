#!/usr/bin/env python3
"""Run SystemTap's shipped example scripts through pytap, as a user would.

Every `.stp` under the examples directory (systemtap-doc:
/usr/share/systemtap/examples) runs with the command line its `.meta` file
gives (`test_installcheck:`, else `test_check:`), `stap` replaced by pytap,
`-p4` dropped so the script really runs, and `-T SECONDS` added so it ends
by itself.  Each run is classified:

  ran        exit 0 (or ended by -T) with no traceback
  error      a clean stap-style error (its first error line is the reason)
  traceback  a Python traceback or "internal error"
  hang       still running TIMEOUT seconds after its -T should have ended it

and the summary prints `ran N/M` plus the commonest reasons.

Usage: scripts/run_examples.py [-T SECONDS] [-j JOBS] [--json FILE] [FILTER...]
  FILTER  substrings of example paths to run (default: all)
Needs root (the scripts load BPF).
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures as futures
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path("/usr/share/systemtap/examples")
REPO = Path(__file__).resolve().parent.parent
PYTAP = [str(REPO / ".venv" / "bin" / "pytap")]


def meta_command(stp: Path) -> str:
    """The example's usual command line, from its .meta file."""
    meta = stp.with_suffix(".meta")
    fields = {}
    if meta.exists():
        for line in meta.read_text(errors="replace").splitlines():
            k, sep, v = line.partition(":")
            if sep:
                fields.setdefault(k.strip(), v.strip())
    for key in ("test_installcheck", "test_check"):
        cmd = fields.get(key, "")
        if cmd.startswith("stap ") and stp.name in cmd:
            return cmd
    return f"stap {stp.name}"


def shell_words(cmd: str) -> list[str]:
    """The command's words as the shell would pass them ($$, backticks and
    quotes resolved; no glob expansion: `*@mm/*.c` is a probe pattern)."""
    r = subprocess.run(["bash", "-c", f"set -f; for w in {cmd}; do printf '%s\\0' \"$w\"; done"],
                       capture_output=True, text=True)
    if r.returncode == 0 and r.stdout:
        return r.stdout.split("\0")[:-1]
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


def pytap_argv(cmd: str, seconds: int) -> list[str]:
    """stap's command line as pytap's: shell bits resolved, -p4 dropped
    (also inside grouped flags such as -gp4), -T added (or lowered) so the
    run ends by itself."""
    words = shell_words(cmd)
    out: list[str] = []
    i = 1  # words[0] is stap
    has_T = False
    while i < len(words):
        w = words[i]
        if w == "-p" and i + 1 < len(words):
            i += 2
            continue
        m = re.fullmatch(r"-([a-zA-Z]*)p[1-5]", w)
        if m:
            if m.group(1):
                out.append("-" + m.group(1))
            i += 1
            continue
        if w == "-T" and i + 1 < len(words):
            out += ["-T", str(min(seconds, int(float(words[i + 1]) or seconds)))]
            has_T = True
            i += 2
            continue
        out.append(w)
        i += 1
    if not has_T:
        out = ["-T", str(seconds)] + out
    return PYTAP + out


def classify(rc: int | None, out: str, err: str) -> tuple[str, str]:
    if rc is None:
        return "hang", "did not end"
    if "Traceback (most recent call last)" in err or "internal error" in err:
        last = [ln for ln in err.splitlines() if ln.strip()]
        return "traceback", (last[-1] if last else "traceback")[:160]
    if rc == 0:
        return "ran", ""
    for line in err.splitlines():
        if "error" in line.lower() or line.startswith("ERROR"):
            return "error", reason_of(line)
    last = [ln for ln in err.splitlines() if ln.strip()]
    return "error", (last[0] if last else f"exit {rc}")[:160]


def reason_of(line: str) -> str:
    """An error line without its location and identifiers that vary, so that
    equal causes count together."""
    line = re.sub(r"\s+at \S+:\d+:\d+.*$", "", line)
    line = re.sub(r"\s+near .*$", "", line)
    return line.strip()[:160]


def run_one(stp: Path, seconds: int, grace: int) -> dict:
    cmd = meta_command(stp)
    argv = pytap_argv(cmd, seconds)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=stp.parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, errors="replace", start_new_session=True)
    try:
        out, err = proc.communicate(timeout=seconds + grace)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    verdict, reason = classify(rc, out, err)
    return {"script": str(stp.relative_to(EXAMPLES)), "command": " ".join(argv[1:]),
            "verdict": verdict, "reason": reason, "rc": rc,
            "seconds": round(time.monotonic() - t0, 1),
            "stdout_lines": out.count("\n"), "stderr_tail": err[-600:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-T", type=int, default=3, help="seconds each script runs (default 3)")
    ap.add_argument("-j", type=int, default=2, help="scripts run at once (default 2)")
    ap.add_argument("--grace", type=int, default=90,
                    help="seconds past -T before a run counts as a hang (default 90)")
    ap.add_argument("--json", help="write every result to this file")
    ap.add_argument("-v", action="store_true", help="print each result as it comes")
    ap.add_argument("filters", nargs="*")
    a = ap.parse_args()
    if not EXAMPLES.is_dir():
        print(f"no examples at {EXAMPLES} (apt-get install systemtap-doc)", file=sys.stderr)
        return 2
    scripts = sorted(EXAMPLES.rglob("*.stp"))
    total = len(scripts)
    if a.filters:
        scripts = [s for s in scripts if any(f in str(s) for f in a.filters)]
    results = []
    with futures.ThreadPoolExecutor(max_workers=a.j) as pool:
        for r in pool.map(lambda s: run_one(s, a.T, a.grace), scripts):
            results.append(r)
            if a.v:
                print(f"{r['verdict']:9} {r['script']:45} {r['reason']}", flush=True)
    by = collections.Counter(r["verdict"] for r in results)
    reasons = collections.Counter(r["reason"] for r in results if r["verdict"] != "ran")
    print(f"\nran {by['ran']}/{len(results)}"
          + (f" (of {total} examples)" if len(results) != total else "")
          + f"; clean errors {by['error']}, tracebacks {by['traceback']}, hangs {by['hang']}")
    print("commonest reasons:")
    for reason, n in reasons.most_common(25):
        print(f"  {n:3}  {reason}")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
