"""Target-variable access that needs this kernel's types: TP_PROTO
arguments of template-defined tracepoints, handlers mixing arguments with
record fields, arrays, @cast to any BTF type, @const."""
from __future__ import annotations

import os

import pytest

from pytap.platform import FakePlatform, btf
from pytap.platform.btf import CType, FuncProto
from pytap.probes.tracepoint import tp_args

HAVE_BTF = os.access("/sys/kernel/btf/vmlinux", os.R_OK)
needs_btf = pytest.mark.skipif(not HAVE_BTF, reason="this kernel exposes no readable BTF")

TASK_P = CType("struct task_struct *", 8, False, True, False)
VOID_P = CType("void *", 8, False, True, False)


def _template_platform():
    """sched_wakeup has no wrapper of its own; two templates take its
    argument types; the record's fields pick sched_wakeup_template."""
    fmt = ("name: sched_wakeup\nID: 1\nformat:\n"
           "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
           "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
           "\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n")
    plat = FakePlatform(tracepoints={"sched:sched_wakeup": fmt}, btf={
        "__bpf_trace_sched_wakeup_template": FuncProto(
            "__bpf_trace_sched_wakeup_template", (("__data", VOID_P), ("p", TASK_P)), None),
        "__bpf_trace_rseq_update": FuncProto(
            "__bpf_trace_rseq_update", (("__data", VOID_P), ("t", TASK_P)), None)})
    plat._tp_templates = ({"sched_wakeup": ("rseq_update", "sched_wakeup_template")},
                          {"rseq_update": ("cpu_id", "node_id"),
                           "sched_wakeup_template": ("comm", "pid")})
    return plat


def test_template_tracepoint_arguments_named_by_matching_record():
    plat = _template_platform()
    assert [(v.name, v.c_type, v.source) for v in tp_args(plat, "sched", "sched_wakeup")] == \
        [("p", "struct task_struct *", "tp_arg")]


def test_template_tracepoint_ambiguous_names_give_none():
    plat = _template_platform()
    plat._tp_templates = ({"sched_wakeup": ("rseq_update", "sched_wakeup_template")}, {})
    assert tp_args(plat, "sched", "sched_wakeup") == []


@needs_btf
def test_vmlinux_tracepoint_templates():
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        templates, fields = btf.parse_tracepoint_templates(f.read())
    assert "sched_wakeup_template" in templates["sched_wakeup"]
    assert fields["sched_wakeup_template"] == ("comm", "pid", "prio", "target_cpu")


def test_listing_spells_qualifiers_as_stap():
    from pytap.probes.core import stap_type_spelling
    assert stap_type_spelling("const char *") == "char const*"
    assert stap_type_spelling("const struct inode *") == "struct inode const*"
    assert stap_type_spelling("const int") == "int const"
    assert stap_type_spelling("struct file *") == "struct file*"


# ---------------------------------------------------------------- @const
def test_const_expression_evaluator():
    from pytap.codegen.kconst import ConstError, eval_c_int
    assert eval_c_int("((1UL) << 12)") == 4096
    assert eval_c_int("02000000") == 0o2000000
    assert eval_c_int("(int)0x00000001 | 0x2") == 3
    assert eval_c_int("-(int)1") == -1
    assert eval_c_int("7 / 2") == 3
    with pytest.raises(ConstError):
        eval_c_int("sizeof(struct page)")


@needs_btf
def test_const_from_btf_enum():
    from pytap.codegen.kconst import value
    assert value("TASK_COMM_LEN") == 16
    assert value("PIDTYPE_TGID") == 1


def test_const_unknown_is_a_clear_error(monkeypatch):
    from pytap.codegen import kconst
    monkeypatch.setattr(kconst, "_preprocess", lambda text: None)
    with pytest.raises(kconst.ConstError, match=r'@const\("NO_SUCH_CONSTANT_X"\) is not an integer'):
        kconst.value("NO_SUCH_CONSTANT_X")


# ------------------------------------------------ arrays and @cast (pass 3)
def _gen(text):
    from pytap.codegen.generate import generate
    from pytap.elaborate import elaborate_source
    from pytap.options import Options
    opts = Options()
    return generate(elaborate_source(text, options=opts), opts)


