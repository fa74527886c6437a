"""Our matching against `stap -p2` on this machine (marked oracle): the
concrete points (with stap's annotations) or the resolution error text must
be the same.  Tracepoints are left out: stap reads them from the kernel
headers (6.1 here), we from the running kernel's tracefs."""
import re
import shutil
import subprocess

import pytest

from pytap import probes
from pytap.diagnostics import StapError
from pytap.platform import current
from pytap.probes.core import point_from_text, point_to_text

pytestmark = pytest.mark.oracle

CASES = [
    "begin(-5)", "end", "error(3)", "never", "begin(0x10)",
    "timer.s(3)", "timer.sec(1)", "timer.ms(100).randomize(10)", "timer.ms(100).randomize(100)",
    "timer.hz(100)", "timer.jiffies(5)", "timer.jiffies(1000000)", "timer.ns(100000)",
    "timer.us(100)", "timer.*(1)", "tim*.s(1)",
    "timer.s(0)", "timer.s(86401)", "timer.ns(10)", "timer.us(1)", "timer.hz(0)",
    "timer.hz(2000000000)", "timer.jiffies(1000001)", "timer.ms(100).randomize(200)",
    "timer.s", 'timer.s("a")', "timer.hz(100).randomize(3)", "timer",
    "timer.profile", "timer.profile.tick", "perf.sw.cpu_clock", "perf.sw.cpu_clock.sample(1000)", "perf.hw.cpu_cycles",
    "perf.sw.page_faults.hz(7)", "perf.type(1).config(0)", "perf.type(1).config(0).sample(5)",
    "perf.type(1).config(0).hz(5)", "perf.type(1)", "perf.type(1).config(0).sample(0)",
    "perf.type(1).config(0).sample(2).hz(4)", 'perf.type(1).config(0).process("/tmp/x")',
    "perf", "perf.sw",
    'kprobe.function("vfs_read")', 'kprobe.function("vfs_rea*").return',
    'kprobe.function("vfs_read").call', 'kprobe.function("vfs_read").return.maxactive(10)',
    'kprobe.function("__x64_sys_*")', 'kprobe.function("*.cold")',
    'kprobe.module("ext4").function("ext4_file_read_iter")',
    'kprobe.module("nonexist").function("foo*")',
    'kprobe.function("vfs_read").foo', "kprobe.function(1)", "kprobe",
    "begin.x", "process.begin", "process.end", 'process("true").begin', 'process("/nonexist").begin',
    "process(1).begin", "process(999999).end", "process.syscall", 'process("true").syscall.return', "process.thread.begin",
    'process("true").thread.end', 'process.function("main")', "perf.type(1).config(0).process",

]


def stap_p2(text):
    r = subprocess.run(["stap", "-p2", "-e", f"probe {text} {{ print(1) }}"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode == 0:
        pts = []
        for line in r.stdout.splitlines():
            m = re.match(r"^(\S.*?) /\* <- ", line)
            if m and not line.startswith("#"):
                pts.append(m.group(1))
        return pts, None
    errs = [l for l in r.stderr.splitlines() if l.startswith("semantic error: ")
            and "while resolving probe point" not in l]
    msg = errs[0][len("semantic error: "):] if errs else r.stderr
    return None, msg


def ours(text):
    try:
        rps = probes.resolve(point_from_text(text, file="<input>"), current())
    except StapError as e:
        where = f": {e.tok_desc} at :1:{e.loc.col + 6}" if e.loc else ""
        return None, e.message + where
    if not rps:
        return None, probes.explain_no_match(point_from_text(text), current()).message
    return [point_to_text(rp.point) + rp.annotation for rp in rps], None


@pytest.mark.skipif(shutil.which("stap") is None, reason="SystemTap (stap) is not installed")
@pytest.mark.parametrize("text", CASES)
def test_same_as_stap(text):
    assert ours(text) == stap_p2(text)


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build binaries to compare")
    d = tmp_path_factory.mktemp("oracle_elf")
    src = d / "t.c"
    src.write_text("int foo(int a, long b){return a+b;}\nint bar(const char*s){return s[0];}\n"
                   "int main(int c,char**v){return foo(c,2)+bar(v[0]);}\n")
    pie, nopie = d / "pie", d / "nopie"
    subprocess.run(["gcc", "-O0", "-o", str(pie), str(src)], check=True)
    subprocess.run(["gcc", "-O0", "-no-pie", "-o", str(nopie), str(src)], check=True)
    return str(pie), str(nopie)


@pytest.mark.skipif(shutil.which("stap") is None, reason="SystemTap (stap) is not installed")
@pytest.mark.parametrize("tail", ['function("*")', 'function("f*").return', 'function("main").call',
                                  'function("nothere")'])
def test_uprobes_same_as_stap(binaries, tail):
    for path in binaries:
        text = f'process("{path}").{tail}'
        theirs = stap_p2(text)
        mine = ours(text)
        if theirs[1] is not None:           # stap's no-match suggestions order ties its own way
            assert mine[0] is None and mine[1].startswith("no match")
            assert theirs[1].startswith("no match")
        else:
            assert mine == theirs


@pytest.mark.skipif(shutil.which("stap") is None, reason="SystemTap (stap) is not installed")
@pytest.mark.parametrize("text", ['kernel.trace("sched:sched_switch")',
                                  'kernel.trace("sched:sched_process_exec")',
                                  'kernel.trace("raw_syscalls:sys_enter")',
                                  "process.begin", "process.syscall", "timer.s(1)",
                                  'kprobe.function("vfs_read")'])
def test_listing_variables_same_as_stap_L(text):
    r = subprocess.run(["stap", "-L", text], capture_output=True, text=True, timeout=120)
    theirs = r.stdout.strip()
    [rp] = probes.resolve(point_from_text(text), current())
    mine = " ".join([point_to_text(rp.point)] + [f"${v.name}:{v.c_type}" for v in rp.listing_variables()])
    assert mine == theirs
