"""`-c CMD` traces only the command: between the go signal and execve the
child makes no system call of pytap's own, so a script counting target()'s
system calls sees exactly what strace sees for the same command."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

import pytest

from tests.runtime.test_cases import run_pytap

pytestmark = pytest.mark.root

SCRIPT = """
probe kernel.trace("raw_syscalls:sys_enter") { if (pid() == target()) printf("%d\\n", $id) }
"""


def _strace_calls(argv):
    r = subprocess.run(["strace", "-f", "-qq", *argv], capture_output=True, text=True, timeout=60)
    # one line per call; exit_group never returns but is listed ("= ?")
    return [ln.split("(", 1)[0] for ln in r.stderr.splitlines() if "(" in ln and not ln.startswith("+++")]


@pytest.mark.skipif(os.geteuid() != 0, reason="running BPF needs root")
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_target_sees_only_the_commands_system_calls(tmp_path):
    script = tmp_path / "ids.stp"
    script.write_text(SCRIPT)
    r = run_pytap(["-c", "/bin/true", str(script)])
    assert r.returncode == 0, r.stderr
    ids = [int(x) for x in r.stdout.split()]
    names = _strace_calls(["/bin/true"])
    assert len(ids) == len(names), (ids, names)
    assert names[0] == "execve"
    if platform.machine() == "x86_64":
        assert ids[0] == 59 and ids[-1] == 231      # execve ... exit_group
