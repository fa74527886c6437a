"""kprobe.function / kernel.function / module().function and kernel.trace
matching with a FakePlatform: wildcards, printed points, stap's
annotations, $vars from BTF prototypes and tracefs formats, no-match
messages, program types, and the CONFIG_KPROBES attach error."""
import pytest

from pytap import probes
from pytap.diagnostics import StapError
from pytap.platform import FakePlatform
from pytap.platform.btf import CType, FuncProto
from pytap.probes.core import point_from_text, point_to_text

SIZE_T = CType("size_t", 8, False, False, False)
SSIZE_T = CType("ssize_t", 8, True, False, False)
FILE_P = CType("struct file *", 8, False, True, False)
CHAR_P = CType("char *", 8, False, True, True)
LOFF_P = CType("loff_t *", 8, False, True, False)
INT = CType("int", 4, True, False, False)

KSYMS = {"vfs_read": None, "vfs_readv": None, "vfs_readlink": None, "vfs_write": None,
         "vcs_read": None, "do_exit": None, "ext4_file_read_iter": "ext4",
         "ext4_sync_fs": "ext4", "xfs_file_read_iter": "xfs"}
BTF = {"vfs_read": FuncProto("vfs_read", (("file", FILE_P), ("buf", CHAR_P), ("count", SIZE_T),
                                          ("pos", LOFF_P)), SSIZE_T),
       "many": FuncProto("many", tuple((f"a{i}", INT) for i in range(8)), None),
       "bystruct": FuncProto("bystruct", (("a", INT), ("pair", CType("struct pair", 16, False, False, False)),
                                          ("big", CType("struct big", 64, False, False, False)),
                                          ("b", INT)), INT)}

SCHED_EXEC = """name: sched_process_exec
ID: 365
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:pid_t old_pid;\toffset:16;\tsize:4;\tsigned:1;

print fmt: "filename=%s pid=%d old_pid=%d", __get_str(filename), REC->pid, REC->old_pid
"""
SCHED_SWITCH = """format:
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
"""
OPENAT = """format:
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
"""
TPS = {"sched:sched_switch": SCHED_SWITCH, "sched:sched_process_exec": SCHED_EXEC,
       "sched:sched_process_exit": "", "syscalls:sys_enter_openat": OPENAT,
       "raw_syscalls:sys_enter": "", "other:sched_switch": ""}

PLAT = FakePlatform(kernel_functions=KSYMS, tracepoints=TPS, btf=BTF, kprobes=False)


def resolve(text):
    return probes.resolve(point_from_text(text), PLAT)


def texts(text):
    return [point_to_text(rp.point) for rp in resolve(text)]


def test_kprobe_exact():
    [rp] = resolve('kprobe.function("vfs_read")')
    assert rp.family == "kprobe"
    assert point_to_text(rp.point) == 'kprobe.function("vfs_read")'
    assert rp.annotation == " /*  name = vfs_read*/"
    assert rp.spec == {"symbol": "vfs_read", "module": None, "return": False, "maxactive": 0,
                       "call": False}
    assert probes.bpf_program_type(rp) == "kprobe"


def test_kprobe_wildcard_sorted_return():
    assert texts('kprobe.function("vfs_rea*").return') == [
        'kprobe.function("vfs_read").return', 'kprobe.function("vfs_readlink").return',
        'kprobe.function("vfs_readv").return']
    rp = resolve('kprobe.function("vfs_rea*").return')[0]
    assert rp.spec["return"] and probes.bpf_program_type(rp) == "kretprobe"
    # module symbols are not kernel functions
    assert texts('kprobe.function("*_file_read_iter")') == []


def test_kprobe_call_and_maxactive():
    [rp] = resolve('kprobe.function("vfs_read").call')
    assert rp.spec["call"] and point_to_text(rp.point) == 'kprobe.function("vfs_read").call'
    [rp] = resolve('kprobe.function("vfs_read").return.maxactive(10)')
    assert rp.spec["maxactive"] == 10


def test_kprobe_module():
    [rp] = resolve('kprobe.module("ext4").function("ext4_file_read_iter")')
    assert rp.annotation == " /*  name = ext4:ext4_file_read_iter*/"
    assert rp.spec["module"] == "ext4" and rp.spec["symbol"] == "ext4_file_read_iter"
    # stap leaves kprobe.module() points to the kernel: printed as written
    [rp] = resolve('kprobe.module("nonexist").function("foo*")')
    assert point_to_text(rp.point) == 'kprobe.module("nonexist").function("foo*")'
    assert rp.annotation == " /*  name = nonexist:foo**/"
    assert rp.spec["symbol"] == "nonexist:foo*"
    assert texts('module("*").function("*_file_read_iter")') == [
        'module("ext4").function("ext4_file_read_iter")',
        'module("xfs").function("xfs_file_read_iter")']


def test_kernel_function_without_dwarf():
    [rp] = resolve('kernel.function("vfs_read").return')
    assert rp.family == "kprobe" and rp.annotation == ""
    assert point_to_text(rp.point) == 'kernel.function("vfs_read").return'


