"""Stacks and symbols (tapsets/stacks.stp, runtime/stacks.py) and SDT
markers (probes/sdt.py), through the real pytap command (root)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
PYTAP = [sys.executable, "-m", "pytap"]


def run(words, timeout=90):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(REPO))
    return subprocess.run(PYTAP + words, capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env)


FULL = re.compile(r"^ 0x[0-9a-f]+ : [\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+ \[kernel\]$")


def test_kernel_stack_from_syscall_tracepoint():
    r = run(["-c", "sleep 0.2", "-e", '''
global bt
probe kernel.trace("raw_syscalls:sys_enter") {
  if (execname() == "sleep" && bt == "") { bt = backtrace(); print_backtrace(); exit() }
}
probe end {
  found = 0
  s = tokenize(bt, " ")
  while (s != "") { if (symname(strtol(s, 16)) == "do_syscall_64") found++; s = tokenize("", " ") }
  printf("do_syscall_64 in backtrace(): %d\\n", found)
}'''])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "do_syscall_64 in backtrace(): 1"
    frames = lines[:-1]
    assert frames and all(FULL.match(ln) for ln in frames), frames
    assert any(" : do_syscall_64+0x" in ln for ln in frames)


def test_symname_symdata_of_a_kallsyms_address():
    addr = None
    with open("/proc/kallsyms") as f:
        for line in f:
            a, t, name = line.split()[:3]
            if name == "do_syscall_64":
                addr = int(a, 16)
                break
    assert addr
    r = run(["-e", f'''probe kernel.trace("raw_syscalls:sys_enter") {{
  printf("%s|%s|%s\\n", symname({addr:#x}), symdata({addr:#x} + 3), modname({addr:#x})); exit() }}'''])
    assert r.returncode == 0, r.stderr
    # (both CPUs may hit the event before exit() stops the probes)
    first = r.stdout.splitlines()[0]
    assert re.fullmatch(r"do_syscall_64\|do_syscall_64\+0x3/0x[0-9a-f]+ \[kernel\]\|kernel", first), r.stdout
    # the interpreter's twins give the same text
    r = run(["-e", f'probe begin {{ printf("%s|%s\\n", symname({addr:#x}), symdata({addr:#x})); exit() }}'])
    assert re.fullmatch(r"do_syscall_64\|do_syscall_64\+0x0/0x[0-9a-f]+ \[kernel\]\n", r.stdout), r.stdout


@pytest.fixture(scope="module")
def fp_bin(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build the frame-pointer test program")
    d = tmp_path_factory.mktemp("stk")
    src = d / "fp.c"
    src.write_text("""#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return x * 2 + getpid() % 2; }
