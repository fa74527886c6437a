"""process.begin / process.end, process("path").begin/.end,
process(PID).begin/.end, built on scheduler tracepoints.

stap: process.begin fires when a process (matching PATH/PID if given) is
created, in the new process's context, and once for every preexisting one
at startup; process.end when it dies.  Unspecified ones (no PATH/PID) are
restricted to the target's process hierarchy under -c/-x.

How we map them (spec, family "process"):
    event        "begin" | "end"
    path, pid    what the point names (None when unspecified)
    category, event_name   the tracepoint that carries it:
        process.begin          task:task_newtask (a fork; fires in the
                               PARENT; the child's pid is field "pid")
        process("p").begin     sched:sched_process_exec (in the new image)
        process(N).begin       sched:sched_process_exec
        *.end                  sched:sched_process_exit (the dying task)
    subject_pid_field  the record field holding the subject's pid when it is
                 not the current task (task_newtask: "pid"), else None
    filters      conditions codegen must AND into the handler, each a dict:
        {"kind": "field_mask_zero", "field": f, "mask": m}   (rec.f & m) == 0
        {"kind": "field_eq", "field": f, "value": v}         rec.f == v
        {"kind": "field_str_eq", "field": f, "value": s}     string field == s
        {"kind": "pid_eq", "value": n}                       current tgid == n
        {"kind": "comm_eq", "value": s}                      current comm == s
                                                             (approximates "exe is path")
        {"kind": "target_hierarchy"}   only when a -c/-x target exists: the
                 subject is the target or its descendant (tgid == target as
                 a first approximation)
    existing     True for .begin: stap also fires it for preexisting
                 processes at startup (the runtime may emulate by scanning /proc)
Attach: as that tracepoint (tracepoint.attach); program type "tracepoint".
"""
from __future__ import annotations

import os

from .core import ResolvedPoint, TargetVar, make_point

CLONE_THREAD = 0x00010000
TASK_COMM_LEN = 16


def _build(concrete, point, platform):
    event = concrete[-1][0]
    head = concrete[0][1]
    path = pid = None
    comps = list(concrete)
    if isinstance(head, str):
        path = platform.find_executable(head) or head
        comps[0] = ("process", path)
    elif isinstance(head, int):
        pid = head
    filters = []
    subject = None
    if event == "begin":
        if path is None and pid is None:
            cat, ev = "task", "task_newtask"
            subject = "pid"
            filters.append({"kind": "field_mask_zero", "field": "clone_flags", "mask": CLONE_THREAD})
        else:
            cat, ev = "sched", "sched_process_exec"
            if path is not None:
                filters.append({"kind": "field_str_eq", "field": "filename", "value": path})
            if pid is not None:
                filters.append({"kind": "pid_eq", "value": pid})
    else:
        cat, ev = "sched", "sched_process_exit"
        filters.append({"kind": "field_eq", "field": "group_dead", "value": 1})
        if path is not None:
            filters.append({"kind": "comm_eq", "value": os.path.basename(path)[:TASK_COMM_LEN - 1]})
        if pid is not None:
            filters.append({"kind": "pid_eq", "value": pid})
    if path is None and pid is None:
        filters.append({"kind": "target_hierarchy"})
    spec = {"event": event, "path": path, "pid": pid, "category": cat, "event_name": ev,
            "subject_pid_field": subject, "filters": filters, "existing": event == "begin",
            "raw": False, "raw_name": None}
    rp = ResolvedPoint("process", make_point(point, comps), spec)
    rp._vars = lambda: []
    return [rp]


PATTERNS = []
for _head in ("process", "process(string)", "process(number)"):
    PATTERNS += [(_head + ".begin", _build), (_head + ".end", _build)]


def program_type(rp):
    return "tracepoint"


def tracepoint_fields(rp, platform=None):
    """The record fields the filters refer to (for codegen)."""
    from .. import platform as pplat
    plat = platform or pplat.current()
    return plat.tracepoint_format(rp.spec["category"], rp.spec["event_name"])


def attach(bpf, fn_name, rp):
    from . import tracepoint
    shim = ResolvedPoint("tracepoint", rp.point,
                         {"category": rp.spec["category"], "event": rp.spec["event_name"], "raw": False})
    return tracepoint.attach(bpf, fn_name, shim)
