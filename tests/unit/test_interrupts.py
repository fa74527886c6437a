"""SIGINT / SIGTERM stop any pass before the run (pytap/interrupts.py): the
pass being run is named, the exit status is 1, nothing is left behind."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
STAP_TAPSETS = "/usr/share/systemtap/tapset"


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


WORKER = r"""
import os, signal, sys, threading, time
from pytap import interrupts
interrupts.install()
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIG%s)).start()
try:
    interrupts.call_interruptibly(time.sleep, 60)   # a call that stays out of Python
except interrupts.Interrupted as e:
    print("interrupted", signal.Signals(e.signum).name, interrupts.worker_busy())
"""


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_blocking_call_is_left_when_a_signal_comes(sig):
    r = subprocess.run([sys.executable, "-c", WORKER % sig], capture_output=True, text=True,
                       timeout=50, env=_env())
    assert r.stdout == f"interrupted SIG{sig} True\n", r.stderr


@pytest.mark.skipif(not os.path.isdir(STAP_TAPSETS), reason="SystemTap tapsets not installed")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_elaboration_stops_it(sig):
    # elaborating every nd_syscall probe over stap's own tapsets takes far
    # longer than the pause before the signal
    p = subprocess.Popen([sys.executable, "-m", "pytap", "-p2", "--runtime=kernel", "-e",
                          "probe nd_syscall.* {}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=_env(PYTAP_TAPSET=STAP_TAPSETS))
    time.sleep(3)
    p.send_signal(sig)
    out, err = p.communicate(timeout=50)
    assert p.returncode == 1
    assert re.fullmatch(rf"Pass [12]: (parse|analysis) interrupted by {sig.name}\.\n", err), err
    assert out == ""
