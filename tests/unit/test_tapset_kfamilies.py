"""The process, scheduler, signal, memory and interrupt tapsets
(tapsets/kprocess.stp, scheduler.stp, signal.stp, vm.stp, irq.stp):
their listing against SystemTap's locals and man pages, and their helper
functions run by the user-space interpreter."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from pytap.cli import main
from pytap.elaborate import elaborate_source
from pytap.runtime.interp import Interpreter, ProbeContext
from pytap.runtime.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
TRACEFS = "/sys/kernel/tracing/available_events"


def _compare_module():
    spec = importlib.util.spec_from_file_location("compare_listing", ROOT / "scripts" / "compare_listing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def listing(monkeypatch, tmp_path, capsys):
    if not os.access(TRACEFS, os.R_OK):
        pytest.skip("the tracepoint list (tracefs) is not readable here")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)

    def run(pattern):
        rc = main(["-L", pattern])
        assert rc == 0
        return capsys.readouterr().out.splitlines()
    return run


# stap -L on this machine (stap 4.8, Linux 6.18), `$vars` and stap's
# internal __tracepoint_arg_* locals left out; pytap lists the same names
# and types (order aside).
STAP_LOCALS = {
    "kprocess.create": "task:long new_pid:long new_tid:long",
    "kprocess.exec": "name:string filename:string args:string env_str:string argstr:string",
    "kprocess.exec_complete": "name:string retval:long retstr:string errno:long success:long",
    "scheduler.ctxswitch": "name:string prev_priority:long prev_pid:long prev_tid:long prev_task:long "
                           "prev_task_name:string prevtsk_state:long next_priority:long next_pid:long "
                           "next_tid:long next_task:long next_task_name:string nexttsk_state:long",
    "scheduler.migrate": "cpu_to:long name:string task:long pid:long priority:long cpu_from:long",
    "scheduler.wakeup": "name:string task:long task_pid:long task_tid:long task_priority:long "
                        "task_cpu:long task_state:long",
    "signal.systgkill": "name:string tgid:long pid:long sig:long sig_str:string argstr:string "
                        "sig_name:string sig_pid:long task:long pid_name:string",
    "vm.kmalloc": "call_site:long caller_function:string bytes_req:long bytes_alloc:long "
                  "gfp_flags:long gfp_flag_name:string ptr:long name:string",
    "irq_handler.exit": "irq:long action:long ret:long handler:long flags:long flags_str:string "
                        "dev_name:long dev_id:long next_irqaction:long dir:long thread_fn:long "
                        "thread:long thread_flags:long",
    "softirq.entry": "h:long vec:long action:long vec_nr:long",
}


@pytest.mark.parametrize("probe", sorted(STAP_LOCALS))
def test_listing_has_stap_locals(listing, probe):
    lines = [ln for ln in listing(probe) if ln.split()[0] == probe]
    assert len(lines) == 1, lines
    ours = set(lines[0].split()[1:])
    assert set(STAP_LOCALS[probe].split()) <= ours


FAMILIES = ["kprocess.*", "scheduler.*", "scheduler.*.*", "signal.*", "signal.*.*", "vm.*", "vm.*.*",
            "irq_handler.*", "softirq.*", "workqueue.*"]


@pytest.mark.parametrize("pattern", FAMILIES)
def test_every_documented_probe_is_listed_with_its_values(listing, pattern):
    cmp = _compare_module()
    docs = cmp.documented(pattern)
    if not docs:
        pytest.skip("SystemTap's man pages (probe::*) are not installed")
    ours = {}
    for line in listing(pattern):
        parts = line.split()
        ours[parts[0]] = {p.split(":")[0] for p in parts[1:]}
    missing = {}
    for probe in docs:
        want = cmp.man_values(probe)
        if probe not in ours:
            missing[probe] = "not listed"
        elif set(want) - ours[probe]:
            missing[probe] = sorted(set(want) - ours[probe])
    assert missing == {}


def run_begin(body):
    sess = elaborate_source(f"probe begin {{ {body} }}\n", filename="t.stp")
    out = []
    it = Interpreter(sess, MemoryStore(sess.globals), out.append, sess.options)
    it.init_globals()
    for p in sess.probes:
        it.run_probe(p, ProbeContext(pid=7, execname="stap"))
    return "".join(out)


def test_signal_helper_functions():
    out = run_begin(r'''
println(sa_flags_str(0x14000004))
println(sa_flags_str(0))
println(sa_handler_str(0), " ", sa_handler_str(1), " ", sa_handler_str(-1), " ", sa_handler_str(0x401000))
println(sigset_mask_str(0x8000000000000203))
println(__kf_signal_name(10), " ", __kf_signal_name(29), " ", __kf_signal_name(0), " ", __kf_signal_name(40))
println(return_str(1, 3), " ", return_str(1, -2), " ", return_str(1, -4095))
''')
    assert out == ("SIGINFO|RESTART|RESTORER\n"
                   "\n"
                   "default ignored error 0x401000\n"
                   "1,2,10,64\n"
                   "SIGUSR1 SIGIO/SIGPOLL SIG_0 0x28\n"
                   "3 -2 (ENOENT) -4095\n")


def test_vm_and_irq_helper_functions():
    out = run_begin(r'''
println(__kf_gfp_flag_str(0xcc0), " ", __kf_gfp_flag_str(0x820))
println(__kf_gfp_flag_str(0x2cc0))
println(__kf_irqflags_str(0), " ", __kf_irqflags_str(0x80), " ", __kf_irqflags_str(0x14280))
println(__kf_irqflags_str(0x202080))
println(vm_fault_contains(0x4, VM_FAULT_MAJOR), vm_fault_contains(0x4, VM_FAULT_MINOR),
        vm_fault_contains(0x0, VM_FAULT_MINOR), vm_fault_contains(0x40, VM_FAULT_ERROR))
''')
    assert out == ("GFP_KERNEL GFP_ATOMIC\n"
                   "__GFP_IO | __GFP_FS | __GFP_NOWARN | __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM\n"
                   "0x0 IRQF_SHARED IRQF_SHARED|IRQF_TIMER\n"
                   "IRQF_SHARED|IRQF_ONESHOT|0x200000\n"
                   "1011\n")
