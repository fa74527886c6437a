"""process.begin / process.end, process("path").begin/.end,
process(PID).begin/.end, .thread.begin/.thread.end and .syscall /
.syscall.return, built on scheduler / task / raw_syscalls tracepoints.

stap: process.begin fires when a process (matching PATH/PID if given) is
created, in the new process's context, and once for every preexisting one
at startup; process.end when it dies.  Unspecified ones (no PATH/PID) are
restricted to the target's process hierarchy under -c/-x.

How we map them (spec, family "process"):
    event        "begin" | "end" | "thread.begin" | "thread.end" | "syscall"
                 | "syscall.return" (the last four: see _build_thread and
                 _build_syscall; syscall vars are $syscall, $arg1..$arg6,
                 $return)
    path, pid    what the point names (None when unspecified)
    category, event_name   the tracepoint that carries it:
        process.begin          task:task_newtask (a fork; fires in the
                               PARENT; the child's pid is field "pid")
        process("p").begin     sched:sched_process_exec (in the new image,
                               matched by comm = basename of p)
        process(N).begin       sched:sched_process_exec
        *.end                  sched:sched_process_exit (the dying task)
    subject_pid_field  the record field holding the subject's pid when it is
                 not the current task (task_newtask: "pid"), else None
    filters      conditions codegen must AND into the handler, each a dict:
        {"kind": "field_mask_zero", "field": f, "mask": m}   (rec.f & m) == 0
        {"kind": "field_mask_nonzero", "field": f, "mask": m} (rec.f & m) != 0
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

from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, make_point


CLONE_THREAD = 0x00010000
TASK_COMM_LEN = 16


def _utrace_listing():
    """stap -L lists the utrace context of every process.* point."""
    return [TargetVar("syscall", "long", 8, True, source="field")] + \
        [TargetVar(f"arg{i}", "long", 8, True, source="field") for i in range(1, 7)]


def _build(concrete, point, platform):
    event = concrete[-1][0]
    head = concrete[0][1]
    path = pid = None
    comps = list(concrete)
    if isinstance(head, str):
        path = platform.find_executable(head) or head
        comps[0] = ("process", path)
    elif isinstance(head, int):
        _check_pid(head, platform)
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
                # the exec'd file as the caller spelled it (record field
                # "filename") may be a symlink of `path`; the new comm is
                # its basename either way, so match that, as .end does
                filters.append({"kind": "comm_eq", "value": os.path.basename(path)[:TASK_COMM_LEN - 1]})
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
    rp._listing = _utrace_listing
    return [rp]


def _head(concrete, platform):
    """(path, pid, printed first component) of process / process("p") / process(N)."""
    head = concrete[0][1]
    if isinstance(head, str):
        path = platform.find_executable(head) or head
        return path, None, ("process", path)
    if isinstance(head, int):
        _check_pid(head, platform)
        return None, head, concrete[0]
    return None, None, concrete[0]


def _check_pid(pid, platform):
    if not platform.pid_exists(pid):
        raise StapError(f"cannot probe pid {pid}: No such process")


def _subject_filters(path, pid, filters):
    if path is not None:
        filters.append({"kind": "comm_eq", "value": os.path.basename(path)[:TASK_COMM_LEN - 1]})
    if pid is not None:
        filters.append({"kind": "pid_eq", "value": pid})
    if path is None and pid is None:
        filters.append({"kind": "target_hierarchy"})


def _field_var(fields, field, name, fallback):
    """TargetVar `name` for tracepoint record field `field` (fallback:
    (offset, size, signed) when the format file is not readable)."""
    for f in fields:
        if f.name == field:
            return TargetVar(name, f.c_type, f.size if not f.array_len else 8, f.signed,
                             source="field", offset=f.offset)
    off, size, signed = fallback
    return TargetVar(name, "long", size, signed, source="field", offset=off)


def _build_syscall(concrete, point, platform):
    """process[...].syscall[.return]: raw_syscalls:sys_enter/sys_exit of
    the matching processes; $syscall, $arg1..$arg6 / $return."""
    is_return = concrete[-1][0] == "return"
    path, pid, head = _head(concrete, platform)
    filters = []
    _subject_filters(path, pid, filters)
    ev = "sys_exit" if is_return else "sys_enter"
    spec = {"event": "syscall.return" if is_return else "syscall", "path": path, "pid": pid,
            "category": "raw_syscalls", "event_name": ev, "subject_pid_field": None,
            "filters": filters, "existing": False, "raw": False, "raw_name": None}
    rp = ResolvedPoint("process", make_point(point, [head] + list(concrete[1:])), spec)

    def variables():
        fields = platform.tracepoint_format("raw_syscalls", ev)
        out = [_field_var(fields, "id", "syscall", (8, 8, True))]
        if is_return:
            out.append(_field_var(fields, "ret", "return", (16, 8, True)))
        else:
            base = next((f.offset for f in fields if f.name == "args"), 16)
            out += [TargetVar(f"arg{i + 1}", "unsigned long", 8, False, source="field",
                              offset=base + 8 * i) for i in range(6)]
        return out
    rp._vars = variables
    rp._listing = _utrace_listing
    return [rp]


def _build_thread(concrete, point, platform):
    """process[...].thread.begin / .thread.end: a new thread (clone with
    CLONE_THREAD; task:task_newtask in the creating thread, the new tid in
    field "pid") / a thread's exit that is not its process's last
    (sched_process_exit with group_dead == 0)."""
    event = concrete[-1][0]
    path, pid, head = _head(concrete, platform)
    filters = []
    if event == "begin":
        cat, ev, subject = "task", "task_newtask", "pid"
        filters.append({"kind": "field_mask_nonzero", "field": "clone_flags", "mask": CLONE_THREAD})
    else:
        cat, ev, subject = "sched", "sched_process_exit", None
        filters.append({"kind": "field_eq", "field": "group_dead", "value": 0})
    _subject_filters(path, pid, filters)
    spec = {"event": "thread." + event, "path": path, "pid": pid, "category": cat,
            "event_name": ev, "subject_pid_field": subject, "filters": filters,
            "existing": False, "raw": False, "raw_name": None}
    rp = ResolvedPoint("process", make_point(point, [head] + list(concrete[1:])), spec)
    rp._vars = lambda: []
    rp._listing = _utrace_listing
    return [rp]


PATTERNS = []
for _h in ("process", "process(string)", "process(number)"):
    PATTERNS += [(_h + ".begin", _build), (_h + ".end", _build),
                 (_h + ".syscall", _build_syscall), (_h + ".syscall.return", _build_syscall),
                 (_h + ".thread.begin", _build_thread), (_h + ".thread.end", _build_thread)]


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
