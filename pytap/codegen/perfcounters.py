"""@perf("NAME") in BPF: the counting perf event(s) of the
perf.*.counter("NAME") point sit in a perf-event array map, one slot per
possible CPU (probes/perf.py attach_counter fills it: the same per-task
event in every slot when it counts the -c/-x target, else one per-CPU
event each); the handler reads the slot of the CPU it runs on.  A read
that the kernel refuses (an event of another task) gives 0."""
from __future__ import annotations

from .cutil import c_ident


def map_name(name: str) -> str:
    return "pytap_ctr_" + c_ident(name)


def perf_read_expr(gen, e) -> str:
    from .generate import _possible_cpus
    name = e.operand.value
    m = map_name(name)
    decl = f"BPF_PERF_ARRAY({m}, {_possible_cpus()});"
    if decl not in gen.native_src:
        gen.native_src.insert(0, decl)
    return (f"({{ struct bpf_perf_event_value __pv = {{}}; "
            f"(s64)({m}.perf_counter_value(BPF_F_CURRENT_CPU, &__pv, sizeof(__pv)) == 0 "
            f"? __pv.counter : 0); }})")
