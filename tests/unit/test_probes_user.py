"""process("path").function() uprobes and process.begin/.end matching, with
a FakePlatform and (when gcc is here) a real binary read by our ELF reader."""
import os
import shutil
import subprocess

import pytest

from pytap import probes
from pytap.diagnostics import StapError
from pytap.platform import FakePlatform, Platform
from pytap.platform.elf import ElfInfo, ElfSymbol
from pytap.probes.core import point_from_text, point_to_text

FUNCS = [ElfSymbol("_start", 0x1050, 34, 0x1050, True), ElfSymbol("frame_dummy", 0x1130, 0, 0x1130, False),
         ElfSymbol("foo", 0x1139, 24, 0x1139, True), ElfSymbol("bar", 0x1151, 20, 0x1151, True),
         ElfSymbol("main", 0x1165, 83, 0x1165, True)]
ELFS = {"/opt/app/bin/app": ElfInfo("/opt/app/bin/app", True, FUNCS, 0),
        "/opt/old": ElfInfo("/opt/old", False, [ElfSymbol("foo", 0x401126, 10, 0x1126, True)], 0x400000)}
PLAT = FakePlatform(executables={"app": "/opt/app/bin/app", "/opt/app/bin/app": "/opt/app/bin/app",
                                 "./app": "/opt/app/bin/app", "/opt/old": "/opt/old",
                                 "true": "/usr/bin/true"},
                    elfs=ELFS)


def resolve(text, plat=PLAT):
    return probes.resolve(point_from_text(text), plat)


def texts(text, plat=PLAT):
    return [point_to_text(rp.point) for rp in resolve(text, plat)]


def test_uprobe_exact_and_path_lookup():
    [rp] = resolve('process("app").function("foo")')
    assert rp.family == "uprobe"
    assert point_to_text(rp.point) == 'process("/opt/app/bin/app").function("foo")'
    assert rp.annotation == " /* pc=.dynamic+0x1139 */"
    assert rp.spec == {"path": "/opt/app/bin/app", "symbol": "foo", "address": 0x1139,
                       "offset": 0x1139, "return": False, "pid": None}
    assert probes.bpf_program_type(rp) == "uprobe"
    assert rp.variables() == []


def test_uprobe_wildcards_in_address_order():
    assert texts('process("./app").function("*a*")') == [
        'process("/opt/app/bin/app").function("_start")',
        'process("/opt/app/bin/app").function("frame_dummy")',
        'process("/opt/app/bin/app").function("bar")',
        'process("/opt/app/bin/app").function("main")']
    assert texts('process("app").function("f*").call') == [
        'process("/opt/app/bin/app").function("frame_dummy").call',
        'process("/opt/app/bin/app").function("foo").call']


def test_uretprobe_return_var():
    [rp] = resolve('process("app").function("foo").return')
    assert rp.spec["return"] and probes.bpf_program_type(rp) == "uretprobe"
    [v] = rp.variables()
    assert (v.name, v.source, v.size, v.signed) == ("return", "return", 8, True)


def test_uprobe_non_pie_annotation():
    [rp] = resolve('process("/opt/old").function("foo")')
    assert rp.annotation == " /* pc=.absolute+0x1126 */"
    assert rp.spec["offset"] == 0x1126


def test_uprobe_no_match():
    assert resolve('process("app").function("zzz")') == []
    e = probes.explain_no_match(point_from_text('process("app").function("fo")'), PLAT)
    assert e.message.startswith("no match (similar functions: foo, ")
    assert resolve('process("/nonexist").function("foo")') == []
    assert probes.explain_no_match(point_from_text('process("/nonexist").function("foo")'),
                                   PLAT).message == "no match"


def test_process_begin_end_unspecified():
    [b] = resolve("process.begin")
    assert b.family == "process" and point_to_text(b.point) == "process.begin"
    s = b.spec
    assert (s["category"], s["event_name"], s["subject_pid_field"]) == ("task", "task_newtask", "pid")
    assert {"kind": "field_mask_zero", "field": "clone_flags", "mask": 0x10000} in s["filters"]
    assert {"kind": "target_hierarchy"} in s["filters"]
    assert probes.bpf_program_type(b) == "tracepoint"
    [e] = resolve("process.end")
    assert (e.spec["category"], e.spec["event_name"]) == ("sched", "sched_process_exit")
    assert {"kind": "field_eq", "field": "group_dead", "value": 1} in e.spec["filters"]


def test_process_path_and_pid():
    [b] = resolve('process("true").begin')
    assert point_to_text(b.point) == 'process("/usr/bin/true").begin'
    assert b.spec["event_name"] == "sched_process_exec"
    assert {"kind": "comm_eq", "value": "true"} in b.spec["filters"]
    assert {"kind": "target_hierarchy"} not in b.spec["filters"]
    [e] = resolve('process("true").end')
    assert {"kind": "comm_eq", "value": "true"} in e.spec["filters"]
    # stap prints a missing path as written
    assert texts('process("/nonexist").begin') == ['process("/nonexist").begin']
    [p] = resolve("process(1).end")
    assert point_to_text(p.point) == "process(1).end"
    assert {"kind": "pid_eq", "value": 1} in p.spec["filters"]