def test_kprobe_btf_variables():
    [rp] = resolve('kprobe.function("vfs_read")')
    vs = {v.name: v for v in rp.variables()}
    assert list(vs) == ["file", "buf", "count", "pos"]
    assert (vs["count"].arg_index, vs["count"].c_type, vs["count"].size, vs["count"].signed) == \
        (3, "size_t", 8, False)
    assert vs["buf"].is_string and vs["buf"].string_space == "kernel"
    assert vs["file"].is_pointer and not vs["file"].is_string
    assert rp.variable("$count") is vs["count"] or rp.variable("$count").arg_index == 3
    [ret] = resolve('kprobe.function("vfs_read").return')
    vs = {v.name: v for v in ret.variables()}
    assert vs["return"].source == "return" and vs["return"].signed
    assert vs["count"].at_entry


def test_kprobe_only_register_args_and_no_btf():
    PLAT._ksyms["many"] = None
    try:
        [rp] = resolve('kprobe.function("many")')
        assert [v.arg_index for v in rp.variables()] == [1, 2, 3, 4, 5, 6]
        PLAT._ksyms["bystruct"] = None
        [rp] = resolve('kprobe.function("bystruct")')
        # a 16-byte struct takes PARM2+3, a 64-byte one goes on the stack
        assert [(v.name, v.arg_index) for v in rp.variables()] == [("a", 1), ("b", 4)]
        [rp] = resolve('kprobe.function("vfs_write").return')
        assert [(v.name, v.source) for v in rp.variables()] == [("return", "return")]
    finally:
        del PLAT._ksyms["many"]
        PLAT._ksyms.pop("bystruct", None)


def test_kprobe_no_match_messages():
    assert resolve('kprobe.function("vfs_raed")') == []
    e = probes.explain_no_match(point_from_text('kprobe.function("vfs_raed")'), PLAT)
    assert e.message == "no match (similar functions: vfs_read, vcs_read, vfs_readv, vfs_write, vfs_readlink)"


def test_kprobe_point_errors():
    with pytest.raises(StapError) as ei:
        resolve('kprobe.function("vfs_read").foo')
    assert ei.value.message == "invalid suffix for probe"
    with pytest.raises(StapError) as ei:
        resolve("kprobe.function(1)")
    assert ei.value.message == "probe point mismatch (similar: function, module, statement)"
    assert ei.value.tok_desc == "keyword"
    with pytest.raises(StapError) as ei:
        resolve("kprobe")
    assert ei.value.message == ("probe point truncated (follow:  function(string) module(string) "
                                "statement(number))")
    with pytest.raises(StapError) as ei:
        resolve("kprobe.statement(0xffffffff81000000).absolute")
    assert ei.value.message == "absolute statement probe in unprivileged script; need stap -g"


def test_kprobe_attach_needs_config_kprobes():
    [rp] = resolve('kprobe.function("vfs_read")')
    from pytap.probes import kprobe
    with pytest.raises(StapError) as ei:
        kprobe.attach(object(), "fn", rp, platform=PLAT)
    assert "CONFIG_KPROBES" in ei.value.message and ei.value.kind == ""
    assert 'kprobe.function("vfs_read")' in ei.value.message


def test_tracepoint_with_and_without_category():
    [rp] = resolve('kernel.trace("sched:sched_switch")')
    assert rp.family == "tracepoint"
    assert rp.spec == {"category": "sched", "event": "sched_switch", "raw": False,
                       "raw_name": "sched_switch"}
    assert probes.bpf_program_type(rp) == "tracepoint"
    # no category: every category that has the event
    assert texts('kernel.trace("sched_switch")') == ['kernel.trace("sched:sched_switch")',
                                                     'kernel.trace("other:sched_switch")']


def test_tracepoint_wildcards_in_kernel_order():
    assert texts('kernel.trace("sched:sched_process_*")') == [
        'kernel.trace("sched:sched_process_exec")', 'kernel.trace("sched:sched_process_exit")']
    assert texts('kernel.trace("*:sys_enter*")') == [
        'kernel.trace("syscalls:sys_enter_openat")', 'kernel.trace("raw_syscalls:sys_enter")']
    assert texts('kernel.trace("nope:*")') == []


def test_tracepoint_fields():
    [rp] = resolve('kernel.trace("sched_process_exec")')
    vs = {v.name: v for v in rp.variables()}
    assert list(vs) == ["filename", "pid", "old_pid"]
    f = vs["filename"]
    assert (f.source, f.offset, f.size, f.data_loc, f.is_string, f.string_space) == \
        ("field", 8, 4, True, True, "record")
    assert (vs["pid"].offset, vs["pid"].size, vs["pid"].signed, vs["pid"].c_type) == (12, 4, True, "pid_t")
    [rp] = resolve('kernel.trace("sched:sched_switch")')
    comm = rp.variable("prev_comm")
    assert (comm.array_len, comm.is_string, comm.string_space, comm.c_type) == (16, True, "record", "char[16]")
    [rp] = resolve('kernel.trace("syscalls:sys_enter_openat")')
    fn = rp.variable("filename")
    assert fn.is_string and fn.is_pointer and fn.string_space == "user" and fn.offset == 24
    assert rp.spec["raw_name"] is None          # no raw tracepoint of that name


