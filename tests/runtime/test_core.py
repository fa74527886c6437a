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
           "/* t.stp:4:9 */\n"
           " bpf_probe_read_kernel(&x, 800000, (void*)ctx->di);\n"
           " return x; }\n")

    class P:  # a DerivedProbe stand-in with a location
        point = type("PP", (), {"loc": Loc("t.stp", 3, 1)})()
    with pytest.raises(PassFailed) as ei:
        load(Program(c_source=src, probes=[CompiledProbe(0, P(), "bpf", "probe_0", "kprobe")]),
             Options())
    text = ei.value.footer
    assert "verifier rejected the handler 'probe_0'" in text
    assert "invalid write to stack" in text and "at t.stp:4:9" in text


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


# ---------------------------------------------------------------- lifecycle
C_TIMER = r"""
#include <uapi/linux/bpf_perf_event.h>
BPF_RINGBUF_OUTPUT(events, 8);
BPF_ARRAY(pytap_state, s64, 4);
BPF_ARRAY(g_count, s64, 1);
struct r16 { u32 kind; u32 cpu; s64 n; };
int probe_1(struct bpf_perf_event_data *ctx) {
  int k0 = 0, k1 = 1;
  s64 *st = pytap_state.lookup(&k0);
  s64 *tg = pytap_state.lookup(&k1);
  if (!st || !tg || *st) return 0;
  s64 *c = g_count.lookup(&k0);
  if (!c) return 0;
  s64 n = __sync_fetch_and_add(c, 1) + 1;
  if (n > LIMIT) return 0;
  struct r16 *r = events.ringbuf_reserve(sizeof(*r));
  if (!r) return 0;
  r->kind = 16; r->cpu = 0; r->n = n + *tg * 1000;
  events.ringbuf_submit(r, 0);
  if (n == STOP_AT) {
    *st = 1;
    u64 *e = events.ringbuf_reserve(8);
    if (e) { e[0] = 1; events.ringbuf_submit(e, 0); }
  }
  return 0;
}
"""


def _timer_program(limit, stop_at):
    from pytap.codegen.program import RecordFormat
    return Program(
        c_source=C_TIMER, cflags=[f"-DLIMIT={limit}", f"-DSTOP_AT={stop_at}"],
        formats=[RecordFormat(16, "printf", "tick %d\n", ["long"])],
        globals=[GlobalLayout("count", "g_count", "scalar", "long")],
        probes=[CompiledProbe(1, None, "bpf", "probe_1", "perf_event")],
        attach_groups=[("probe_1", "timer")])


@pytest.fixture
def fake_attach(monkeypatch):
    """probes.attach for hand-made programs: a 1 ms CPU-clock perf event."""
    import pytap.probes as probes_mod
    attached = []

    def attach(bpf, fn_name, rp):
        bpf.attach_perf_event(ev_type=1, ev_config=0, fn_name=fn_name.encode(),
                              sample_period=1_000_000, cpu=0)
        attached.append(fn_name)

        def detach():
            bpf.detach_perf_event(1, 0)
            attached.remove(fn_name)
        return detach
    monkeypatch.setattr(probes_mod, "attach", attach, raising=False)
    return attached


def test_lifecycle_exit_record_stops(capsys, fake_attach):
    _need_bpf()
    from pytap.runtime.lifecycle import run
    rc = run(_timer_program(3, 3), Options(target_pid=7))
    assert rc == 0
    assert capsys.readouterr().out == "tick 7001\ntick 7002\ntick 7003\n"
    assert fake_attach == []


def test_lifecycle_timeout_and_output_file(tmp_path, capsys, fake_attach):
    _need_bpf()
    from pytap.runtime.lifecycle import run
    out = tmp_path / "o.txt"
    rc = run(_timer_program(2, 99), Options(timeout=0.5, output_file=str(out)))
    assert rc == 0
    assert out.read_text() == "tick 1\ntick 2\n"
    assert capsys.readouterr().out == ""


def test_lifecycle_sigterm(capsys, fake_attach):
    _need_bpf()
    import signal
    import threading
    from pytap.runtime.lifecycle import run
    import pytap.probes as probes_mod
    real_attach = probes_mod.attach

    def attach_then_signal(bpf, fn, rp):   # signal once the probes are armed
        det = real_attach(bpf, fn, rp)
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
        return det
    probes_mod.attach = attach_then_signal
    old = signal.getsignal(signal.SIGTERM)
    rc = run(_timer_program(1, 99), Options())
    assert rc == 0 and capsys.readouterr().out == "tick 1\n"
    assert signal.getsignal(signal.SIGTERM) == old
    assert fake_attach == []


def test_lifecycle_target_command(capsys, fake_attach):
    _need_bpf()
    from pytap.runtime.lifecycle import run
    rc = run(_timer_program(0, 99), Options(target_cmd="echo from-cmd; sleep 0.2"))
    assert rc == 0
    assert capsys.readouterr().out == ""   # the child's output goes to the real fd 1


