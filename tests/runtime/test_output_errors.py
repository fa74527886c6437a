"""Output that cannot be written ends the run like stap, not as an internal
error: a full device (`> /dev/full`) prints one ERROR line and pass 5's
footer and exits 1; a reader that went away (`| head -1`) ends quietly with
status 0.  Either way every probe is detached and no traceback is printed.

The script prints only when this test makes a getppid() call, so the test
can first see the programs loaded (their ids, from /proc/PID/fdinfo) and
only then make the run fail, and afterwards check the kernel dropped them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from test_cases import CASES, PYTAP, REPO, TIMEOUT, _bpf_prog_ids, _prog_exists

pytestmark = pytest.mark.root

ON_GETPPID = ('probe begin { println("started") } '
              'probe kernel.trace("syscalls:sys_enter_getppid") { println("ppid") }')
FULL_ERR = ("ERROR: Couldn't write to output: No space left on device\n"
            "Pass 5: run failed.  [man error::pass5]\n")


def _start(stdout, words=()):
    if not any(os.path.isdir(f"{t}/events/syscalls/sys_enter_getppid")
               for t in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")):
        pytest.skip("no syscalls:sys_enter_getppid tracepoint (CONFIG_FTRACE_SYSCALLS)")
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.Popen(PYTAP + list(words) + ["-e", ON_GETPPID], cwd=CASES,
                            stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)


def _loaded_progs(p):
    """The BPF program ids the run holds, once it holds any."""
    while p.poll() is None:
        ids = _bpf_prog_ids(p.pid)
        if ids:
            return ids
        time.sleep(0.02)
    return set()


def _poke_until_exit(p):
    """getppid() until pytap has attached, printed, failed and exited."""
    deadline = time.monotonic() + TIMEOUT
    while p.poll() is None and time.monotonic() < deadline:
        os.getppid()
        time.sleep(0.02)


def _check_detached(progs):
    assert progs, "no BPF program was loaded"
    if os.uname().machine == "x86_64":
        assert not [i for i in progs if _prog_exists(i)], "BPF programs outlived pytap"


def test_full_device_is_a_write_error():
    with open("/dev/full", "w") as full:
        p = _start(full)
    try:
        progs = _loaded_progs(p)
        _poke_until_exit(p)
        _out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, err
    assert err == FULL_ERR
    _check_detached(progs)


def test_closed_pipe_ends_quietly():
    p = _start(subprocess.PIPE)
    try:
        assert p.stdout.readline() == "started\n"
        progs = _loaded_progs(p)
        p.stdout.close()             # `| head -1`: the reader is gone
        _poke_until_exit(p)
        err = p.stderr.read()
        p.wait(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert err == ""
    _check_detached(progs)


def test_shell_head_pipe_ends_quietly():
    """The literal `pytap ... | head -1` of the issue."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    cmd = (f"{sys.executable} -m pytap -e 'probe timer.ms(5) {{ println(\"x\") }}' "
           f"2>err.txt | head -1; echo \"rc=${{PIPESTATUS[0]}}\"")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["bash", "-c", cmd], cwd=d, capture_output=True, text=True,
                           timeout=TIMEOUT, env=env)
        err = open(os.path.join(d, "err.txt")).read()
    assert r.stdout == "x\nrc=0\n"
    assert err == ""


@pytest.mark.parametrize("last_pass", ["1", "2", "3"])
def test_full_device_in_early_passes(last_pass):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    with open("/dev/full", "w") as full:
        r = subprocess.run(PYTAP + ["-p" + last_pass, "-e", 'probe begin { println("x") }'],
                           cwd=CASES, stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=TIMEOUT, env=env)
    assert r.returncode == 1
    assert r.stderr == "ERROR: Couldn't write to output: No space left on device\n"
