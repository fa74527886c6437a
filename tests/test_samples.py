"""The sample scripts in samples/ (what users try first) keep working.

- every sample parses (pytap -p1), and its -p1 text equals stap's (oracle);
- samples whose -p2 text uses no tapset function match stap -p2 (oracle);
- hello and timer_alias run and print exactly what stap prints (root);
- the tracing samples run for a moment and print their report (root).
"""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted((REPO / "samples").glob("*.stp"))
IDS = [s.stem for s in SAMPLES]


def pytap(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "pytap", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def stap(*args):
    return subprocess.run(["stap", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_there_are_samples():
    assert {"hello", "timer_alias"} <= set(IDS)


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_sample_parses(sample):
    r = pytap("-p1", sample.relative_to(REPO))
    assert r.returncode == 0, r.stderr


@pytest.mark.oracle
@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_sample_p1_matches_stap(sample):
    rel = sample.relative_to(REPO)
    want = stap("-p1", rel)
    got = pytap("-p1", rel)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), got.stderr


@pytest.mark.oracle
@pytest.mark.parametrize("name", ["timer_alias"])
def test_sample_p2_matches_stap(name):
    rel = f"samples/{name}.stp"
    want = stap("-p2", rel)
    got = pytap("-p2", rel)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), got.stderr


@pytest.mark.root
def test_hello_runs():
    r = pytap("samples/hello.stp")
    assert (r.returncode, r.stdout) == (0, "hello world\n"), r.stderr


@pytest.mark.root
def test_timer_alias_runs():
    # timer.s(3) fires once within 4 seconds: prologue alias first, epilogue last.
    r = pytap("-T", "4", "samples/timer_alias.stp")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Entering timer\nIn timer \nIn timer \nLeaving timer\n"


@pytest.mark.root
@pytest.mark.parametrize("name,seconds,expect", [
    ("syscalls_by_name", 6, "COMMAND"),
    ("top", 3, "PID COMMAND"),
    ("read_sizes", 2, "read(2) sizes in bytes:"),
])
def test_tracing_sample_reports(name, seconds, expect):
    r = pytap("-T", seconds, f"samples/{name}.stp")
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout, r.stdout


@pytest.mark.root
def test_uprobe_readline_sees_typed_lines():
    # bash uses readline only on a terminal: `script` gives it a pty, and -c
    # starts it once the uprobe is attached.
    import re
    import shutil
    if not shutil.which("script"):
        pytest.skip("util-linux `script` is not installed")
    r = subprocess.run([sys.executable, "-m", "pytap", "-c",
                        "script -qc 'bash --norc -i' /dev/null",
                        "samples/uprobe_readline.stp"],
                       cwd=REPO, input="echo hello-from-bash\nexit\n",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+: echo hello-from-bash$", r.stdout, re.M), r.stdout
    assert re.search(r"^\d+: exit$", r.stdout, re.M), r.stdout
