"""What pass 3 hands to the run time: the BPF C text plus every table user
space needs to attach programs, decode ring-buffer records and read globals.

This is the contract between pytap/codegen (producer) and pytap/runtime
(consumer).  Extend it additively.

Ring-buffer record layout (all little-endian, every field 8-byte aligned):

    u32 kind      RecordFormat.id
    u32 cpu       CPU the record was written on
    then the arguments in order: long -> s64 (8 bytes); string -> char[size]
    with size = the format's string_size (a multiple of 8), NUL-terminated.

Reserved kinds (ids below FIRST_FORMAT_ID):
    KIND_EXIT     exit() was called in a BPF handler
    KIND_ERROR    runtime error; s64 index into Program.errors, then
                  char msg[MAXSTRINGLEN]: the message when it is only known at
                  run time (error("..."), copy faults); "" = use the site's
    KIND_TRIGGER  a "user"-mode probe fired; args: probe index, pid, tid,
                  ppid, uid, gid, euid, cpu, ktime ns, then execname char[16],
                  then that probe's CompiledProbe.captures values (if any)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from ..ast import Loc

KIND_EXIT = 1
KIND_ERROR = 2
KIND_TRIGGER = 3
FIRST_FORMAT_ID = 16

# Slots of Program.state_map, a BPF array of s64 (runtime/lifecycle.py
# writes RUN and TARGET before begin probes; BPF reads them):
STATE_SLOT_RUN = 0        # 0 running, 1 stopping (exit()), 2 error
STATE_SLOT_TARGET = 1     # target(): the -c command's pid or -x PID
STATE_SLOT_DROPPED = 2    # BPF adds 1 per record lost (ringbuf_reserve failed);
                          # reported at exit as stap's "transport failures"
STATE_SLOTS = 4           # minimum number of entries in the state map


@dataclass
class RecordFormat:
    """One kind of ring-buffer record produced by print/printf/... in BPF."""
    id: int
    kind: str                      # "printf" | "print" | "println" | "printd" | "printdln" | "trigger" ...
    fmt: Optional[str] = None      # unescaped printf format / delimiter
    arg_types: List[str] = field(default_factory=list)   # "long" | "string"
    string_size: int = 128         # bytes reserved per string argument

    def record_size(self) -> int:
        size = 8
        for t in self.arg_types:
            size += 8 if t == "long" else self.string_size
        return size


@dataclass
class RuntimeErrorSite:
    """A place a BPF handler can raise a runtime error (division by zero,
    array overflow, MAXACTION, error() ...)."""
    message: str                   # e.g. "division by 0"
    loc: Optional[Loc] = None
    tok_desc: str = ""             # e.g. "operator '/'"


@dataclass
class HistSpec:
    kind: str                      # "log" | "linear"
    start: int = 0
    stop: int = 0
    interval: int = 0


@dataclass
class GlobalLayout:
    """How one script global lives in BPF maps."""
    name: str                      # script name
    map_name: str                  # BPF map name in c_source
    kind: str                      # "scalar" | "array" | "stats" (scalar aggregate) | "stats_array"
    value_type: str                # "long" | "string" | "stats"
    key_types: List[str] = field(default_factory=list)   # per index: "long" | "string"
    key_string_size: int = 128     # bytes per string key field
    value_string_size: int = 128
    maxsize: int = 0               # 0 = MAXMAPENTRIES
    wrap: bool = False
    percpu: bool = False           # stats maps are per-CPU; user space merges
    hist: Optional[HistSpec] = None
    # a linear histogram global also printed with @hist_log: its stat struct
    # has both `log[128]` and `linear[...]` (by those field names)
    also_log: bool = False
    # the script reads @variance of it: the stat struct also has stap's
    # per-CPU Welford fields avg_s, m2, variance_s (runtime/stats.py), kept
    # in fixed point shifted by stat_shift (@variance(x, N))
    # BPF handlers insert into it: the per-key insertion numbers live in this
    # parallel LRU hash (same key struct, u64 value from the shared counter
    # map layout.SEQ_COUNTER_MAP); "" when only user space inserts
    seq_map: str = ""
    welford: bool = False
    stat_shift: int = 0
    decl: Any = None               # the ast.VarDecl
    c_decl: str = ""               # the map's declaration in c_source


@dataclass
class CompiledProbe:
    index: int                     # script order
    probe: Any                     # elaborate.DerivedProbe
    mode: str                      # "bpf" | "user"
    fn_name: Optional[str] = None  # BPF function attached for this probe (None for begin/end/error)
    prog_type: Optional[str] = None  # BCC load type: "kprobe" "tracepoint" "raw_tracepoint" "perf_event" "uprobe" ...
    # Probes on the same event share one BPF function (run in script order);
    # attach that function once, with this ResolvedPoint.
    resolved: Any = None
    user_reason: Optional[str] = None   # why a kernel probe runs in user space
    # A user-mode kernel probe's target-variable values, appended by its BPF
    # stub after the fixed trigger record in this order: (key, type, size)
    # with key = id() of the ast.TargetSymbol / ast.EntryOp node (the
    # interpreter's ProbeContext.target_values key), type "long" (s64) or
    # "string" (char[size], NUL-terminated).
    captures: List[Tuple[int, str, int]] = field(default_factory=list)
    # With captures, the record holds before the values: s64 status[n]
    # (0, or 1 + the index in Program.errors of the error evaluating that
    # value, which the interpreter raises when it reads it), s64
    # emsg_status and char emsg[capture_msg_size] (the run-time text of the
    # error whose status is emsg_status).  See codegen/capture.py.
    capture_msg_size: int = 0


@dataclass
class Program:
    c_source: str
    probes: List[CompiledProbe] = field(default_factory=list)
    formats: List[RecordFormat] = field(default_factory=list)
    errors: List[RuntimeErrorSite] = field(default_factory=list)
    globals: List[GlobalLayout] = field(default_factory=list)
    session: Any = None            # the elaborate.Session
    cflags: List[str] = field(default_factory=list)
    ringbuf_name: str = "events"
    ringbuf_pages: int = 64
    # Name of the BPF array map holding run state (0 running, 1 stopping,
    # 2 error) and config such as target(): runtime writes, BPF reads.
    state_map: str = "pytap_state"
    attach_groups: List[Tuple[str, Any]] = field(default_factory=list)  # (fn_name, ResolvedPoint) to attach once each
    # C line (1-based) -> script Loc of the statement it came from (the
    # `/* @FILE:LINE:COL */` markers in c_source), for compile/verifier errors
    line_map: dict = field(default_factory=dict)
    # hidden programs (in attach_groups) saving @entry values at function entry
    entry_savers: List[str] = field(default_factory=list)
    # state-map slot numbers used by the generated C (see STATE_SLOT_*)
    state_slots: dict = field(default_factory=dict)
    frame_slots: int = 0           # string slots of the per-CPU frame map
    # the execution plan, one line per probe: where it runs and what its
    # BPF stub captures for user space (printed by -p3/-p4 -v)
    plan: List[str] = field(default_factory=list)

    def format_by_id(self, fid: int) -> RecordFormat:
        return self._by_id()[fid]

    def _by_id(self):
        cache = getattr(self, "_fmt_cache", None)
        if cache is None:
            cache = {f.id: f for f in self.formats}
            object.__setattr__(self, "_fmt_cache", cache)
        return cache
