"""The root runtime tier: every tests/runtime/cases/NAME.stp is run through
the real `pytap` command (all five passes, BPF loaded and attached) and its
output compared with the expectations next to it:

  NAME.stp    the script
  NAME.out    expected stdout, exactly
  NAME.args   optional extra command-line words (shell syntax) placed
              before the script; `--` splits them: words after it follow
              the script (script arguments $1/@1 ...)
  NAME.err    optional: expected stderr, exactly (default: not checked
              unless the run fails unexpectedly)
  NAME.rc     optional expected exit status (default 0)
  NAME.plan   optional: the execution plan, exactly: the `Pass 3: plan:`
              lines of `-p3 -v` (where each probe runs, what BPF captures
              for user space), paths written as {bin} and {cases}
  NAME.requires  optional: a shell command that must succeed for the case
              to run (e.g. "a block device backs /var/tmp"); the case is
              skipped otherwise, with the command as the reason

Placeholders in .args: {bin} = a tiny C program built once for uprobe
cases (tests/runtime/cases/uprobe_target.c), {cases} = the cases directory.
Scripts run with cwd = the cases directory and are named by their file
name, so error locations read `NAME.stp:LINE:COL` as with stap.

Signal, -o and -T behaviour that needs more than stdout lives in the
tests at the end of this file.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

CASES = Path(__file__).resolve().parent / "cases"
REPO = CASES.parent.parent.parent
PYTAP = [sys.executable, "-m", "pytap"]
TIMEOUT = 60


@pytest.fixture(scope="session")
def target_bin(tmp_path_factory):
    src = CASES / "uprobe_target.c"
    out = tmp_path_factory.mktemp("bin") / "uprobe_target"
    r = subprocess.run(["cc", "-O0", "-g", "-o", str(out), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot build the uprobe target with cc: {r.stderr.strip()}")
    return str(out)


def _case_names():
    return sorted(p.stem for p in CASES.glob("*.stp"))


def run_pytap(words, timeout=TIMEOUT, **kw):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.run(PYTAP + words, cwd=CASES, capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def _words(name, bin_path):
    args_file = CASES / f"{name}.args"
    before, after = [], []
    if args_file.exists():
        text = args_file.read_text().replace("{bin}", bin_path or "").replace("{cases}", str(CASES))
        words = shlex.split(text)
        if "--" in words:
            i = words.index("--")
            before, after = words[:i], words[i + 1:]
        else:
            before = words
    return before + [f"{name}.stp"] + after


@pytest.mark.parametrize("name", _case_names())
def test_case(name, request):
    req = CASES / f"{name}.requires"
    if req.exists():
        cmd = req.read_text().strip()
        if subprocess.run(["/bin/sh", "-c", cmd], capture_output=True).returncode != 0:
            pytest.skip(f"requirement not met here: {cmd}")
    needs_bin = "{bin}" in ((CASES / f"{name}.args").read_text()
                            if (CASES / f"{name}.args").exists() else "")
    bin_path = request.getfixturevalue("target_bin") if needs_bin else None
    r = run_pytap(_words(name, bin_path))
    want_rc = int((CASES / f"{name}.rc").read_text()) if (CASES / f"{name}.rc").exists() else 0
    err_file = CASES / f"{name}.err"
    detail = f"\n--- stdout\n{r.stdout}--- stderr\n{r.stderr}"
    assert r.returncode == want_rc, f"exit status {r.returncode}, wanted {want_rc}{detail}"
    assert r.stdout == (CASES / f"{name}.out").read_text(), detail
    if err_file.exists():
        assert r.stderr == err_file.read_text(), detail
    plan_file = CASES / f"{name}.plan"
    if plan_file.exists():
        p = run_pytap(["-p3", "-v"] + _words(name, bin_path))
        plan = "".join(line + "\n" for line in p.stderr.splitlines()
                       if line.startswith("Pass 3: plan: "))
        if bin_path:
            plan = plan.replace(bin_path, "{bin}")
        plan = plan.replace(str(CASES), "{cases}")
        assert plan == plan_file.read_text(), f"plan:\n{plan}--- stderr\n{p.stderr}"


# ------------------------------------------------------------ beyond stdout

SLOW_SCRIPT = """\
global n
probe begin { println("started") }
probe timer.ms(10) { n++ }
probe end { printf("end ran, ticks>0: %d\\n", n > 0) }
"""


def _start(script, extra=()):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.Popen(PYTAP + list(extra) + ["-e", script], cwd=CASES,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _bpf_prog_ids(pid):
    """BPF program ids held open by a process (its fdinfo `prog_id:` lines)."""
    ids = set()
    fd_dir = f"/proc/{pid}/fdinfo"
    for name in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, name)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def _prog_exists(prog_id):
    """bpf(BPF_PROG_GET_FD_BY_ID): does the kernel still hold this program?"""
    import ctypes
    import errno
    libc = ctypes.CDLL(None, use_errno=True)
    attr = (ctypes.c_uint32 * 32)()
    attr[0] = prog_id
    fd = libc.syscall(321, 13, ctypes.byref(attr), ctypes.sizeof(attr))  # x86-64 bpf()
    if fd >= 0:
        os.close(fd)
        return True
    return ctypes.get_errno() != errno.ENOENT


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_runs_end_probes(sig):
    p = _start(SLOW_SCRIPT)
    try:
        assert p.stdout.readline() == "started\n"
        time.sleep(0.5)          # begin ran; probes are armed right after
        progs = _bpf_prog_ids(p.pid)
        if os.uname().machine == "x86_64":
            assert all(_prog_exists(i) for i in progs)   # the check itself works
        p.send_signal(sig)
        out, err = p.communicate(timeout=TIMEOUT)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out == "end ran, ticks>0: 1\n", err
    assert "Traceback" not in err
    assert progs, "the timer handler was not loaded"
    if os.uname().machine == "x86_64":
        assert not [i for i in progs if _prog_exists(i)], "BPF programs outlived pytap"


def test_output_file(tmp_path):
    dest = tmp_path / "out.txt"
    r = run_pytap(["-o", str(dest), "-e",
                   'probe begin { println("to file") } probe timer.ms(5) { println("tick"); exit() }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert dest.read_text() == "to file\ntick\n"


def test_output_file_unwritable():
    r = run_pytap(["-o", "/nonexistent-dir/x", "-e", "probe begin { exit() }"])
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "/nonexistent-dir/x" in r.stderr


def test_timeout_stops_and_runs_end():
    t0 = time.monotonic()
    r = run_pytap(["-T", "1", "-e",
                   'probe timer.s(2) { println("never") } probe end { println("end") }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "end\n"
    assert time.monotonic() - t0 < 20


def test_timer_period_beyond_32_bits():
    """timer.s(30): 3e10 ns does not fit a C int (BCC declares
    bpf_attach_perf_event's argument types under a misspelt attribute, so
    Python ints are passed as int unless wrapped in c_ulonglong)."""
    r = run_pytap(["-T", "1", "-e",
                   'probe timer.s(30) { println("never") } probe end { println("end") }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "end\n"


def test_target_command_output_passes_through():
    r = run_pytap(["-c", "echo hello from cmd", "-e",
                   'probe begin { printf("target is %d\\n", target() > 0) } '
                   'probe end { println("end") }'])
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == ["end", "hello from cmd", "target is 1"]
    assert r.stdout.index("target is 1") < r.stdout.index("end")


def test_flood_still_stops_on_time():
    """A probe firing on every syscall (our own writes included) floods
    the ring buffer; -T must still end the run promptly."""
    t0 = time.monotonic()
    r = run_pytap(["-T", "1", "-e",
                   'probe kernel.trace("raw_syscalls:sys_enter") { printf("%d %s\\n", $id, execname()) }'])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count("\n") > 100
    assert time.monotonic() - t0 < 30


def test_p4_loads_kprobe_programs_without_attaching():
    """-p4 verifies every handler, kprobes included, even on a kernel
    without kprobes: nothing is attached."""
    r = run_pytap(["-p4", "-e", 'probe kernel.function("vfs_read") { printf("%d\\n", $count) } '
                                'probe timer.ms(100) { println("x") }'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


def test_not_root_is_one_paragraph(tmp_path):
    import shutil
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed: cannot drop root for the test")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONPATH=str(REPO))
    os.chmod(tmp_path, 0o777)
    r = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                        sys.executable, "-m", "pytap", "-e", "probe begin { exit() }"],
                       cwd="/", capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert r.returncode == 1
    assert "needs root privileges" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.rstrip().endswith("Pass 5: run failed.  [man error::pass5]")


def test_compile_error_names_the_script_line(tmp_path):
    script = tmp_path / "bad.stp"
    script.write_text('function f:long () %{ /* bpf */ STAP_RETURN(undefined_xyz); %}\n'
                      'probe timer.ms(1) {\n  x = f()\n  println(x)\n}\n')
    r = run_pytap(["-g", "-p4", str(script)])
    assert r.returncode == 1
    assert "undeclared identifier 'undefined_xyz'" in r.stderr
    assert f"at {script}:1:10" in r.stderr
    assert "source: function f:long ()" in r.stderr
    assert r.stderr.rstrip().endswith("Pass 4: compilation failed.  [man error::pass4]")
    assert "Traceback" not in r.stderr
