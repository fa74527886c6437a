"""Pass-2 matching of begin/end/error/never, timer.*, perf.* and the match
tree's errors, with a FakePlatform (no root).  Expected texts are stap 4.8's
(measured with stap -p2)."""
import subprocess
import sys

import pytest

from pytap import probes
from pytap.diagnostics import StapError
from pytap.platform import FakePlatform
from pytap.probes.core import point_from_text, point_to_text

PLAT = FakePlatform()


def resolve(text):
    return probes.resolve(point_from_text(text), PLAT)


def texts(text):
    return [point_to_text(rp.point) for rp in resolve(text)]


def error(text):
    with pytest.raises(StapError) as ei:
        resolve(text)
    return ei.value


def test_import_is_cheap():
    code = "import sys, pytap.probes, pytap.platform; print('bcc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("text,family,prio", [
    ("begin", "begin", 0), ("begin(-5)", "begin", -5), ("end(3)", "end", 3),
    ("error", "error", 0), ("error(7)", "error", 7), ("never", "never", 0)])
def test_begin_end_error_never(text, family, prio):
    [rp] = resolve(text)
    assert (rp.family, rp.priority, point_to_text(rp.point)) == (family, prio, text)
    assert probes.bpf_program_type(rp) is None
    assert probes.attach(None, "f", rp) is None


def test_begin_suffix_and_never_arg():
    e = error("begin.x")
    assert e.message == "invalid suffix for probe"
    assert e.tok_desc == "identifier 'x'" and e.loc.col == 7
    assert error("never(1)").message.startswith("probe point mismatch (similar: ")


@pytest.mark.parametrize("text,period", [
    ("timer.s(3)", 3 * 10**9), ("timer.sec(1)", 10**9), ("timer.ms(100)", 10**8),
    ("timer.msec(5)", 5 * 10**6), ("timer.us(100)", 100000), ("timer.usec(200)", 200000),
    ("timer.ns(100000)", 100000), ("timer.nsec(200000)", 200000), ("timer.hz(100)", 10**7),
    ("timer.jiffies(5)", 5 * 4000000)])
def test_timer_periods(text, period):
    [rp] = resolve(text)
    assert rp.family == "timer" and rp.spec["period_ns"] == period
    assert rp.spec["all_cpus"] is False and rp.spec["randomize_ns"] == 0
    assert point_to_text(rp.point) == text
    assert probes.bpf_program_type(rp) == "perf_event"


def test_timer_randomize():
    [rp] = resolve("timer.ms(100).randomize(10)")
    assert rp.spec["randomize_ns"] == 10 * 10**6
    assert point_to_text(rp.point) == "timer.ms(100).randomize(10)"
    assert resolve("timer.ms(100).randomize(100)")[0].spec["randomize_ns"] == 10**8
    assert resolve("timer.jiffies(10).randomize(0)")[0].spec["randomize_ns"] == 0


@pytest.mark.parametrize("text,message", [
    ("timer.s(0)", "interval value out of range (1, 86400)"),
    ("timer.s(-1)", "interval value out of range (1, 86400)"),
    ("timer.s(86401)", "interval value out of range (1, 86400)"),
    ("timer.ns(10)", "interval value out of range (100000, 86400000000000)"),
    ("timer.us(1)", "interval value out of range (100, 86400000000)"),
    ("timer.hz(0)", "frequency must be greater than 0"),
    ("timer.hz(2000000000)", "interval value out of range (100000, 86400000000000)"),
    ("timer.jiffies(1000001)", "invalid interval for jiffies timer"),
    ("timer.ms(100).randomize(200)", "randomization value out of range"),
    ("timer.ms(100).randomize(-1)", "randomization value out of range"),
])
def test_timer_errors(text, message):
    e = error(text)
    assert e.message == message and e.loc is None


def test_timer_mismatch_and_suffix():
    e = error("timer.s")
    assert e.message == "probe point mismatch (similar: s, ms, ns, us, hz)"
    assert (e.tok_desc, e.loc.col) == ("identifier 's'", 7)
    assert error('timer.s("a")').message == "probe point mismatch (similar: s, ms, ns, us, hz)"
    e = error("timer.hz(100).randomize(3)")
    assert (e.message, e.tok_desc) == ("invalid suffix for probe", "identifier 'randomize'")


def test_timer_truncated():
    e = error("timer")
    assert e.message == ("probe point truncated (follow:  hz(number) jiffies(number) ms(number) "
                         "msec(number) ns(number) nsec(number) profile s(number) sec(number) "
                         "us(number) usec(number))")
    assert (e.tok_desc, e.loc.col) == ("identifier 'timer'", 1)


