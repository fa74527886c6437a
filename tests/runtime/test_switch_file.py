"""switch_file() and -S SIZE[,N]: stapio's output file switching (root tier).

Without -S the output starts in FILE and switch_file() continues in
FILE.1, FILE.2, ...; with -S it starts in FILE.0, a new file is begun when
SIZE MB are written, and only the last N files are kept.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]


def run_pytap(words):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.run([sys.executable, "-m", "pytap"] + words, capture_output=True, text=True,
                          timeout=60, env=env)

SCRIPT = """
global n
probe begin { println("Begin logging") }
probe timer.ms(20) {
  n++
  println("log data ", n)
  if (n % 3 == 0) switch_file()
  if (n == 7) exit()
}
probe end { println("End logging") }
"""


def test_switch_file_numbers_the_next_files(tmp_path):
    out = tmp_path / "log"
    r = run_pytap(["-o", str(out), "-e", SCRIPT])
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "log.1", "log.2"]
    assert out.read_text() == "Begin logging\nlog data 1\nlog data 2\nlog data 3\n"
    assert (tmp_path / "log.1").read_text() == "log data 4\nlog data 5\nlog data 6\n"
    assert (tmp_path / "log.2").read_text() == "log data 7\nEnd logging\n"


def test_switch_file_with_S_keeps_the_last_N(tmp_path):
    out = tmp_path / "log"
    r = run_pytap(["-S", "1,2", "-o", str(out), "-e", SCRIPT])
    assert r.returncode == 0, r.stderr
    # log.0, log.1, log.2: the oldest removed when the third starts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.1", "log.2"]
    assert (tmp_path / "log.2").read_text() == "log data 7\nEnd logging\n"


def test_switch_file_to_stdout_changes_nothing():
    r = run_pytap(["-e", "probe begin { println(1); switch_file(); println(2); exit() }"])
    assert (r.returncode, r.stdout) == (0, "1\n2\n")


def test_S_parameter_is_checked():
    r = run_pytap(["-S", "x", "-o", "/tmp/x", "-e", "probe begin { exit() }"])
    assert r.returncode == 1
    assert "Safety pattern mismatch for -S parameter ('x' vs. '^[0-9]+(,[0-9]+)?$')" in r.stderr
