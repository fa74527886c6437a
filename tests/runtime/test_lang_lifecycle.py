"""Run-lifecycle checks beyond the per-case files: every way out of a run
(-T, SIGTERM, the -c command exiting, a run-time error with -c) runs end
probes (or error probes) and prints the write-only globals a BPF handler
filled, and never leaves the -c command behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parent.parent.parent
PYTAP = [sys.executable, "-m", "pytap"]
TIMEOUT = 60

# ticks is read (its ++ value is used), hits is write-only: printed at exit
# after the end probe, like stap.
FILL = ('global ticks, hits\n'
        'probe timer.ms(5) { if (ticks++ < 3) hits["t"]++ }\n'
        'probe end { printf("end ticks>=3: %d\\n", ticks >= 3) }\n')


def _env():
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return env


def run(words, **kw):
    return subprocess.run(PYTAP + words, capture_output=True, text=True,
                          timeout=TIMEOUT, env=_env(), **kw)


def test_timeout_prints_write_only_globals():
    r = run(["-T", "1", "-e", FILL])
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'end ticks>=3: 1\nhits["t"]=3\n'


def test_sigterm_prints_write_only_globals():
    # -v: wait for the run to start (a signal in an earlier pass stops that
    # pass instead: pytap/interrupts.py), then let the timer tick
    p = subprocess.Popen(PYTAP + ["-v", "-e", FILL], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=_env())
    try:
        head = ""
        for line in p.stderr:
            head += line
            if line.startswith("Pass 5: starting run"):
                break
        time.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        err = head + err
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out == 'end ticks>=3: 1\nhits["t"]=3\n'
    assert "Traceback" not in err


def test_command_exit_ends_run():
    t0 = time.monotonic()
    r = run(["-c", "sleep 0.5", "-e", FILL])
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'end ticks>=3: 1\nhits["t"]=3\n'
    assert time.monotonic() - t0 < 20


def test_runtime_error_with_command_stops_it():
    """A division by zero in a BPF handler ends the run at once (error
    probe, no end probe, status 1) even though the -c command would run on."""
    script = ('global z\n'
              'probe timer.ms(20) { x = 1 / z; println(x) }\n'
              'probe error { println("error probe") }\n'
              'probe end { println("end must not run") }\n')
    t0 = time.monotonic()
    r = run(["-c", "sleep 30", "-e", script])
    assert r.returncode == 1
    assert r.stdout == "error probe\n"
    assert "ERROR: division by 0 near operator '/' at <input>:2:28" in r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 20


def test_verifier_budget_is_one_clear_paragraph(tmp_path):
    """A loop of string searches in a BPF handler exceeds the verifier's
    budget (E2BIG): the message says so, names the probe line, and does not
    repeat libbcc's misleading "at most 4096 insns"."""
    script = tmp_path / "big.stp"
    script.write_text('probe timer.ms(1) { s = ""; i = 0; n = 0; while (i < 200) '
                      '{ if (isinstr(s, sprintf("%d", i))) n++; s = substr(s . sprint(i % 10), 0, 100); i++ } '
                      'printf("%d\\n", n); exit() }\n')
    r = run(["-p4", str(script)])
    assert r.returncode == 1
    assert "too complex to verify" in r.stderr and "4096" not in r.stderr
    assert f"at {script}:1:" in r.stderr
    assert r.stderr.rstrip().endswith("Pass 4: compilation failed.  [man error::pass4]")
    assert "Traceback" not in r.stderr


def test_process_begin_fires_for_preexisting_process():
    """stapprobes: process.begin is called once in the context of each
    preexisting matching process at startup (by PID, by path, -x target)."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        pid = sleeper.pid
        r = run(["-e", 'probe process($1).begin { printf("pid %s %d\\n", execname(), pid() == $1) } '
                       'probe process("/bin/sleep").begin { if (pid() == $1) println("path ", execname()) } '
                       'probe timer.ms(20) { exit() }', str(pid)])
        assert r.returncode == 0, r.stderr
        assert r.stdout == "pid sleep 1\npath sleep\n"
        r = run(["-x", str(pid), "-e", 'probe process.begin { printf("x %s %d\\n", execname(), '
                                       'pid() == target()) } probe timer.ms(20) { exit() }'])
        assert r.returncode == 0, r.stderr
        assert r.stdout == "x sleep 1\n"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_output_file_gets_end_and_globals(tmp_path):
    dest = tmp_path / "o.txt"
    r = run(["-o", str(dest), "-e", 'global w probe timer.ms(1) { w = 3; println("tick"); exit() } '
                                    'probe end { println("end") }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert dest.read_text() == "tick\nend\nw=3\n"
