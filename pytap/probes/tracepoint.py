"""kernel.trace("category:event") and kernel.trace("event") (any category),
with fnmatch wildcards in either part; events come from tracefs
available_events (kernel order), fields from events/<cat>/<event>/format.

spec (family "tracepoint"):
    category, event  the tracepoint
    raw              False: a classic tracepoint program (the record and its
                     $fields are readable, `args` points at the record);
                     True: a raw tracepoint program (cheaper: no record is
                     built), usable when the handler reads no $fields.
                     resolve() says False; codegen may set it True when
                     `raw_name` is not None and no $field is used, and
                     bpf_program_type()/attach() follow the flag.
    raw_name         the raw tracepoint's name (the event name), or None
                     where there is none (syscalls:* are built on
                     raw_syscalls' sys_enter/sys_exit)
variables(): every non-common record field: TargetVar(source="field",
offset, size, signed, data_loc, array_len, string_space "record" for
char[N] / __data_loc char[], "user" for char * in syscalls:*, else
"kernel"); then the TP_PROTO arguments stap scripts use ($prev, $next of
sched_switch) from BTF, source="tp_arg" (raw tracepoint only), unless a
field has that name.  listing_variables(): the TP_PROTO arguments, as
stap -L prints them.
"""
from __future__ import annotations

import fnmatch

from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, has_glob, make_point, similar, stap_type_spelling


def _split(spec: str):
    if ":" in spec:
        cat, _, name = spec.partition(":")
        return cat, name
    return "*", spec


def _fits(value, pattern):
    return fnmatch.fnmatchcase(value, pattern) if has_glob(pattern) else value == pattern


_EVENT_SETS = {}


def _event_set(platform, events):
    key = id(platform)
    cached = _EVENT_SETS.get(key)
    if cached is None or cached[0] is not events:
        cached = (events, set(events))
        _EVENT_SETS[key] = cached
    return cached[1]


def _build(concrete, point, platform):
    cat_pat, name_pat = _split(concrete[1][1])
    out = []
    events = platform.tracepoints()
    if not has_glob(cat_pat) and not has_glob(name_pat):
        # an exact event (every syscall.NAME alias): no scan of the
        # thousands of events, once per alias
        events = [(cat_pat, name_pat)] if (cat_pat, name_pat) in _event_set(platform, events) else []
    for cat, name in events:
        if not (_fits(cat, cat_pat) and _fits(name, name_pat)):
            continue
        comps = [concrete[0], ("trace", f"{cat}:{name}")] + list(concrete[2:])
        spec = {"category": cat, "event": name, "raw": False,
                "raw_name": None if cat == "syscalls" else name}
        entry = _entry_event(cat, name)
        if entry is not None:
            spec["entry_event"] = entry
        rp = ResolvedPoint("tracepoint", make_point(point, comps), spec)
        rp._vars = _variables_fn(platform, cat, name, rp)
        rp._listing = _listing_fn(platform, cat, name)
        out.append(rp)
    return out


def _entry_event(cat: str, name: str):
    """The event where a system call's exit event began: `@entry(expr)` in
    a handler of syscalls:sys_exit_X (every syscall.X.return alias) is
    expr evaluated at syscalls:sys_enter_X by the same thread, as stap's
    kretprobe-based .return aliases allow."""
    if cat == "syscalls" and name.startswith("sys_exit_"):
        return "sys_enter_" + name[len("sys_exit_"):]
    if cat == "raw_syscalls" and name == "sys_exit":
        return "sys_enter"
    return None


def _variables_fn(platform, cat, name, rp):
    def variables():
        fields = platform.tracepoint_format(cat, name)
        rp.context = fields
        out = []
        for f in fields:
            if f.common:
                continue
            space = None
            if f.is_string:
                if f.data_loc or f.array_len:
                    space = "record"
                else:
                    space = "user" if cat == "syscalls" else "kernel"
            out.append(TargetVar(f.name, f.c_type, f.size, f.signed, f.is_pointer, f.is_string,
                                 source="field", offset=f.offset, data_loc=f.data_loc,
                                 array_len=f.array_len, string_space=space))
        taken = {v.name for v in out}
        out += [v for v in tp_args(platform, cat, name) if v.name not in taken]
        return out
    return variables


