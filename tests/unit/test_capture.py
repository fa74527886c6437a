"""The capture plan of user-mode handlers (pytap/codegen/capture.py): what
a user-space handler's BPF stub evaluates and sends with the event."""
from __future__ import annotations

import struct

import pytest

from pytap.codegen import generate
from pytap.codegen.capture import analyze, describe
from pytap.diagnostics import PassFailed
from pytap.elaborate import elaborate_source
from pytap.options import Options

SWITCH = 'kernel.trace("sched:sched_switch")'


def session(text):
    return elaborate_source(text, options=Options())


def gen(text):
    opts = Options()
    return generate(elaborate_source(text, options=opts), opts)


def plan_of(text, index=0):
    s = session(text)
    p = [p for p in s.probes if p.index == index][0]
    return analyze(p.body)


def captured(plan):
    return [describe(st.node) for st in plan.steps if st.captured]


def test_target_and_kernel_only_call_on_event_values_are_captured():
    plan = plan_of(f'global a; probe {SWITCH} {{ a[task_pid($prev)] <<< $prev_pid; '
                   f'printf("%d %s\\n", @count(a[1]), task_execname(task_current())) }}')
    assert captured(plan) == ["task_pid($prev)", "$prev_pid", "task_execname(task_current())"]
    assert plan.refused == []


def test_a_local_defined_from_event_values_is_bound_for_later_captures():
    plan = plan_of(f'global a; probe {SWITCH} {{ t = $prev; n = 3; '
                   f'a[task_pid(t) + n] <<< 1; println(@count(a[1])) }}')
    binds = [(st.bind.name, st.captured) for st in plan.steps if st.bind is not None]
    assert binds == [("t", True)]          # n: no capture reads it, the stub skips it
    assert captured(plan)[-1] == "task_pid(t)"
    plan = plan_of(f'global a; probe {SWITCH} {{ n = 8; t = $prev + n; '
                   f'a[kernel_long(t)] <<< 1; println(@count(a[1])) }}')
    assert [(st.bind.name, st.captured) for st in plan.steps if st.bind is not None] \
        == [("n", False), ("t", False)]
    assert captured(plan) == ["$prev", "kernel_long(t)"]


def test_a_local_written_twice_or_defined_in_a_branch_is_not_event_determined():
    for body in ("t = $prev; t = $next", "if (pid()) t = $prev"):
        plan = plan_of(f'global a; probe {SWITCH} {{ {body}; a[task_pid(t)] <<< 1; '
                       f'println(@count(a[1])) }}')
        assert [describe(r.node) for r in plan.refused] == ["task_pid(t)"]
        assert plan.refused[0].why == "its argument is only known in user space"


def test_side_effect_free_script_functions_are_captured_whole():
    plan = plan_of(f'function f(t) {{ return task_pid(t) + 1 }} '
                   f'global a; probe {SWITCH} {{ a[f($prev)] <<< 1; println(@count(a[1])) }}')
    assert captured(plan) == ["f($prev)"]


def test_a_function_touching_globals_is_entered_and_param_free_reads_captured():
    plan = plan_of(f'global g, a; function f(x) {{ g = x; return task_pid(task_current()) }} '
                   f'probe {SWITCH} {{ a[f(1)] <<< 1; println(@count(a[1])) }}')
    assert captured(plan) == ["task_pid(task_current())"]


def test_entry_is_always_captured_even_over_a_script_function():
    # fntimes.stp: check(time() - @entry(time()))
    plan = plan_of('global t; function time() { return gettimeofday_us() } '
                   'probe syscall.openat.return '
                   '{ t <<< time() - @entry(time()); println(@count(t)) }')
    assert captured(plan) == ["@entry(time())"]


def test_kernel_call_on_a_user_space_value_is_a_pass3_error_naming_it():
    with pytest.raises(PassFailed) as ei:
        gen(f'global a; probe {SWITCH} {{ a[$prev_pid] = 1; '
            f'foreach (k in a) println(task_execname(pid2task(k))) }}')
    text = ei.value.diagnostics.render()
    assert "task_execname() needs the kernel context" in text


def test_plan_lines_say_where_each_probe_runs_and_what_bpf_captures():
    p = gen(f'global a; probe begin {{ println(1) }} probe {SWITCH} {{ a[$prev_pid] <<< 1 }} '
            f'probe {SWITCH} {{ x = $next_pid; a[x] <<< 1; println(@count(a[x])) }}')
    assert p.plan[0] == "probe 0 begin: user space"
    assert p.plan[1] == 'probe 1 kernel.trace("sched:sched_switch"): bpf'
    assert p.plan[2] == ('probe 2 kernel.trace("sched:sched_switch"): bpf + user space '
                         '(reading an aggregate); bpf captures: $next_pid')


def test_failed_capture_is_raised_by_the_interpreter_where_it_is_read():
    from pytap.runtime.errors import CapturedError, ScriptRuntimeError
    from pytap.runtime.ringbuf import Decoder
    from pytap.codegen.program import KIND_TRIGGER
    p = gen(f'global a; probe {SWITCH} {{ a[1] <<< 1; '
            f'if (@count(a[1]) > 1) println(kernel_string($prev_pid)) }}')
    cp = p.probes[0]
    assert cp.mode == "user" and len(cp.captures) == 1 and cp.capture_msg_size >= 128
    site = len(p.errors) - 1
    msz = cp.capture_msg_size
    rec = struct.pack("<II9q16s", KIND_TRIGGER, 0, cp.index, 1, 1, 0, 0, 0, 0, 0, 0, b"x")
    rec += struct.pack(f"<qq{msz}s", site + 1, site + 1, b"read fault at 0x1")
    rec += struct.pack(f"<{cp.captures[0][2]}s", b"")
    r = Decoder(p).decode(rec)
    v = r.trigger["target_values"][cp.captures[0][0]]
    assert isinstance(v, CapturedError)
    assert isinstance(v.error, ScriptRuntimeError) and v.error.message == "read fault at 0x1"


def test_script_embedded_c_for_stap_kernel_runtime_is_a_pass3_error():
    # plimit.stp: a guru function in stap's kernel C, called from begin
    opts = Options()
    opts.guru = True
    s = elaborate_source('function f:string (pid:long) %{ /* pure */ STAP_RETVALUE[0] = 0; %}\n'
                         'probe begin { println(f(1)) }', options=opts)
    with pytest.raises(PassFailed) as ei:
        generate(s, opts)
    assert "f() is embedded C for stap's kernel runtime, which pytap cannot run" \
        in ei.value.diagnostics.render()


def test_interpreter_raises_a_failed_capture_where_it_is_read_and_catch_sees_it():
    from pytap.runtime.errors import CapturedError, ScriptRuntimeError
    from pytap.runtime.interp import Interpreter, ProbeContext
    from pytap.runtime.store import MemoryStore
    s = session(f'global a; probe {SWITCH} {{ a[1] <<< 1; println("first"); '
                f'try {{ println(kernel_string($prev_pid)) }} catch (m) {{ println("caught: ", m) }} '
                f'println(@count(a[1])) }}')
    p = s.probes[0]
    plan = analyze(p.body)
    [call] = [st.node for st in plan.steps if st.captured]
    out = []
    it = Interpreter(s, MemoryStore(s.globals), out.append, s.options)
    it.init_globals()
    bad = CapturedError(ScriptRuntimeError("kernel string copy fault at 0x2a"))
    it.run_probe(p, ProbeContext(pid=1, target_values={id(call): bad}))
    assert "".join(out) == "first\ncaught: kernel string copy fault at 0x2a\n1\n"