def test_timer_glob_drops_invalid_expansions():
    # stap: timer.*(1) -> hz jiffies ms msec s sec (ns/us out of range are dropped)
    assert texts("timer.*(1)") == ["timer.hz(1)", "timer.jiffies(1)", "timer.ms(1)",
                                   "timer.msec(1)", "timer.s(1)", "timer.sec(1)"]
    assert texts("tim*.s(1)") == ["timer.s(1)"]
    assert texts("timer.zz*(1)") == []


def test_timer_profile():
    [rp] = resolve("timer.profile")
    assert rp.family == "perf"
    assert point_to_text(rp.point) == "perf.type(1).config(0).sample(1000000)"
    assert error("timer.profile.tick").message == \
        "profiling timer support (register_timer_hook) not found in kernel!"


@pytest.mark.parametrize("text,printed,ptype,config,period,freq", [
    ("perf.sw.cpu_clock", "perf.type(1).config(0).sample(1000000)", 1, 0, 1000000, False),
    ("perf.sw.cpu_clock.sample(1000)", "perf.type(1).config(0).sample(1000)", 1, 0, 1000, False),
    ("perf.hw.cpu_cycles", "perf.type(0).config(0).sample(1000000)", 0, 0, 1000000, False),
    ("perf.sw.context_switches", "perf.type(1).config(3).sample(1000000)", 1, 3, 1000000, False),
    ("perf.type(1).config(0)", "perf.type(1).config(0).sample(1000000)", 1, 0, 1000000, False),
    ("perf.type(1).config(0).sample(5)", "perf.type(1).config(0).sample(5)", 1, 0, 5, False),
    ("perf.type(1).config(0).hz(5)", "perf.type(1).config(0).sample(5)", 1, 0, 5, True),
])
def test_perf(text, printed, ptype, config, period, freq):
    [rp] = resolve(text)
    assert point_to_text(rp.point) == printed
    s = rp.spec
    assert (s["type"], s["config"], s["period"], s["freq"]) == (ptype, config, period, freq)
    assert probes.bpf_program_type(rp) == "perf_event"


def test_perf_process():
    [rp] = resolve('perf.type(1).config(0).process("/tmp/x")')
    assert point_to_text(rp.point) == 'perf.type(1).config(0).sample(1000000).process("/tmp/x")'
    assert rp.spec["process"] == "/tmp/x"


def test_perf_errors():
    e = error("perf.type(1)")
    assert e.message == "probe point truncated (follow:  config(number))"
    assert (e.tok_desc, e.loc.col) == ("identifier 'type'", 6)
    e = error("perf.type(1).config(0).sample(0)")
    assert e.message == "invalid perf sample period 0" and e.tok_desc == "number '0'"
    assert e.loc.col == 31
    e = error("perf.sw.foo")
    assert e.message.startswith("probe point mismatch (similar: ")
    assert "cpu_clock" in e.message
    assert error("perf.type(1).config(0).sample(2).hz(4)").message == "invalid suffix for probe"
    assert error("perf").message == "probe point truncated (follow:  hw hw_cache sw type(number))"
    [rp] = resolve("perf.hw_cache.ll.write.miss")
    assert (rp.spec["type"], rp.spec["config"]) == (3, 0x010102)


def test_unknown_family_is_a_mismatch():
    e = error("foo")
    assert e.message.startswith("probe point mismatch")
    assert e.tok_desc == "identifier 'foo'"


def test_registry_lists():
    types = probes.probe_types()
    assert "timer.s(number).randomize(number)" in types
    assert "kernel.trace(string)" in types
    assert "process(string).function(string).return" in types
    assert {"begin", "timer", "perf", "kprobe", "kernel", "module", "process"} <= set(probes.family_names())


def test_concrete_point_keeps_locations():
    p = point_from_text("timer.ms(100)")
    [rp] = probes.resolve(p, PLAT)
    assert rp.point is not p
    assert [c.loc for c in rp.point.components] == [c.loc for c in p.components]


def test_derivation_point_of_tapset_style_aliases():
    [rp] = resolve("perf.sw.cpu_clock")
    assert point_to_text(rp.derivation_point) == "perf.type(1).config(0)"
    [rp] = resolve("perf.hw.instructions.sample(1000)")
    assert point_to_text(rp.derivation_point) == "perf.type(0).config(1).sample(1000)"
    [rp] = resolve("timer.profile")
    assert point_to_text(rp.derivation_point) == "perf.type(1).config(0).sample(1000000)"
    assert resolve("perf.type(1).config(0)")[0].derivation_point is None
    assert resolve("timer.s(1)")[0].derivation_point is None