def _c3(text):
    from pytap.diagnostics import PassFailed
    try:
        return _gen(text).c_source, None
    except PassFailed as e:
        return None, str(e.__context__.message if e.__context__ is not None else e)


needs_tracefs = pytest.mark.skipif(not os.path.isdir("/sys/kernel/tracing/events/sched")
                                   and not os.path.isdir("/sys/kernel/debug/tracing/events/sched"),
                                   reason="no tracefs sched events readable")


@needs_btf
@needs_tracefs
@pytest.mark.parametrize("expr, reads", [
    ('$next_comm[3]', "bpf_probe_read_kernel(&rv, 1, (void *)((u64)t"),       # char of the record
    ('@cast($prev, "u_int8_t", "kernel<linux/types.h>")[2]', "(u64)(2LL) * 1"),
    ('@cast($prev, "size_t")[1]', "(u64)(1LL) * 8"),
    ('@cast($prev, "pid_t", "kernel")', "s32 rv"),
    ('@cast($prev, "enum pid_type")', "32 rv = 0; bpf_probe_read_kernel(&rv, 4"),
    ('@cast($prev, "unsigned long")', "u64 rv"),
    ('@cast($prev, "struct list_head *")[1]->next', "(u64)(1LL) * 8"),
    ('@cast($prev, "union bpf_attr")->map_type', "u32 rv"),
    ('@cast($prev, "task_struct")->comm[2]', "u8 rv"),
])
def test_cast_and_index_kinds(expr, reads):
    c, err = _c3(f'probe kernel.trace("sched:sched_switch") {{ println({expr}) }}')
    assert err is None, err
    assert reads in c


def _members(type_name):
    """Member names of a BTF type, as this kernel has them."""
    from pytap.codegen.btf_offsets import TypeView, kernel_types, parse_type
    bt = kernel_types()
    if bt is None:
        return []
    tv = TypeView(bt)
    return tv.member_names(parse_type(bt, type_name))


@needs_btf
@needs_tracefs
@pytest.mark.parametrize("expr, message", [
    ('$next_comm[16]', "index 16 is out of bounds for char[16]"),
    ('$prev->comm[-1]', "index -1 is out of bounds for char[16]"),
    ('$next_pid[0]', "cannot follow members of '$next_pid' (type pid_t)"),
    ('@cast($prev, "no_such_type_zz")->x', "unknown type 'no_such_type_zz' in this kernel's BTF"),
    ('$prev->se->no_such_member_zz', "unable to find member 'no_such_member_zz' for struct sched_entity "
     "(alternatives: " + " ".join(_members("struct sched_entity")) + ")"),
    # stap's spelling of an anonymous struct, the members of anonymous
    # members spliced into the alternatives
    ('@cast($prev, "union futex_key")->both->no_such_member_zz',
     "unable to find member 'no_such_member_zz' for struct {...} (alternatives: ptr word offset node)"),
    ('$prev->pid[1]', "cannot index a value of type pid_t"),
    ('&$prev->in_iowait', "cannot take address of bit-field"),
])
def test_target_access_errors(expr, message):
    _c, err = _c3(f'probe kernel.trace("sched:sched_switch") {{ println({expr}) }}')
    assert err == message


# ------------------------------------------------ @defined over members (pass 2)
@needs_btf
@needs_tracefs
def test_defined_follows_members_through_btf():
    from pytap.elaborate import elaborate_source
    s = elaborate_source('probe kernel.trace("sched:sched_switch") {\n'
                         '  a = @defined($prev->nosuch_zz) ? $prev->nosuch_zz : 3\n'
                         '  b = @defined($prev->comm[1]) + 10 * @defined(@cast($prev, "task_struct")->pid)\n'
                         '  c = @defined(@cast($prev, "task_struct")->nosuch_zz) + 10 * @defined($next_pid->x)\n'
                         '  d = @defined($prev->thread_pid->numbers[0]->nr)\n'
                         '  printf("%d %d %d %d\\n", a, b, c, d)\n}\n')
    body = s.dump(verbose=1)
    assert "(a) = (3);" in body and "(b) = (11);" in body
    assert "(c) = (0);" in body and "(d) = (1);" in body