# An event made with DEFINE_EVENT has no __bpf_trace_<event> of its own,
# only its class's; kernels since 6.4 also have __probestub_<event>.  For
# older ones (Debian's 6.1), the classes of the events the tapsets use.
EVENT_CLASS = {
    "net_dev_queue": ("net_dev_template",), "netif_receive_skb": ("net_dev_template",),
    "netif_rx": ("net_dev_template",),
    "block_bio_queue": ("block_bio",), "block_bio_backmerge": ("block_bio",),
    "block_bio_frontmerge": ("block_bio",), "block_getrq": ("block_bio",),
    "block_bio_bounce": ("block_bio",), "block_rq_insert": ("block_rq",),
    "block_rq_issue": ("block_rq",), "block_rq_merge": ("block_rq",),
    "block_rq_complete": ("block_rq_completion",), "block_rq_error": ("block_rq_completion",),
    "block_rq_requeue": ("block_rq",),
    "mm_filemap_add_to_page_cache": ("mm_filemap_op_page_cache",),
    "mm_filemap_delete_from_page_cache": ("mm_filemap_op_page_cache",),
    "tcp_send_reset": ("tcp_event_sk_skb",), "tcp_retransmit_skb": ("tcp_event_sk_skb",),
    "scsi_dispatch_cmd_done": ("scsi_cmd_done_timeout_template",),
    "scsi_dispatch_cmd_timeout": ("scsi_cmd_done_timeout_template",),
}


def tp_args(platform, cat, name):
    """TP_PROTO arguments from BTF: the kernel's __bpf_trace_<event>
    wrapper (or its template's) has them, named, after its leading
    `void *__data`."""
    if cat == "syscalls":
        return []           # built on raw_syscalls; no TP_PROTO of their own
    proto = platform.tracepoint_prototype(cat, name)
    if proto is None:
        # 6.4+'s __probestub_<event>; on older kernels the event's class
        # as EVENT_CLASS names it (when the template pick found none)
        for fn in [f"__probestub_{name}"] + [f"__bpf_trace_{c}" for c in EVENT_CLASS.get(name, ())]:
            proto = platform.btf_function(fn)
            if proto is not None:
                break
    if proto is None:
        return []
    out = []
    for i, (pname, ct) in enumerate(proto.params[1:]):
        out.append(TargetVar(pname or f"arg{i + 1}", ct.text, ct.size, ct.signed, ct.is_pointer,
                             ct.is_string, source="tp_arg", arg_index=i,
                             string_space="kernel" if ct.is_string else None))
    return out


def _listing_fn(platform, cat, name):
    def listing():
        out = []
        for v in tp_args(platform, cat, name):
            v.c_type = stap_type_spelling(v.c_type)
            out.append(v)
        return out
    return listing


NO_TRACEFS = ("no match (no tracepoint list: tracefs is not mounted or not readable; run as "
              "root, or mount -t tracefs nodev /sys/kernel/tracing)")


def no_match_message(point, platform) -> str:
    if not platform.tracepoints():
        return NO_TRACEFS
    spec = point.components[1].arg.value if len(point.components) > 1 and point.components[1].arg is not None else ""
    cat_pat, name_pat = _split(str(spec))
    names = [n for c, n in platform.tracepoints() if _fits(c, cat_pat)] or \
        [n for _c, n in platform.tracepoints()]
    sim = similar(name_pat.replace("*", "").replace("?", ""), names)
    return "no match" + (f" (similar tracepoints: {', '.join(sim)})" if sim else "")


PATTERNS = [("kernel.trace(string)", _build)]


def program_type(rp):
    return "raw_tracepoint" if rp.spec.get("raw") else "tracepoint"


def attach(bpf, fn_name, rp):
    """Attach through libbcc directly and keep the fd ourselves (BCC's own
    table is keyed by tracepoint, so two programs on one event would clash)."""
    import os
    # no `import bcc` here (see perf.attach_perf); BPF_PROG_TYPE_* numbers:
    # TRACEPOINT 5, RAW_TRACEPOINT 17 (bcc's BPF.TRACEPOINT / RAW_TRACEPOINT)
    from ..runtime.attachsys import lib_for
    from .. import platform as pplat
    lib = lib_for(bpf)
    pplat.current().tracefs_dir()       # libbpf finds the event id in tracefs: mount it if needed
    cat, name = rp.spec["category"], rp.spec["event"]
    fn_b = fn_name.encode() if isinstance(fn_name, str) else fn_name
    if rp.spec.get("raw"):
        raw = rp.spec.get("raw_name") or name
        fn = bpf.load_func(fn_b, 17)
        fd = lib.bpf_attach_raw_tracepoint(fn.fd, raw.encode())
        if fd < 0:
            raise StapError(f"ERROR: cannot attach raw tracepoint {raw}", kind="")

        def detach_raw():
            try:
                os.close(fd)
            except OSError:
                pass
        return detach_raw
    fn = bpf.load_func(fn_b, 5)
    fd = lib.bpf_attach_tracepoint(fn.fd, cat.encode(), name.encode())
    if fd < 0:
        raise StapError(f'ERROR: cannot attach kernel.trace("{cat}:{name}")', kind="")
    state = {"fd": fd}

    def detach():
        if state["fd"] is not None:
            lib.bpf_close_perf_event_fd(state["fd"])
            state["fd"] = None
    return detach