__attribute__((noinline)) int middle(int x) { return leaf(x) + 1; }
int main(void) { int r = middle(20); usleep(300000); return r > 1000; }
""")
    out = d / "fp"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(out), str(src)], check=True)
    return str(out)


def test_user_stack_shows_main(fp_bin):
    r = run(["-c", fp_bin, "-e", f'''
global s
probe process("{fp_bin}").function("leaf") {{
  print_ubacktrace_brief(); printf("%s|%s\\n", usymname(uaddr()), usymdata(uaddr())); s[ubacktrace()] <<< 1
}}
probe end {{ foreach (k in s) print_ustack(k) }}'''])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["leaf+0x0", "middle+0x15", "main+0x12"] or \
        [ln.split("+")[0] for ln in lines[:3]] == ["leaf", "middle", "main"], lines
    assert lines[4] == f"leaf|leaf+0x0/0x{lines[4].split('/0x')[1].split(' ')[0]} [{fp_bin}]"
    ustack = [ln for ln in lines[5:] if ln.startswith(" 0x")]
    assert re.fullmatch(r" 0x[0-9a-f]+ : leaf\+0x0/0x[0-9a-f]+ \[" + re.escape(fp_bin) + r"\]", ustack[0])
    assert any(re.fullmatch(r" 0x[0-9a-f]+ : main\+0x[0-9a-f]+/0x[0-9a-f]+ \[" + re.escape(fp_bin) + r"\]", ln)
               for ln in ustack), ustack


def test_profile_sample_prints_folded_stacks():
    r = run([str(REPO / "samples" / "profile_folded.stp"), "1", "20"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert 0 < len(lines) <= 20
    for ln in lines:
        assert re.fullmatch(r"[^ ;]+(;[^ ;]+)* \d+", ln), ln
    assert any(int(ln.rsplit(" ", 1)[1]) > 1 for ln in lines)


def test_sdt_listing_python():
    py = "/usr/bin/python3.11"
    if not os.path.exists(py):
        pytest.skip("no /usr/bin/python3.11 with SDT markers")
    r = run(["-L", f'process("{py}").mark("function__*")'])
    assert r.stdout.splitlines() == [
        f'process("{py}").mark("function__entry") $arg1:long $arg2:long $arg3:long',
        f'process("{py}").mark("function__return") $arg1:long $arg2:long $arg3:long']
    r = run(["-p2", "-e", f'probe process("{py}").mark("nope") {{}}'])
    assert r.returncode != 0
    assert "no match (similar marks:" in r.stderr


def test_sdt_python_function_entry_under_c():
    """Python's markers sit behind semaphores, raised by the kernel's uprobe
    reference counter while pytap is attached.  CPython 3.11 takes its
    function__entry path only while tracing is on, which the `line`
    marker's semaphore turns on: the script probes both (as one must with
    stap on this Python)."""
    py = "/usr/bin/python3.11"
    if not os.path.exists(py):
        pytest.skip("no /usr/bin/python3.11 with SDT markers")
    r = run(["-c", "/usr/bin/python3 -c 'import json; json.dumps(1)'", "-e", f'''
global lines
probe process("{py}").mark("function__entry") {{
  if (pid() == target() && user_string($arg2) == "dumps")
    printf("%s %s %s %d %d\\n", $$provider, $$name, user_string($arg2), @defined($arg3), @defined($arg4))
}}
probe process("{py}").mark("line") {{ if (pid() == target()) lines++ }}
probe end {{ printf("lines seen: %d\\n", lines > 0) }}'''])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "python function__entry dumps 1 0\nlines seen: 1\n"


_MINI_SDT = r'''
/* a minimal <sys/sdt.h> STAP_PROBE1 (no semaphore): one .note.stapsdt entry
   (systemtap-sdt-dev is not needed to build the test program) */
#define MY_PROBE1(prov, name, arg) __asm__ __volatile__ ( \
  "990: nop\n" ".pushsection .note.stapsdt,\"?\",\"note\"\n" ".balign 4\n" \
  ".4byte 992f-991f, 994f-993f, 3\n" "991: .asciz \"stapsdt\"\n" "992: .balign 4\n" \
  "993: .8byte 990b\n" ".8byte _.stapsdt.base\n" ".8byte 0\n" \
  ".asciz \"" #prov "\"\n" ".asciz \"" #name "\"\n" ".asciz \"%n[s1]@%[a1]\"\n" \
  "994: .balign 4\n" ".popsection\n" ".ifndef _.stapsdt.base\n" \
  ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n" \
  ".weak _.stapsdt.base\n" ".hidden _.stapsdt.base\n" "_.stapsdt.base: .space 1\n" \
  ".size _.stapsdt.base, 1\n" ".popsection\n" ".endif\n" \
  :: [s1] "n" (4), [a1] "nor" ((int)(arg)))
'''


@pytest.fixture(scope="module")
def sdt_app(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build the SDT test program")
    d = tmp_path_factory.mktemp("sdt")
    (d / "mysdt.h").write_text(_MINI_SDT)
    (d / "lib.c").write_text('#include "mysdt.h"\n'
                             'int work(int x) { MY_PROBE1(mylib, work_start, x * 3); return x + 1; }\n')
    (d / "main.c").write_text('#include "mysdt.h"\n#include <unistd.h>\nint work(int);\n'
                              'int main(void) { int s = 0; for (int i = 0; i < 3; i++) '
                              '{ s += work(i); MY_PROBE1(myapp, loop, i); } return s == 0; }\n')
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(d / "libmylib.so"), str(d / "lib.c")],
                   check=True)
    subprocess.run(["gcc", "-O1", "-o", str(d / "app"), str(d / "main.c"), f"-L{d}", "-lmylib",
                    f"-Wl,-rpath,{d}"], check=True)
    return str(d / "app"), str(d / "libmylib.so")


def test_sdt_marks_of_a_program_and_its_library(sdt_app):
    app, lib = sdt_app
    r = run(["-L", f'process("{app}").library("libmylib.so").mark("*")'])
    assert r.stdout == f'process("{app}").library("{lib}").mark("work_start") $arg1:long\n'
    r = run(["-p2", "-e", f'probe process("{app}").library("libmylib.so").mark("work_start") {{ println($arg1) }}'])
    assert re.search(rf'^process\("{re.escape(lib)}"\)\.statement\(0x[0-9a-f]+\) /\* pc=\.dynamic\+0x[0-9a-f]+ \*/ '
                     rf'/\* <- process\("{re.escape(app)}"\)\.library\("{re.escape(lib)}"\)\.statement\(0x[0-9a-f]+\) \*/$',
                     r.stdout, re.M), r.stdout
    r = run(["-c", app, "-e", f'''
probe process("{app}").mark("loop") {{ printf("%s %s %d\\n", $$provider, $$name, $arg1) }}
probe process("{app}").library("libmylib.so").provider("mylib").mark("work_*") {{ printf("%s %d %s\\n", $$name, $arg1, $$parms) }}
probe process.mark("loop") {{ printf("-c: %d\\n", $arg1) }}'''])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "".join(f"work_start {3 * i} arg1=0x{3 * i:x}\nmyapp loop {i}\n-c: {i}\n" for i in range(3))


def test_user_stack_of_a_process_gone_before_the_report(tmp_path):
    """The process exits right after the probe: its frames are symbolized
    from the build-id form of the stack (file offset + build id of the -c
    program), not from /proc/PID/maps."""
    if shutil.which("gcc") is None:
        pytest.skip("no gcc to build the test program")
    src = tmp_path / "quick.c"
    src.write_text("""#include <unistd.h>
__attribute__((noinline)) int leaf(int x) { return x * 2 + getpid() % 2; }
__attribute__((noinline)) int middle(int x) { return leaf(x) + 1; }
int main(void) { return middle(20) > 1000; }
""")
    exe = str(tmp_path / "quick")
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-Wl,--build-id", "-o", exe, str(src)],
                   check=True)
    r = run(["-c", exe, "-e", f'''global s
probe process("{exe}").function("leaf") {{ s[ubacktrace()] <<< 1 }}
probe end {{ foreach (k in s) print_ustack(k) }}'''])
    assert r.returncode == 0, r.stderr
    names = [m.group(1) for m in re.finditer(r"^ 0x[0-9a-f]+ : (\w+)\+0x[0-9a-f]+/0x[0-9a-f]+ \[" +
                                             re.escape(exe) + r"\]$", r.stdout, re.M)]
    assert names == ["leaf", "middle", "main"], r.stdout