def test_process_errors():
    with pytest.raises(StapError) as ei:
        resolve("process.foo")
    assert ei.value.message.startswith("probe point mismatch (similar: end")
    with pytest.raises(StapError) as ei:
        resolve('process("app")')
    assert ei.value.message.startswith("probe point truncated (follow:  begin end function(string)")


@pytest.fixture(scope="module")
def built_binary(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build a test binary")
    d = tmp_path_factory.mktemp("elf")
    src = d / "t.c"
    src.write_text("int foo(int a, long b){return a+b;}\nint bar(const char*s){return s[0];}\n"
                   "int main(int c,char**v){return foo(c,2)+bar(v[0]);}\n")
    out = d / "tbin"
    subprocess.run(["gcc", "-O0", "-o", str(out), str(src)], check=True)
    return str(out)


def test_uprobe_on_real_binary(built_binary):
    plat = Platform()
    names = texts(f'process("{built_binary}").function("*")', plat)
    assert f'process("{built_binary}").function("foo")' in names
    assert f'process("{built_binary}").function("main")' in names
    rp = resolve(f'process("{built_binary}").function("bar")', plat)[0]
    assert rp.annotation.startswith(" /* pc=.dynamic+0x")
    # relative lookup from the working directory, as stap does
    cwd = os.getcwd()
    os.chdir(os.path.dirname(built_binary))
    try:
        assert texts('process("./tbin").function("foo")', plat) == \
            [f'process("{os.path.realpath(built_binary)}").function("foo")']
    finally:
        os.chdir(cwd)


def test_process_syscall_vars():
    [rp] = resolve("process.syscall")
    assert (rp.spec["category"], rp.spec["event_name"]) == ("raw_syscalls", "sys_enter")
    vs = {v.name: v for v in rp.variables()}
    assert list(vs) == ["syscall", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6"]
    assert (vs["syscall"].offset, vs["arg1"].offset, vs["arg6"].offset) == (8, 16, 56)
    [rp] = resolve('process("true").syscall.return')
    assert point_to_text(rp.point) == 'process("/usr/bin/true").syscall.return'
    assert [v.name for v in rp.variables()] == ["syscall", "return"]
    assert rp.variable("return").offset == 16 and rp.variable("return").signed
    assert {"kind": "comm_eq", "value": "true"} in rp.spec["filters"]


def test_process_threads():
    [b] = resolve("process.thread.begin")
    assert point_to_text(b.point) == "process.thread.begin"
    assert {"kind": "field_mask_nonzero", "field": "clone_flags", "mask": 0x10000} in b.spec["filters"]
    [e] = resolve("process(42).thread.end")
    assert {"kind": "field_eq", "field": "group_dead", "value": 0} in e.spec["filters"]
    assert {"kind": "pid_eq", "value": 42} in e.spec["filters"]


def test_unspecified_process_function_needs_target():
    with pytest.raises(StapError) as ei:
        resolve('process.function("foo")')
    assert ei.value.message == ("unspecified process probe is invalid without a -c COMMAND "
                                "or -x PID [man stapprobes]")
    from pytap.options import Options
    from pytap.platform import apply_options
    plat = FakePlatform(executables={"app": "/opt/app/bin/app"}, elfs=ELFS)
    apply_options(Options(target_cmd="app --flag 'x y'"), plat)
    assert texts('process.function("foo").return', plat) == [
        'process("/opt/app/bin/app").function("foo").return']


def test_perf_unspecified_process_needs_c():
    with pytest.raises(StapError) as ei:
        resolve("perf.type(1).config(0).process")
    assert ei.value.message == "unspecified process probe is invalid without a -c COMMAND [man stapprobes]"
    plat = FakePlatform()
    plat.target_cmd = "ls"
    [rp] = resolve("perf.sw.cpu_clock.process", plat)
    assert point_to_text(rp.point) == "perf.type(1).config(0).sample(1000000).process"
    assert rp.spec["process"] == ""


def test_process_pid_must_exist():
    with pytest.raises(StapError) as ei:
        resolve("process(123).begin")
    assert ei.value.message == "cannot probe pid 123: No such process"
    with pytest.raises(StapError):
        resolve("process(123).syscall")


def test_process_listing_is_stap_utrace_context():
    [rp] = resolve("process.begin")
    assert [f"${v.name}:{v.c_type}" for v in rp.listing_variables()] == \
        ["$syscall:long"] + [f"$arg{i}:long" for i in range(1, 7)]


def test_uprobe_derivation_is_the_concrete_point():
    rps = resolve('process("app").function("f*")')
    assert [point_to_text(rp.derivation_point) for rp in rps] == [point_to_text(rp.point) for rp in rps]
    assert resolve("process.begin")[0].derivation_point is None
