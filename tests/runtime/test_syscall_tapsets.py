"""The generated system-call tapsets against this kernel's tracefs and
against SystemTap's locals (saved `stap -L` output in tests/data).  Root:
both read /sys/kernel/tracing (no BPF is loaded)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def _need_tracefs():
    if not os.access("/sys/kernel/tracing/events/syscalls", os.R_OK):
        pytest.skip("no readable tracefs syscalls events")


def test_generated_tapsets_are_current():
    _need_tracefs()
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_syscall_tapsets.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("pattern", ["syscall.*", "syscall.*.return", "nd_syscall.*",
                                     "nd_syscall.*.return"])
def test_locals_match_stap(pattern):
    """Every probe stap lists (saved stap -L output), with at least stap's
    locals (names, types)."""
    _need_tracefs()
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "compare_locals.py"), "-v", pattern],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("total: 382/382"), r.stdout


@pytest.mark.parametrize("point,line", [
    ("syscall.openat", "syscall.openat name:string dfd:long dfd_str:string filename:string "
     "filename_unquoted:string flags:long flags_str:string mode:long argstr:string"),
    ("syscall.openat.return", "syscall.openat.return name:string retval:long retstr:string"),
    ("nd_syscall.kill", "nd_syscall.kill name:string pid:long sig:long sig_name:string argstr:string"),
    ("syscall_any.return", "syscall_any.return syscall_nr:long name:string retval:long"),
])
def test_listing(point, line):
    _need_tracefs()
    r = subprocess.run([sys.executable, "-m", "pytap", "-L", point], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [line]


def _handlers_c(script):
    r = subprocess.run([sys.executable, "-m", "pytap", "-p3", "-e", script], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    text = r.stdout.split("one BPF function per attached event")[1]
    return [l for l in text.splitlines() if "@<input>" not in l and "/* probe 0" not in l]


def test_unread_locals_cost_nothing():
    """stap's optimizer drops the alias's assignments nobody reads: the
    handler is the bare tracepoint's (no argstr built in BPF)."""
    _need_tracefs()
    assert _handlers_c("global n; probe syscall.openat { n++ }") == \
        _handlers_c('global n; probe kernel.trace("syscalls:sys_enter_openat") { n++ }')