def test_tracepoint_raw_program_type():
    [rp] = resolve('kernel.trace("raw_syscalls:sys_enter")')
    rp.spec["raw"] = True
    assert probes.bpf_program_type(rp) == "raw_tracepoint"


def test_tracepoint_no_match_and_suffix():
    assert resolve('kernel.trace("sched_switc")') == []
    e = probes.explain_no_match(point_from_text('kernel.trace("sched_switc")'), PLAT)
    assert e.message.startswith("no match (similar tracepoints: sched_switch")
    e = probes.explain_no_match(point_from_text('kernel.trace("sched:nonexist*")'), PLAT)
    assert e.message.startswith("no match (similar tracepoints: ")
    with pytest.raises(StapError) as ei:
        resolve('kernel.trace("sched:sched_switch").call')
    assert ei.value.message == "invalid suffix for probe"
    assert ei.value.tok_desc == "identifier 'call'"


def test_kernel_truncated_lists_followers():
    with pytest.raises(StapError) as ei:
        resolve("kernel")
    assert ei.value.message == "probe point truncated (follow:  function(string) trace(string))"


def test_kernel_function_dwarf_spelling():
    assert texts('kernel.function("vfs_read@fs/read_write.c")') == ['kernel.function("vfs_read")']
    assert texts('kprobe.function("vfs_read@fs/read_write.c")') == []      # stap: no match


def test_tracepoint_tp_args_and_listing():
    task = CType("struct task_struct *", 8, False, True, False)
    plat = FakePlatform(tracepoints={"sched:sched_switch": SCHED_SWITCH},
                        btf={"__bpf_trace_sched_switch": FuncProto(
                            "__bpf_trace_sched_switch",
                            (("__data", CType("void *", 8, False, True, False)),
                             ("preempt", CType("bool", 1, False, False, False)),
                             ("prev", task), ("next", task),
                             ("prev_pid", INT)), None)})
    [rp] = probes.resolve(point_from_text('kernel.trace("sched_switch")'), plat)
    vs = rp.variables()
    assert [(v.name, v.source) for v in vs] == [("prev_comm", "field"), ("prev_pid", "field"),
                                                ("preempt", "tp_arg"), ("prev", "tp_arg"),
                                                ("next", "tp_arg")]
    assert rp.variable("next").arg_index == 2 and rp.variable("next").is_pointer
    assert [f"${v.name}:{v.c_type}" for v in rp.listing_variables()] == [
        "$preempt:bool", "$prev:struct task_struct*", "$next:struct task_struct*", "$prev_pid:int"]


def test_kprobe_listing_is_empty_like_dwarfless_stap():
    [rp] = resolve('kprobe.function("vfs_read")')
    assert rp.listing_variables() == [] and rp.variables()


def test_target_var_c_expressions():
    [rp] = resolve('kprobe.function("vfs_read").return')
    assert rp.variable("count").c_value() == "(s64)PT_REGS_PARM3(ctx)"
    assert rp.variable("return").c_value("c") == "(s64)PT_REGS_RC(c)"
    assert rp.variable("buf").c_string() == ("(void *)(s64)PT_REGS_PARM2(ctx)", "bpf_probe_read_kernel_str")
    [rp] = resolve('kernel.trace("sched_process_exec")')
    assert rp.variable("pid").c_value() == "(s64)*(s32 *)((char *)ctx + 12)"
    assert rp.variable("filename").c_value() == "(s64)((char *)ctx + (*(u32 *)((char *)ctx + 8) & 0xFFFF))"
    [rp] = resolve('kernel.trace("sched:sched_switch")')
    assert rp.variable("prev_comm").c_string()[0] == "(void *)(s64)((char *)ctx + 8)"
    [rp] = resolve('kernel.trace("syscalls:sys_enter_openat")')
    assert rp.variable("filename").c_string() == ("(void *)(s64)*(u64 *)((char *)ctx + 24)",
                                                  "bpf_probe_read_user_str")
    from pytap.probes.core import TargetVar
    assert TargetVar("x", "int", 4, True, source="arg", arg_index=1).c_value() == "(s64)(s32)PT_REGS_PARM1(ctx)"
    assert TargetVar("p", "struct task_struct *", 8, False, True, source="tp_arg", arg_index=2).c_value() == \
        "(s64)((struct bpf_raw_tracepoint_args *)ctx)->args[2]"


def test_tracepoints_unavailable_says_why():
    e = probes.explain_no_match(point_from_text('kernel.trace("sched_switch")'), FakePlatform())
    assert "tracefs is not mounted" in e.message
