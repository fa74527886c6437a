"""Where a probe's positional arguments (ulong_arg(N), int_arg(N),
pointer_arg(N) ...) are, lowered per probe for the `__pytap_arg_slots()`
intrinsic (tapsets/bpf/kernel_context.stp).

stap reads them from the registers of a kprobe; pytap's nd_syscall.*
aliases are tracepoints, where the arguments are 8-byte slots of the trace
record (syscalls:sys_enter_X: one per argument from offset 16; sys_exit_X:
`ret`).  The native reads every place with bpf_probe_read_kernel, never
through ctx directly: the kernel refuses to attach a tracepoint program
whose ctx reads reach past the record (PERF_EVENT_IOC_SET_BPF: EACCES), and
a register read (PT_REGS_PARM6 at offset 72) does for a short record.
"""
from __future__ import annotations

REGS = -1            # ctx is a struct pt_regs * (kprobe, uprobe)
RAW_SYSCALL = -2     # raw sys_enter: args[0] is the syscall's struct pt_regs *
PERF_REGS = -3       # perf event: ctx's first word points to the interrupted registers


def arg_slots(rp) -> int:
    """REGS / RAW_SYSCALL / PERF_REGS, else (count << 16) | offset of the
    record's 8-byte argument slots (0: none, N > count reads 0)."""
    fam = getattr(rp, "family", None)
    if fam in ("kprobe", "uprobe"):
        return REGS
    if fam in ("perf", "timer"):
        return PERF_REGS
    if fam != "tracepoint":
        return 0
    cat, event = rp.spec.get("category"), rp.spec.get("event")
    if cat == "raw_syscalls":
        if event == "sys_enter":
            return RAW_SYSCALL if rp.spec.get("raw") else (6 << 16) | 16
        return (1 << 16) | 16                   # sys_exit: ret
    if cat != "syscalls":
        return 0
    slots = sorted(v.offset for v in rp.variables()
                   if v.source == "field" and v.name != "__syscall_nr"
                   and not v.name.startswith("common_") and v.size == 8)
    return (len(slots) << 16) | slots[0] if slots else 0
