"""procfs probes and input.* beyond what a case file can show: standard
input, the files' removal on every way out, runs that cannot share a
directory (pytap/runtime/procfs.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

BASE = "/var/tmp/systemtap-root"
REPO = Path(__file__).resolve().parent.parent.parent
PYTAP = [sys.executable, "-m", "pytap"]


def _env():
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    env.pop("PYTAP_PROCFS_DIR", None)
    return env


def run_pytap(words):
    return subprocess.run(PYTAP + words, capture_output=True, text=True, timeout=60,
                          env=_env())


def test_input_line_and_char_from_stdin():
    script = ('probe input.char { printf("[%s]", char) } '
              'probe input.line { printf("line=%s", line); if (++n == 2) exit() } global n')
    r = subprocess.run(PYTAP + ["-e", script], input="ab\ncd\n", capture_output=True,
                       text=True, timeout=60, env=_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[a][b][\n]line=ab\n[c][d][\n]line=cd\n"


def _wait_for(path, proc, limit=60.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_files_removed_after_sigterm():
    d = f"{BASE}/pfterm"
    proc = subprocess.Popen(PYTAP + ["-m", "pfterm", "-e",
                                     'probe procfs("x/y").read { $value = "1\\n" }'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    try:
        _wait_for(f"{d}/x/y", proc)
        with open(f"{d}/x/y") as f:           # served while running
            assert f.read() == "1\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert not os.path.exists(d)


def test_second_run_of_one_module_is_refused():
    script = 'probe procfs("f").read { $value = "1\\n" }'
    first = subprocess.Popen(PYTAP + ["-m", "pfbusy", "-e", script],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=_env())
    try:
        _wait_for(f"{BASE}/pfbusy/f", first)
        r = run_pytap(["-m", "pfbusy", "-T", "1", "-e", script])
        assert r.returncode == 1
        assert (f"ERROR: procfs directory {BASE}/pfbusy is in use by another run; "
                "name this one with -m NAME") in r.stderr
        assert os.path.exists(f"{BASE}/pfbusy/f")     # the first run's files stay
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert not os.path.exists(f"{BASE}/pfbusy")


def test_read_and_write_probe_on_one_path_is_refused():
    r = run_pytap(["-T", "1", "-e", 'probe procfs("a").read { $value = "x" } '
                                    'probe procfs("a").write { print($value) }'])
    assert r.returncode == 1
    assert 'both read and write procfs probes cannot exist for the same procfs path "a"' \
        in r.stderr


def test_input_from_a_terminal_is_per_character_without_echo():
    import pty
    import select
    script = ('probe begin { println("Ready") } probe input.char { printf("[%s]", char) } '
              'probe input.line { printf("line=%s", line); if (line == "quit\\n") exit() }')
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.setdefault("PYTHONPATH", str(REPO))
        os.execv(sys.executable, PYTAP + ["-T", "60", "-e", script])
    out = b""

    def read_some():
        nonlocal out
        if select.select([fd], [], [], 60)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            out += chunk
            return bool(chunk)
        return False

    try:
        while b"Ready" not in out:
            assert read_some(), out
        os.write(fd, b"ab")                     # no newline: still delivered
        while b"[b]" not in out:
            assert read_some(), out
        os.write(fd, b"\nquit\n")
        while read_some():
            pass
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    # the terminal's echo is off: only the script's own output
    assert out == b"Ready\r\n[a][b][\r\n]line=ab\r\n[q][u][i][t][\r\n]line=quit\r\n"