# ------------------------------------------------ a user program's DWARF
def test_dwarf_reader_on_gcc_binary(tmp_path):
    import shutil
    import subprocess
    pytest.importorskip("elftools", reason="pyelftools is not installed")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    from pathlib import Path
    from pytap.platform import dwarf
    src = Path(__file__).resolve().parent.parent / "runtime" / "dwarf" / "dwarf_target.c"
    out = tmp_path / "t"
    subprocess.run(["gcc", "-g", "-O0", "-fno-omit-frame-pointer", "-o", str(out), str(src)], check=True)
    info = dwarf.read(str(out))
    f = info.functions["visit"]
    assert (f.decl_file, f.decl_line) == (str(src), 10)
    assert [(v.name, v.type.spell()) for v in f.params] == [
        ("n", "int"), ("scale", "long int"), ("label", "char const*"), ("r", "struct rec*")]
    assert [v.name for v in f.locals] == ["doubled"]
    assert f.probe_pc > f.low_pc                 # after the prologue (unoptimised build)
    assert f.cfa == (6, 16)                      # rbp + 16 with frame pointers
    assert all(v.location[0] == "fbreg" for v in f.params)
    rec = f.params[3].type.strip().target.strip()
    assert [(m, off) for m, off, _t in rec.members][:4] == [("id", 0), ("total", 8), ("delta", 16), ("mark", 18)]
    assert info.globals["counter"].type.spell() == "int"


# ------------------------------------------------ a loaded module's split BTF
def _fake_module(monkeypatch):
    """A module's split BTF (as /sys/kernel/btf/MODULE): struct fake_mod_zz
    { int a; struct fake_mod_zz *next; } over this kernel's vmlinux ids."""
    import struct as st
    from pytap.codegen import btf_offsets as bo
    bt = bo.kernel_types()
    n, intid = len(bt.types), bt.named["int"]
    strs = b"\0fake_mod_zz\0a\0next\0"

    def so(x):
        return bt.str_end + strs.index(x + b"\0")
    types = st.pack("<III", so(b"fake_mod_zz"), (bo.KIND_STRUCT << 24) | 2, 16)
    types += st.pack("<III", so(b"a"), intid, 0) + st.pack("<III", so(b"next"), n + 1, 64)
    types += st.pack("<III", 0, bo.KIND_PTR << 24, n)
    hdr = st.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    mt = bo.BtfTypes(hdr + types + strs, base=bt)
    monkeypatch.setitem(bo._MODULES, "fakemod", mt)
    monkeypatch.setattr(bo, "module_types", lambda path=bo.BTF_PATH: iter([("fakemod", mt)]))
    return bo, bt


@needs_btf
def test_module_types_resolve_through_parse_type(monkeypatch):
    bo, bt = _fake_module(monkeypatch)
    tv = bo.TypeView(bt)
    ref = bo.parse_type(bt, "struct fake_mod_zz *")
    assert tv.spell(ref) == "struct fake_mod_zz *"
    off, nxt = tv.member(tv.target(ref), "next")
    assert off == 8 and tv.spell(nxt) == "struct fake_mod_zz *"
    off, a = tv.member(tv.target(nxt), "a")
    assert off == 0 and isinstance(a, int) and tv.size(a) == 4 and tv.signed(a)
    assert bo.types_with_struct("fake_mod_zz")[1] == len(bt.types)


@needs_btf
@needs_tracefs
def test_cast_and_defined_over_module_struct(monkeypatch):
    _fake_module(monkeypatch)
    c, err = _c3('function f(p) { return @defined(@cast(p, "fake_mod_zz")->zz) * 100'
                 ' + @defined(@cast(p, "fake_mod_zz")->next->a) }\n'
                 'probe kernel.trace("sched:sched_switch") {\n'
                 '  println(@cast($prev, "fake_mod_zz")->next->a)\n'
                 '  println(@defined(@cast($prev, "fake_mod_zz")->nosuch) ? 1 : 2, f($prev)) }')
    assert err is None, err
    assert "bpf_probe_read_kernel(&rv, 8, (void *)((u64)" in c and "+ 8))" in c
    assert "s32 rv = 0;" in c