# ------------------------------------------- user-mode probes, real elaborator
def _user_program(text, tmp_path):
    """Elaborate `text` and wrap it in a Program whose probes all run in the
    interpreter; globals (scalar longs) get hand-made maps."""
    from pytap.elaborate import elaborate_source
    tap = tmp_path / "tapset"
    tap.mkdir(exist_ok=True)
    (tap / "base.stp").write_text("function exit () %{ /* bpf */ %}\n"
                                  "function error (msg:string) %{ /* bpf */ %}\n"
                                  "function target:long () %{ /* bpf */ %}\n")
    opts = Options(tapset_dir=str(tap))
    sess = elaborate_source(text, options=opts, filename="u.stp")
    c = ["BPF_RINGBUF_OUTPUT(events, 8);", "BPF_ARRAY(pytap_state, s64, 4);"]
    layouts = []
    for g in sess.globals:
        c.append(f"BPF_ARRAY(g_{g.name}, s64, 1);")
        layouts.append(GlobalLayout(g.name, f"g_{g.name}", "scalar", "long", decl=g))
    prog = Program(c_source="\n".join(c) + "\n", session=sess, globals=layouts,
                   probes=[CompiledProbe(p.index, p, "user", resolved=p.resolved)
                           for p in sess.probes])
    return prog, opts


def test_user_probes_priorities_exit_and_globals(tmp_path, capsys):
    _need_bpf()
    from pytap.runtime.lifecycle import run
    prog, opts = _user_program(
        'global a, b, c\n'
        'probe begin(5) { a = 1; c = 7; println("begin 5"); exit(); println("still runs") }\n'
        'probe begin { b = a + 2; println("begin 0") }\n'
        'probe begin(9) { println("begin 9 must not run") }\n'
        'probe end { printf("end b=%d\\n", b) }\n', tmp_path)
    assert run(prog, opts) == 0
    assert capsys.readouterr().out == "begin 0\nbegin 5\nstill runs\nend b=2\nc=7\n"


def test_user_probe_runtime_error(tmp_path, capsys):
    _need_bpf()
    from pytap.runtime.lifecycle import run
    prog, opts = _user_program(
        'global z\n'
        'probe begin { println(10 / z) }\n'
        'probe error { println("error probe") }\n'
        'probe end { println("end must not run") }\n', tmp_path)
    assert run(prog, opts) == 1
    out, err = capsys.readouterr()
    assert out == "error probe\n"
    assert err.endswith("ERROR: division by 0 near operator '/' at u.stp:2:26\n"
                   "WARNING: Number of errors: 1, skipped probes: 0\n"
                   "Pass 5: run failed.  [man error::pass5]\n")


# ---------------------------------------------------------------- checks
def test_not_root_message(monkeypatch):
    from pytap.runtime import privileges
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(PassFailed) as ei:
        privileges.check_can_load(Options())
    text = ei.value.footer
    assert "needs root privileges" in text and "sudo" in text
    assert text.endswith("Pass 5: run failed.  [man error::pass5]")
    with pytest.raises(PassFailed) as ei:
        privileges.check_can_load(Options(last_pass=4))
    assert ei.value.footer.endswith("Pass 4: compilation failed.  [man error::pass4]")


def test_missing_headers_message(monkeypatch):
    import pytap.platform as plat
    from pytap.diagnostics import StapError
    from pytap.runtime import privileges

    def no_headers():
        raise StapError("kernel headers missing: install linux-headers-X", kind="")
    monkeypatch.setattr(plat, "ensure_kernel_headers", no_headers)
    with pytest.raises(PassFailed) as ei:
        privileges.check_headers()
    assert ei.value.footer.startswith("pytap: kernel headers missing: install linux-headers-X\n")


def test_cli_p4_without_root_is_clean(monkeypatch, capsys):
    """Through the CLI: a clear message and exit 1, no traceback."""
    from pytap.runtime import loader
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    from pytap.cli import main
    monkeypatch.setattr("pytap.pipeline.run", lambda opts: loader.load_only(Program(c_source=""), opts))
    rc = main(["-p4", "-e", "probe begin {}"])
    err = capsys.readouterr().err
    assert rc == 1 and "needs root" in err and "Traceback" not in err


def test_c_line_to_script_location():
    from pytap.runtime.loader import script_loc_for_c_line
    src = "a\n/* x.stp:3:5 */\nb\nc /* x.stp:4:1 */ d\ne\n"
    p = Program(c_source=src)
    assert script_loc_for_c_line(p, 1) is None
    assert script_loc_for_c_line(p, 3) == Loc("x.stp", 3, 5)
    assert script_loc_for_c_line(p, 5) == Loc("x.stp", 4, 1)
    p2 = Program(c_source='x\n#line 10 "y.stp"\nfoo\nbar\n')
    assert script_loc_for_c_line(p2, 3) == Loc("y.stp", 10, 1)
    assert script_loc_for_c_line(p2, 4) == Loc("y.stp", 11, 1)
    p3 = Program(c_source="a\nb\nc\n")
    p3.line_map = {2: Loc("z.stp", 7, 2)}
    assert script_loc_for_c_line(p3, 3) == Loc("z.stp", 7, 2)


def test_lost_records_reported(capsys, fake_attach):
    """Records BPF could not reserve are counted in the state map's dropped
    slot and reported at exit like stap's transport failures."""
    _need_bpf()
    from pytap.runtime.lifecycle import run
    prog = _timer_program(1, 1)
    prog.c_source = prog.c_source.replace(
        "  if (n == STOP_AT) {",
        "  { int k2 = 2; s64 *d = pytap_state.lookup(&k2); if (d) __sync_fetch_and_add(d, 3); }\n"
        "  if (n == STOP_AT) {")
    assert run(prog, Options()) == 0
    out, err = capsys.readouterr()
    assert out == "tick 1\n"
    assert "WARNING: There were 3 transport failures." in err
