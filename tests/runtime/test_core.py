"""Root tests of the run-time core on hand-written BPF C (no parser or
codegen needed): loader (-p4 semantics and error mapping) and BpfStore."""
import os

import pytest

from pytap.ast import Loc
from pytap.codegen.program import CompiledProbe, GlobalLayout, HistSpec, Program
from pytap.diagnostics import PassFailed
from pytap.options import Options

pytestmark = pytest.mark.root


def _need_bpf():
    if os.geteuid() != 0:
        pytest.skip("needs root to load BPF programs")
    try:
        import bcc  # noqa: F401
    except ImportError:
        pytest.skip("BCC Python bindings not installed")


C_MAPS = r"""
#include <uapi/linux/ptrace.h>
struct k2 { s64 a; char s[16]; };
struct sv { char s[32]; };
struct st { s64 count; s64 sum; s64 min; s64 max; s64 sumsq; s64 log[128]; };
struct stl { s64 count; s64 sum; s64 min; s64 max; s64 sumsq; s64 lin[13]; };
BPF_ARRAY(g_n, s64, 1);
BPF_ARRAY(g_s, struct sv, 1);
BPF_HASH(g_arr, struct k2, s64, 4);
BPF_HASH(g_one, s64, s64, 16);
BPF_PERCPU_ARRAY(g_st, struct st, 1);
BPF_PERCPU_HASH(g_sta, s64, struct stl, 16);
int probe_0(struct pt_regs *ctx) { return 0; }
"""


def _store_program():
    return Program(c_source=C_MAPS, globals=[
        GlobalLayout("n", "g_n", "scalar", "long"),
        GlobalLayout("s", "g_s", "scalar", "string", value_string_size=32),
        GlobalLayout("arr", "g_arr", "array", "long", key_types=["long", "string"],
                     key_string_size=16, maxsize=4),
        GlobalLayout("one", "g_one", "array", "long", key_types=["long"]),
        GlobalLayout("st", "g_st", "stats", "stats", percpu=True),
        GlobalLayout("sta", "g_sta", "stats_array", "stats", key_types=["long"], percpu=True,
                     hist=HistSpec("linear", 0, 100, 10)),
    ], probes=[CompiledProbe(0, None, "bpf", "probe_0", "kprobe")])


def test_load_only_kprobe_type_loads_without_kprobes():
    _need_bpf()
    from pytap.runtime.loader import load_only
    assert load_only(_store_program(), Options(last_pass=4)) == 0


def test_compile_error_points_at_script_line():
    _need_bpf()
    from pytap.diagnostics import SOURCES
    from pytap.runtime.loader import load
    SOURCES.add("t.stp", "probe begin {\n  x = nosuch\n}\n")
    src = "int probe_0(void *ctx) {\n/* t.stp:2:7 */\n  return nosuch_c;\n}\n"
    with pytest.raises(PassFailed) as ei:
        load(Program(c_source=src, probes=[CompiledProbe(0, None, "bpf", "probe_0", "kprobe")]),
             Options())
    text = ei.value.footer
    assert "nosuch_c" in text and "at t.stp:2:7" in text
    assert "source:   x = nosuch" in text
    assert text.rstrip().endswith("Pass 4: compilation failed.  [man error::pass4]")


def test_verifier_rejection_is_a_message():
    _need_bpf()
    from pytap.runtime.loader import load
    src = ("#include <uapi/linux/ptrace.h>\n"
           "int probe_0(struct pt_regs *ctx) { u64 x = 0;\n"
           " bpf_probe_read_kernel(&x, 800000, (void*)ctx->di); return x; }\n")

    class P:  # a DerivedProbe stand-in with a location
        point = type("PP", (), {"loc": Loc("t.stp", 3, 1)})()
    with pytest.raises(PassFailed) as ei:
        load(Program(c_source=src, probes=[CompiledProbe(0, P(), "bpf", "probe_0", "kprobe")]),
             Options())
    text = ei.value.footer
    assert "verifier rejected the handler 'probe_0'" in text
    assert "invalid write to stack" in text and "at t.stp:3:1" in text


def test_bpfstore_roundtrip():
    _need_bpf()
    from pytap.runtime.bpfstore import BpfStore
    from pytap.runtime.errors import ScriptRuntimeError
    from pytap.runtime.loader import load
    prog = _store_program()
    bpf = load(prog, Options())
    try:
        st = BpfStore(bpf, prog)
        assert st.get("n", ()) == 0 and st.get("s", ()) == ""
        st.set("n", (), -7)
        st.set("s", (), "hello")
        assert st.get("n", ()) == -7 and st.get("s", ()) == "hello"
        assert st.items("n") == [((), -7)]
        st.delete("n")
        assert st.get("n", ()) == 0

        assert not st.exists("arr", (1, "a"))
        st.set("arr", (1, "a"), 10)
        st.set("arr", (2, "bb"), 20)
        assert st.exists("arr", (1, "a")) and st.get("arr", (2, "bb")) == 20
        assert sorted(st.items("arr")) == [((1, "a"), 10), ((2, "bb"), 20)]
        st.delete("arr", (1, "a"))
        assert st.items("arr") == [((2, "bb"), 20)]
        for i in range(3):
            st.set("arr", (i + 10, "x"), i)
        with pytest.raises(ScriptRuntimeError) as ei:
            st.set("arr", (99, "full"), 1)
        assert str(ei.value) == "Array overflow, check size limit (4)"
        st.delete("arr")
        assert st.items("arr") == []

        st.set("one", (5,), 50)
        assert st.items("one") == [((5,), 50)]

        for v in (1, 2, 3, 0, 1000):
            st.stat_add("st", (), v)
        s = st.stat("st", ())
        assert (s.count, s.sum, s.min, s.max) == (5, 1006, 0, 1000)
        assert s.log[64] == 1 and s.log[65] == 1 and s.log[66] == 2 and s.log[64 + 10] == 1

        st.stat_add("sta", (1,), 5)
        st.stat_add("sta", (1,), 55)
        st.stat_add("sta", (1,), 500)
        st.stat_add("sta", (1,), -1)
        [(key, s)] = st.stat_items("sta")
        assert key == (1,) and s.count == 4 and s.min == -1 and s.max == 500
        assert s.linear[0] == 1 and s.linear[1] == 1 and s.linear[6] == 1 and s.linear[12] == 1
        assert st.stat("sta", (9,)).count == 0
    finally:
        bpf.cleanup()
