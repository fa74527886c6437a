"""exit() from a kernel.function(...).return handler while vfs_read floods
the ring buffer, run several times in one boot (VM tier: needs kprobes;
issue 10 item 5).

The BPF exit() moves the run state to "stopping" and then sends an exit
record; with the ring buffer full the record was lost, every later exit()
saw the state already moved and sent nothing, and the run waited forever
(end probes never ran).  User space now also watches the state slot.

How the test keeps a slow TCG guest from looking like a hang:
- the script is compiled once first (`-p4`, no flood): kprobe programs
  replay from the compiled-object cache, so no run compiles under the flood;
- the flood starts only once the probes fire (a trickle of reads gives the
  first output line), or, with -c, is the -c command itself (released after
  attach);
- every run has its own timeout: a run that does not end is dumped
  (faulthandler on SIGQUIT: every Python thread's stack, plus the kernel
  stacks of its threads), killed with its process group, and fails the test
  at once instead of stalling the tier.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Opt-in (PYTAP_EXIT_RACE=1): on a fresh clone (cold compiled-object
# cache) this test did not finish within the VM tier's 1800 s under TCG, and
# a killed VM fails every test after it.  Run it on its own boot:
#   PYTAP_EXIT_RACE=1 scripts/vm_tests.sh tests/vm/test_exit_race.py
pytestmark = [pytest.mark.vm,
              pytest.mark.skipif(os.environ.get("PYTAP_EXIT_RACE") != "1",
                                 reason="opt-in: PYTAP_EXIT_RACE=1 (slow under TCG on a cold cache)")]

REPO = Path(__file__).resolve().parent.parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
RUNS = int(os.environ.get("PYTAP_EXIT_RACE_RUNS", "3"))
RUN_TIMEOUT = int(os.environ.get("PYTAP_EXIT_RACE_TIMEOUT", "240"))

SCRIPT = """
global calls
probe kernel.function("vfs_read") { printf("read %d\\n", pid()) }
probe kernel.function("vfs_read").return { calls++; if (calls > 300) exit() }
probe end { printf("end ran: %d\\n", calls > 300) }
"""

# pytap with a SIGQUIT handler that prints every thread's Python stack
BOOT = ("import faulthandler, signal, sys; "
        "faulthandler.register(signal.SIGQUIT, all_threads=True); "
        "from pytap.cli import main; sys.argv[0] = 'pytap'; sys.exit(main())")
FLOOD = ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=1000000000", "status=none"]


def pytap(*args):
    return [str(PYTHON), "-c", BOOT, *args]


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("exit_race") / "exit_race.stp"
    path.write_text(SCRIPT)
    # compile (and cache) before any flood: under TCG a compile takes minutes
    r = subprocess.run(pytap("-p4", str(path)), cwd=REPO, capture_output=True, text=True,
                       timeout=1200, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return path


def _kernel_stacks(pid: int) -> str:
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ""
    for tid in tids:
        try:
            stack = Path(f"/proc/{pid}/task/{tid}/stack").read_text()
        except OSError:
            stack = "?"
        out.append(f"thread {tid}:\n{stack}")
    return "".join(out)


def run_once(script: Path, with_c: bool):
    """One run under a flood of reads: (returncode, stdout, stderr), or a
    failure with the stacks of a run that did not end."""
    args = ["-c", " ".join(FLOOD)] if with_c else []
    p = subprocess.Popen(pytap(*args, str(script)), cwd=REPO, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    out, err = [], []
    fired = threading.Event()

    def collect(stream, into, event=None):
        for line in iter(stream.readline, b""):
            into.append(line)
            if event is not None:
                event.set()

    readers = [threading.Thread(target=collect, args=(p.stdout, out, fired), daemon=True),
               threading.Thread(target=collect, args=(p.stderr, err), daemon=True)]
    for t in readers:
        t.start()
    flood = None
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        if not with_c:
            # reads of our own until the probes fire, then the flood
            while not fired.is_set() and p.poll() is None and time.monotonic() < deadline:
                Path("/etc/hostname").read_bytes()
                fired.wait(0.2)
            if p.poll() is None:
                flood = subprocess.Popen(FLOOD, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGQUIT)      # faulthandler: Python stacks on stderr
            time.sleep(3)
            kstacks = _kernel_stacks(p.pid)
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            for t in readers:
                t.join(10)
            text = b"".join(err).decode(errors="replace")
            dmesg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
            pytest.fail(f"run did not end within {RUN_TIMEOUT}s (-c: {with_c}); "
                        f"{len(out)} output lines; stderr:\n{text[-6000:]}\nkernel stacks:\n{kstacks}"
                        f"\ndmesg:\n{dmesg[-2000:]}")
    finally:
        if flood is not None:
            flood.kill()
            flood.wait()
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    for t in readers:
        t.join(30)
    return (p.returncode, b"".join(out).decode(errors="replace"),
            b"".join(err).decode(errors="replace"))


@pytest.mark.parametrize("with_c", [False, True], ids=["plain", "with_c"])
def test_exit_in_return_probe_always_ends_the_run(script, with_c):
    for i in range(RUNS):
        rc, out, err = run_once(script, with_c)
        assert rc == 0, (i, err[-2000:])
        assert out.endswith("end ran: 1\n"), (i, out[-300:], err[-2000:])
