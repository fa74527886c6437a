"""A handler that reads TP_PROTO arguments and record fields of one
tracepoint uses two programs on the event (see Generator._tp_arg_saver).
The kernel calls them in the order their probes were registered, which
is reversed when another perf user of the event was there first: both
orders must give the same answers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

CASES = Path(__file__).resolve().parent / "cases"
REPO = CASES.parent.parent.parent


def _env():
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return env


@pytest.mark.parametrize("case", ["tp_args_with_fields", "tp_template_args"])
def test_mixed_handler_after_another_tracer_of_the_event(case, tmp_path):
    event = {"tp_args_with_fields": "sched:sched_switch", "tp_template_args": "sched:sched_wakeup"}[case]
    other = tmp_path / "other.stp"
    # a classic tracepoint program on the same event, attached before ours
    other.write_text(f'probe begin {{ println("ready") }}\n'
                     f'probe kernel.trace("{event}") {{ if (pid() < 0) println(1) }}\n')
    bg = subprocess.Popen([sys.executable, "-m", "pytap", str(other)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert bg.stdout.readline().strip() == "ready"
        r = subprocess.run([sys.executable, "-m", "pytap", f"{case}.stp"], cwd=CASES, capture_output=True,
                           text=True, timeout=90, env=_env())
        assert r.returncode == 0, r.stderr
        assert r.stdout == (CASES / f"{case}.out").read_text()
    finally:
        bg.terminate()
        bg.wait(timeout=30)
