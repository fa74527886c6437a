"""Test tiers and their skip logic (markers are declared in pyproject.toml).

  root    loads BPF: needs uid 0 and a kernel + BCC that can load a program.
  oracle  compares with SystemTap: needs `stap` on PATH.
  vm      needs kprobes, so it only runs inside the virtme-ng VM that
          scripts/vm_tests.sh boots (scripts/vm_inner.sh sets PYTAP_IN_VM=1).

Tests under tests/runtime/ are marked `root` and tests under tests/vm/ are
marked `vm` automatically, so a forgotten marker cannot run a BPF test as an
ordinary user or a kprobe test on a kernel without kprobes.

A skip always says why; a missing capability is the only reason to skip.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

# Directory → marker applied to every test collected below it.
_DIR_MARKERS = {
    TESTS_DIR / "runtime": "root",
    TESTS_DIR / "vm": "vm",
}


def in_vm() -> bool:
    return os.environ.get("PYTAP_IN_VM") == "1"


@functools.lru_cache(maxsize=None)
def bpf_unavailable_reason() -> str | None:
    """None when BPF programs can be loaded here, else why not.

    Checked once per session, in a child process, so that a BCC crash or a
    slow compile cannot take the test session down with it.
    """
    if os.geteuid() != 0:
        return "needs root (loads BPF programs)"
    probe = (
        "from bcc import BPF\n"
        "b = BPF(text='int f(void *ctx) { return 0; }')\n"
        "b.load_func('f', BPF.SOCKET_FILTER)\n"
    )
    try:
        r = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                           text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "BPF check timed out (BCC could not compile a trivial program)"
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"BPF programs cannot be loaded here: {last}"
    return None


@functools.lru_cache(maxsize=None)
def stap_unavailable_reason() -> str | None:
    if shutil.which("stap") is None:
        return "SystemTap (stap) is not installed: apt-get install systemtap"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        for directory, marker in _DIR_MARKERS.items():
            if directory in path.parents and marker not in item.keywords:
                item.add_marker(getattr(pytest.mark, marker))


def pytest_runtest_setup(item):
    if "vm" in item.keywords and not in_vm():
        pytest.skip("kprobe test: runs only inside the VM, use scripts/vm_tests.sh")
    if "root" in item.keywords:
        reason = bpf_unavailable_reason()
        if reason:
            pytest.skip(reason)
    if "oracle" in item.keywords:
        reason = stap_unavailable_reason()
        if reason:
            pytest.skip(reason)
