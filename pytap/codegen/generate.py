"""Pass 3: Session -> Program (BPF C text + the tables user space needs).

Each probe runs either as BPF ("bpf") or in the user-space interpreter
("user": begin/end/error, and kernel-event handlers that use what BPF cannot
do well: foreach, reading aggregates, regex, sprintf, recursion ...).  A user
-mode kernel probe still has a BPF stub that emits a KIND_TRIGGER record, so
the interpreter runs it in order with the other output.

Probes on the same kernel event share ONE BPF function that runs their
handlers in script order (Program.attach_groups).
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Optional

import jinja2

from .. import ast, cachefs
from ..probes import core as probes_core
from ..diagnostics import PassFailed, StapError, Diagnostics
from .cutil import c_ident, round8
from .layout import STABLE_STRING_CALLS, build_layouts, seq_map_decls
from .lower import Lowerer, Unsupported, is_native, native_code, native_kind
from .native_macros import expand as native_expand
from .program import (FIRST_FORMAT_ID, KIND_ERROR, KIND_EXIT, KIND_TRIGGER, CompiledProbe,
                      Program, RecordFormat, RuntimeErrorSite)

_TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)
_ENV_CACHE_SET = False

# Code that looks inside struct bpf_perf_event_data (else a forward
# declaration is enough) / names struct task_struct (else the BTF offsets do).
_PERF_DEREF = re.compile(r"\(\s*struct\s+bpf_perf_event_data\s*\*\s*\)|sample_period|bpf_user_pt_regs_t"
                         r"|bpf_perf_event_value|->regs\b")
_SCHED_NAME = re.compile(r"\btask_struct\b")


class _TrustedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates (marshalled code: loading runs it) under
    <cache>/jinja, read and written only through cachefs's ownership check."""

    def __init__(self, root):
        self.root = root

    def load_bytecode(self, bucket) -> None:
        data = cachefs.load_bytes(self.root, f"jinja/{bucket.key}.cache")
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket) -> None:
        cachefs.store_bytes(self.root, f"jinja/{bucket.key}.cache", bucket.bytecode_to_string())


def _template_env(opts) -> jinja2.Environment:
    """The shared environment, with a bytecode cache under Options.cache_dir
    (compiled templates load faster)."""
    global _ENV_CACHE_SET
    if not _ENV_CACHE_SET:
        _ENV_CACHE_SET = True
        if getattr(opts, "use_cache", True):
            _ENV.bytecode_cache = _TrustedBytecodeCache(opts.cache_dir)
    return _ENV

# (procfs: handlers run when a reader/writer opens the file, runtime/procfs.py)
USER_FAMILIES = ("begin", "end", "error", "never", "procfs")
# families whose identical points are one kernel event (share a BPF function)
SHARED_FAMILIES = ("kprobe", "tracepoint", "uprobe", "process")

CTX_TYPES = {
    "kprobe": "struct pt_regs",
    "kretprobe": "struct pt_regs",
    "uprobe": "struct pt_regs",
    "uretprobe": "struct pt_regs",
    "tracepoint": "void",
    "raw_tracepoint": "struct bpf_raw_tracepoint_args",
    "perf_event": "struct bpf_perf_event_data",
}
# BCC load types for CompiledProbe.prog_type (bcc.BPF.<NAME>)
LOAD_TYPES = {"kprobe": "kprobe", "kretprobe": "kprobe", "uprobe": "kprobe", "uretprobe": "kprobe",
              "tracepoint": "tracepoint", "raw_tracepoint": "raw_tracepoint",
              "perf_event": "perf_event"}


def _program_type(rp) -> Optional[str]:
    try:
        from .. import probes
        return probes.bpf_program_type(rp)
    except Exception:
        fam = getattr(rp, "family", None)
        return {"timer": "perf_event", "perf": "perf_event", "kprobe": "kprobe",
                "tracepoint": "tracepoint", "uprobe": "uprobe", "process": "tracepoint"}.get(fam)


class _TargetScan(ast.Visitor):
    def __init__(self):
        self.found = []

    def visit_TargetSymbol(self, n):
        self.found.append(n)

    def visit_EntryOp(self, n):
        self.found.append(n)


def _kernel_only_call(node, seen=None, captured=frozenset()):
    """A call (direct or through script functions) of a `/* kernel-only */`
    native function, which cannot run in the user-space interpreter.
    Calls in `captured` (ids) were evaluated by the BPF stub."""
    seen = set() if seen is None else seen
    found = []

    class V(ast.Visitor):
        def visit_FunctionCall(self, n):
            if id(n) in captured:
                return
            for d in n.referents[:1]:
                if isinstance(d.body, ast.EmbeddedCode):
                    if "/* kernel-only */" in d.body.code and not found:
                        found.append(n)
                elif id(d) not in seen:
                    seen.add(id(d))
                    inner = _kernel_only_call(d.body, seen, captured)
                    if inner is not None and not found:
                        found.append(n)
            self.generic_visit(n)
    V().visit(node)
    return found[0] if found else None


def _foreign_c_call(node):
    """A call (direct or through script functions) of a script's own
    embedded-C function written for stap's kernel module (no `/* bpf */`,
    `/* user */` or `/* intrinsic */` mark): neither executor can run it."""
    seen = set()
    found = []

    class V(ast.Visitor):
        def visit_FunctionCall(self, n):
            for d in n.referents[:1]:
                if isinstance(d.body, ast.EmbeddedCode):
                    code = d.body.code or ""
                    if not getattr(d, "_library", False) and not found and not any(
                            m in code for m in ("/* bpf */", "/* user */", "/* intrinsic */")):
                        found.append(n)
                elif id(d) not in seen:
                    seen.add(id(d))
                    self.visit(d.body)
            self.generic_visit(n)
    V().visit(node)
    return found[0] if found else None


def _check_user_mode(p, reason, captured=frozenset(), refused=None):
    """A probe running in user space may not use kernel-only functions
    (except calls its BPF stub evaluated: `captured` ids), nor read kernel
    or traced-process memory (@kderef/@uderef)."""
    derefs = []

    class _Derefs(ast.Visitor):
        def visit_DerefOp(self, n):
            derefs.append(n)
    _Derefs().visit(p.body)
    if derefs:
        d = derefs[0]
        raise StapError(f"@{d.kind} needs the kernel context, but this probe handler runs in "
                        f"user space ({reason})", d.loc, f"operator '@{d.kind}'")
    call = _foreign_c_call(p.body)
    if call is not None:
        raise StapError(f"{call.name}() is embedded C for stap's kernel runtime, which pytap cannot "
                        f"run (only `%{{ /* bpf */ %}}` bodies run, in BPF), and this probe handler "
                        f"runs in user space ({reason})", call.loc,
                        call.tok_desc or f"identifier '{call.name}'")
    call = _kernel_only_call(p.body, captured=captured)
    if call is not None:
        # why the BPF stub could not evaluate it for user space (capture.py)
        why = (refused or {}).get(id(call))
        why = f", and {why}" if why else ""
        raise StapError(f"{call.name}() needs the kernel context, but this probe handler runs in "
                        f"user space ({reason}){why}", call.loc,
                        call.tok_desc or f"identifier '{call.name}'")


def _targets_in(node) -> list:
    sc = _TargetScan()
    sc.visit(node)
    return sc.found


class Generator:
    def __init__(self, session, opts):
        self.session = session
        self.opts = opts
        self.msl = max(8, opts.define_int("MAXSTRINGLEN", 128))
        self.maxaction = opts.define_int("MAXACTION", 1000)
        self.maxentries = opts.define_int("MAXMAPENTRIES", 2048)
        self.ringbuf = "events"
        self.errors: List[RuntimeErrorSite] = []
        self.formats: List[RecordFormat] = []
        self._fmt_keys: Dict[tuple, RecordFormat] = {}
        from .layout import STABLE_STRING_CALLS
        STABLE_STRING_CALLS.clear()
        self.layouts, self._by_decl, self.zero_size = build_layouts(session, self.msl, self.maxentries)
        self.has_try = self._scan_try()
        self.natives: Dict[int, str] = {}
        self.native_src: List[str] = []
        self.functions: Dict[int, dict] = {}      # id(decl) -> info
        self.fn_order: List[dict] = []
        self.in_progress = set()
        self._captured: Dict[int, tuple] = {}   # probe index -> (Lowerer, captures)
        self._plans: Dict[int, object] = {}     # probe index -> capture.CapturePlan
        self.fn_slot_total = 0
        self._bpf_probes: List = []
        self._cnames: Dict[int, str] = {}
        self._cname_used = set()

    # ---------------------------------------------------------- registries
    def _scan_try(self) -> bool:
        class S(ast.Visitor):
            found = False

            def visit_TryBlock(self, n):
                S.found = True
        s = S()
        for p in self.session.probes:
            s.visit(p.body)
        for f in self.session.functions:
            if isinstance(f.body, ast.Block):
                s.visit(f.body)
        return S.found

    def layout_of(self, decl):
        return self._by_decl.get(id(decl))

    def add_error(self, message, loc, tok_desc) -> int:
        self.errors.append(RuntimeErrorSite(message, loc, tok_desc))
        return len(self.errors) - 1

    def add_format(self, kind, fmt, arg_types, ssize) -> RecordFormat:
        key = (kind, fmt, tuple(arg_types), ssize)
        if key in self._fmt_keys:
            return self._fmt_keys[key]
        # every print-family call becomes a printf format (print/println/printd
        # arguments folded in), so user space only ever runs stap_sprintf
        r = RecordFormat(FIRST_FORMAT_ID + len(self.formats), "printf", fmt, list(arg_types), ssize)
        self.formats.append(r)
        self._fmt_keys[key] = r
        return r

    def bpf_probes(self):
        return self._bpf_probes

    def pp_text(self, p) -> str:
        rp = p.resolved
        try:
            if rp is not None:
                return rp.text()
        except Exception:
            pass
        try:
            return p.point.text()
        except Exception:
            return ""

    def probefunc_text(self, p) -> str:
        rp = p.resolved
        spec = getattr(rp, "spec", {}) or {}
        return str(spec.get("symbol") or spec.get("function") or "")

    def function_cname(self, decl) -> str:
        if id(decl) not in self._cnames:
            base = c_ident(decl.name)
            name, n = base, 0
            while name in self._cname_used:
                n += 1
                name = f"{base}_{n}"
            self._cname_used.add(name)
            self._cnames[id(decl)] = name
        return self._cnames[id(decl)]

    # ---------------------------------------------------------- functions
    def native(self, decl) -> str:
        if id(decl) in self.natives:
            return self.natives[id(decl)]
        cname = "pytap_nf_" + self.function_cname(decl)
        rtype = decl.type or "void"
        params = ["struct pytap_env *E"]
        if rtype == "string":
            params += ["char *STAP_RETVALUE", "u32 STAP_RETSIZE"]
            ret_macro = ("#define STAP_RETURN(v) do { pytap_strcpy(STAP_RETVALUE, STAP_RETSIZE, (v)); "
                         "return 0; } while (0)")
        elif rtype == "long":
            params += ["s64 *STAP_RETPTR"]
            ret_macro = "#define STAP_RETURN(v) do { *STAP_RETPTR = (s64)(v); return 0; } while (0)"
        else:
            ret_macro = "#define STAP_RETURN(v) do { (void)(v); return 0; } while (0)"
        for a in decl.formal_args:
            if (a.type or "long") == "string":
                params.append(f"const char *STAP_ARG_{a.name}")
            else:
                params.append(f"s64 STAP_ARG_{a.name}")
        src = [f"/* {decl.name}: native ({decl.loc}) */", ret_macro,
               f"static __always_inline int {cname}({', '.join(params)})", "{",
               native_expand(native_code(decl)).strip("\n"), "\treturn 0;", "}", "#undef STAP_RETURN", ""]
        self.native_src.append("\n".join(src))
        self.natives[id(decl)] = cname
        return cname

    def script_function(self, decl) -> str:
        if id(decl) in self.functions:
            return self.functions[id(decl)]["cname"]
        if id(decl) in self.in_progress:
            raise Unsupported(f"recursive function {decl.name}", decl)
        self.in_progress.add(id(decl))
        try:
            info = self._lower_function(decl)
        finally:
            self.in_progress.discard(id(decl))
        self.functions[id(decl)] = info
        self.fn_order.append(info)
        return info["cname"]

    def _lower_function(self, decl) -> dict:
        cname = "pytap_sf_" + self.function_cname(decl)
        low = Lowerer(self, func=decl)
        rtype = decl.type or "void"
        params = ["struct pytap_env *E"]
        params.append("char *__ret" if rtype == "string" else "s64 *__ret")
        assigned = _assigned_names(decl.body)
        prologue = []
        for a in decl.formal_args:
            if (a.type or "long") == "string":
                if a.name in assigned:
                    params.append(f"const char *a_{c_ident(a.name)}")
                    s = low.slot()
                    low.vars[id(a)] = ("string", s)
                    prologue.append(f"pytap_strcpy({s}, PYTAP_MSL, a_{c_ident(a.name)});")
                else:
                    params.append(f"char *a_{c_ident(a.name)}")
                    low.vars[id(a)] = ("string", f"a_{c_ident(a.name)}")
            else:
                params.append(f"s64 a_{c_ident(a.name)}")
                low.vars[id(a)] = ("long", f"a_{c_ident(a.name)}")
        for v in decl.locals:
            low.declare_local(v)
        if rtype == "string":
            low.emit("__ret[0] = 0;")
        else:
            low.emit("*__ret = 0;")
        low.stmt(decl.body)
        base = self.fn_slot_total
        self.fn_slot_total += low.nslots
        lines = [f"/* function {decl.name} ({decl.loc}) */",
                 f"#define PYTAP_FS_{c_ident(self.function_cname(decl))} {base}",
                 f"static __always_inline int {cname}({', '.join(params)})", "{",
                 "\tu32 pytap_z = 0;"]
        if low.uses_frame:
            lines.append("\tstruct pytap_frame *F = E->F;")
        lines += ["\t" + d for d in low.decls]
        lines += ["\t" + p for p in prologue]
        lines += low.lines
        lines += ["\treturn 0;", "pytap_fail: __attribute__((unused));", "\treturn PYTAP_RC_ERR;", "}", ""]
        return {"cname": cname, "src": "\n".join(lines), "uses_frame": low.uses_frame,
                "calls": set(low.calls), "slots": low.nslots}

    def _frame_needed(self, calls) -> bool:
        seen = set()
        todo = list(calls)
        by_cname = {i["cname"]: i for i in self.fn_order}
        while todo:
            c = todo.pop()
            if c in seen:
                continue
            seen.add(c)
            info = by_cname.get(c)
            if info is None:
                continue
            if info["uses_frame"]:
                return True
            todo.extend(info["calls"])
        return False

    # ---------------------------------------------------------- probes
    def lower_probe(self, p):
        """-> (Lowerer, None) or (None, reason) when the probe must run in user space."""
        low = Lowerer(self, probe=p)
        try:
            for v in p.locals:
                low.declare_local(v)
            if p.condition is not None:
                c = low.cond(p.condition)
                low.emit(f"if (!({c})) goto pytap_end_{p.index};")
            self._process_filters(low, p)
            low.stmt(p.body)
            return low, None
        except Unsupported as u:
            # error sites / formats registered by the attempt stay: functions
            # lowered meanwhile may refer to them
            return None, u

    def tracepoint_field_offset(self, rp, name):
        try:
            from ..probes import process as pproc
            for f in pproc.tracepoint_fields(rp):
                if f.name == name:
                    return f.offset
        except Exception:
            return None
        return None

    def _process_filters(self, low, p):
        rp = p.resolved
        if getattr(rp, "family", "") != "process":
            return
        filters = rp.spec.get("filters") or []
        fields = {}
        try:
            from ..probes import process as pproc
            for f in pproc.tracepoint_fields(rp):
                fields[f.name] = f
        except Exception:
            fields = {}
        end = f"goto pytap_end_{p.index};"
        for flt in filters:
            k = flt.get("kind")
            if k in ("field_mask_zero", "field_eq", "field_str_eq"):
                f = fields.get(flt["field"])
                if f is None:
                    continue
                off = getattr(f, "offset", 0)
                size = getattr(f, "size", 8)
                if k == "field_str_eq":
                    s = low.slot()
                    if getattr(f, "data_loc", False) or "__data_loc" in str(getattr(f, "type", "")):
                        low.emit(f"{{ u32 dl = *(u32 *)((char *)ctx + {off}); "
                                 f"bpf_probe_read_kernel_str({s}, PYTAP_MSL, (char *)ctx + (dl & 0xffff)); }}")
                    else:
                        low.emit(f"bpf_probe_read_kernel_str({s}, PYTAP_MSL, (char *)ctx + {off});")
                    from .cutil import c_string
                    text = str(flt["value"]).encode()
                    parts = [f"{s}[{i}] == {c}" for i, c in enumerate(text[: self.msl - 1])]
                    parts.append(f"{s}[{min(len(text), self.msl - 1)}] == 0")
                    low.emit(f"if (!({' && '.join(parts)})) {end}")
                    continue
                ct = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}.get(size, "u64")
                val = f"(s64)*({ct} *)((char *)ctx + {off})"
                if k == "field_mask_zero":
                    low.emit(f"if ({val} & {int(flt['mask'])}LL) {end}")
                else:
                    low.emit(f"if ({val} != {int(flt['value'])}LL) {end}")
            elif k == "pid_eq":
                low.emit(f"if ((bpf_get_current_pid_tgid() >> 32) != {int(flt['value'])}) {end}")
            elif k == "comm_eq":
                text = str(flt["value"]).encode()[:15]
                low.emit("{ char cm[16] = {}; bpf_get_current_comm(cm, 16);")
                parts = [f"cm[{i}] == {c}" for i, c in enumerate(text)] + [f"cm[{len(text)}] == 0"]
                low.emit(f"  if (!({' && '.join(parts)})) {end} }}")
            elif k == "target_hierarchy":
                low.emit(f"if (!pytap_in_target_tree()) {end}")

    def generate(self) -> Program:
        session = self.session
        probes_out: List[CompiledProbe] = []
        # 1. decide modes; group kernel probes per event
        groups: Dict[tuple, dict] = {}
        group_list: List[dict] = []
        lowered = {}
        for p in session.probes:
            rp = p.resolved
            fam = getattr(rp, "family", None) or getattr(p, "family", "")
            if fam in USER_FAMILIES or rp is None:
                _check_user_mode(p, f"a {fam or 'user-space'} probe")
                probes_out.append(CompiledProbe(p.index, p, "user", None, None, rp))
                continue
            self._bpf_probes.append(p)
        self._choose_raw_tracepoints()
        for p in self._bpf_probes:
            low, why = self.lower_probe(p)
            if low is None:
                self._capture_targets(p, why)
                caps = self._captured.get(p.index, (None, []))[1] or []
                plan = self._plans.get(p.index)
                refused = {id(r.node): r.why for r in plan.refused} if plan is not None else {}
                _check_user_mode(p, why.reason, frozenset(c[0] for c in caps), refused)
            lowered[p.index] = (low, why)
        # 2. group by event and decide raw tracepoints
        for p in self._bpf_probes:
            rp = p.resolved
            fam = rp.family
            if fam in SHARED_FAMILIES:
                gkey = (fam, repr(sorted((k, repr(v)) for k, v in rp.spec.items() if k != "raw")))
            else:
                gkey = ("solo", p.index)
            g = groups.get(gkey)
            if g is None:
                g = {"rp": rp, "probes": [], "fn": f"pytap_h{len(group_list)}"}
                groups[gkey] = g
                group_list.append(g)
            g["probes"].append(p)
        for g in group_list:
            rp = g["rp"]
            g["ptype"] = _program_type(rp) or "perf_event"
        # 3. emit handlers (and hidden @entry savers of .return probes)
        handlers = []
        self.entry_groups = []
        for p in self._bpf_probes:
            low, _why = lowered[p.index]
            if low is None:
                low = self._captured.get(p.index, (None, None))[0]
            if low is not None and low.entry_exprs:
                handlers.append(self._entry_saver(p, low))
            if low is not None and low.tp_args_used:
                handlers.append(self._tp_arg_saver(p, low, lowered))
        for g in group_list:
            handlers.append(self._handler(g, lowered))
            for p in g["probes"]:
                low, why = lowered[p.index]
                cp = CompiledProbe(p.index, p, "bpf" if low is not None else "user", g["fn"],
                                   LOAD_TYPES.get(g["ptype"], g["ptype"]), g["rp"],
                                   user_reason=None if low is not None else why.reason)
                if low is None and p.index in self._captured:
                    cp.captures = self._captured[p.index][1]
                    cp.capture_msg_size = round8(self.msl)
                probes_out.append(cp)
        probes_out.sort(key=lambda c: c.index)
        plan_lines = [self._plan_line(cp) for cp in probes_out]
        records = []
        for f in self.formats:
            fields = []
            for i, t in enumerate(f.arg_types):
                fields.append(f"s64 a{i};" if t == "long" else f"char a{i}[{f.string_size}];")
            records.append(f"struct pytap_rec_{f.id} {{ u32 kind; u32 cpu; {' '.join(fields)} }};")
        seq_map_decls(self.layouts, self.maxentries)
        nslots = self.fn_slot_total + self.max_probe_slots
        bodies = "\n".join(self.native_src + [i["src"] for i in self.fn_order] + handlers
                            + [str(e.code) for e in getattr(session, "embeds", []) or []
                               if hasattr(e, "code")])
        text = _template_env(self.opts).get_template("program.c.j2").render(
            need_perf_header=bool(_PERF_DEREF.search(bodies)),
            need_sched_header=bool(_SCHED_NAME.search(bodies)),
            need_kstacks="pytap_kstacks" in bodies, need_ustacks="pytap_ustacks" in bodies,
            need_stack_helpers=bool(re.search(r"pytap_(kstacks|ustacks|stack_frame|note_upid|hex8|probefunc_lazy)", bodies)),
            stack_entries=self.opts.define_int("PYTAP_STACK_ENTRIES", 10240),
            msl=self.msl, idx_mask=(1 << (self.msl - 1).bit_length()) - 1, maxaction=self.maxaction, kind_exit=KIND_EXIT, kind_error=KIND_ERROR,
            kind_trigger=KIND_TRIGGER, fn_slots=self.fn_slot_total, nslots=nslots,
            state_map="pytap_state", ringbuf=self.ringbuf, ringbuf_pages=ringbuf_pages(self.opts),
            timing=bool(getattr(self.opts, "timing", False)),
            nprobes=max([p.index for p in session.probes] + [0]) + 1,
            zero_size=round8(self.zero_size), task_offsets=task_offsets(),
            frame_percpu=(nslots + 1) * self.msl + 4 * self.msl <= 32000, ncpus=_possible_cpus(),
            globals=self.layouts, records=records,
            functions=_bpf_embeds(session) + self.native_src + [i["src"] for i in self.fn_order],
            handlers=handlers)
        prog = Program(c_source=text, probes=probes_out, formats=self.formats, errors=self.errors,
                       globals=self.layouts, session=session)
        prog.state_slots = {"state": 0, "target": 1, "dropped": 2, "stp_pid": 3, "realtime": 4}
        prog.attach_groups = list(self.entry_groups) + [(g["fn"], g["rp"]) for g in group_list]
        prog.entry_savers = [fn for fn, _rp in self.entry_groups]
        prog.ringbuf_pages = ringbuf_pages(self.opts)
        prog.line_map = _line_map(text)
        prog.plan = plan_lines
        prog.frame_slots = nslots
        return prog

    max_probe_slots = 0

    def _choose_raw_tracepoints(self):
        """A tracepoint becomes a raw tracepoint (cheaper; its ctx is the
        TP_PROTO arguments) when its handlers on that event read no record
        field: none at all, or only TP_PROTO arguments ($prev/$next of
        sched_switch).  Decided per event before lowering, because the two
        kinds read target variables differently."""
        by_event: Dict[tuple, list] = {}
        for p in self._bpf_probes:
            rp = p.resolved
            if rp.family == "tracepoint" and rp.spec.get("raw_name"):
                key = (rp.spec.get("category"), rp.spec.get("event"), rp.spec.get("raw_name"))
                by_event.setdefault(key, []).append(p)
        for plist in by_event.values():
            sources = set()
            for p in plist:
                for t in _targets_in(p.body):
                    name = getattr(t, "name", None)
                    tv = None
                    if isinstance(name, str):
                        try:
                            tv = p.resolved.variable(name.lstrip("$"))
                        except Exception:
                            tv = None
                    sources.add(getattr(tv, "source", "?"))
            if sources <= {"tp_arg"}:
                for p in plist:
                    p.resolved.spec["raw"] = True

    def _capture_targets(self, p, why):
        """BPF with a user-space continuation: the user-mode probe's stub
        evaluates what the handler reads from the kernel context
        (codegen/capture.py decides what: target variables, @entry,
        kernel-only calls on event values, the locals they read) and
        appends the values to its trigger record (CompiledProbe.captures).
        A step that fails does not abort the stub: its error travels with
        the record and the interpreter raises it where the script reads
        that value."""
        from .capture import analyze
        plan = analyze(p.body)
        self._plans[p.index] = plan

        def refuse(t):
            raise StapError(
                f"this probe handler must run in user space ({why.reason}), "
                f"where target variables are not available", t.loc,
                t.tok_desc or f"identifier '{getattr(t, 'name', '@entry')}'")
        for r in plan.refused:
            if isinstance(r.node, (ast.TargetSymbol, ast.EntryOp)):
                refuse(r.node)
        if not plan.steps:
            return
        low = Lowerer(self, probe=p)
        for v in p.locals:
            low.declare_local(v)
        # the probe condition filters in BPF too, so filtered events cost no
        # record and no reads
        if p.condition is not None:
            try:
                Lowerer(self, probe=p).cond(p.condition)
                c = low.cond(p.condition)
                low.emit(f"if (!({c})) goto pytap_end_{p.index};")
            except Unsupported:
                pass
        msl = round8(self.msl)
        low.decls.append("s64 pytap_cmo = 0;")
        cmsg = low.slot()
        status: Dict[int, str] = {}          # id(bound decl) -> status variable
        vals = []                            # (node, type, C value) of captured steps
        unbound = set()
        for i, st in enumerate(plan.steps):
            if st.uses & unbound:
                unbound.add(id(st.bind)) if st.bind is not None else None
                if st.captured and isinstance(st.node, (ast.TargetSymbol, ast.EntryOp)):
                    refuse(st.node)
                continue
            t = "string" if low.etype(st.node) == "string" else "long"
            cs = f"pytap_cs{i}"
            low.decls.append(f"s64 {cs} = 0;")
            lbl = f"Lcap{p.index}_{i}"
            saved = low.sub()
            low.err_targets.append(lbl)
            saved_next, low.next_action = low.next_action, f"goto {lbl};"
            try:
                deps = [status[u] for u in sorted(st.uses) if u in status]
                if deps:
                    low.emit(f"if ({' || '.join(deps)}) {{")
                    for d in deps:
                        low.emit(f"\tif (!{cs}) {cs} = {d};")
                    low.emit(f"\tgoto {lbl}_ok;")
                    low.emit("}")
                v = low.expr(st.node)
                if t == "long":
                    cv = low.tmp()
                    low.emit(f"{cv} = {v};")
                else:
                    cv = low.slot()
                    low.emit(f"pytap_strcpy({cv}, PYTAP_MSL, {v});")
                if st.bind is not None and id(st.bind) not in STABLE_STRING_CALLS:
                    kind = low.var_of(ast.Symbol(st.bind.name, referent=st.bind))
                    if kind[0] == "local" and kind[1] == "string":
                        low.emit(f"pytap_strcpy({kind[2]}, PYTAP_MSL, {cv});")
                    elif kind[0] == "local":
                        low.emit(f"{kind[2]} = {cv};")
            except Unsupported:
                low.unsub(saved)
                if st.bind is not None:
                    unbound.add(id(st.bind))
                if st.captured and isinstance(st.node, (ast.TargetSymbol, ast.EntryOp)):
                    refuse(st.node)
                continue
            finally:
                low.err_targets.pop()
                low.next_action = saved_next
            low.emit(f"goto {lbl}_ok;")
            low.emit(f"{lbl}: __attribute__((unused));")
            low.emit(f"{cs} = E->err + 1;")
            low.emit("if (E->dyn) {")
            low.emit("\tstruct pytap_errbuf *eb = pytap_errbuf_get();")
            low.emit(f"\tif (!pytap_cmo && eb) {{ pytap_strcpy({cmsg}, PYTAP_MSL, eb->msg); pytap_cmo = {cs}; }}")
            low.emit("\tE->dyn = 0;")
            low.emit("}")
            low.emit(f"{lbl}_ok: __attribute__((unused));")
            inner = low.unsub(saved)
            low.emit("{")
            low.lines += inner
            low.emit("}")
            if st.bind is not None:
                status[id(st.bind)] = cs
            if st.captured:
                vals.append((st.node, t, cv, cs))
        caps = []
        fields = [f"s64 st[{max(1, len(vals))}]; s64 emsg_status; char emsg[{msl}];"]
        for i, (n, t, _v, _s) in enumerate(vals):
            fields.append(f"s64 v{i};" if t == "long" else f"char v{i}[{msl}];")
            caps.append((id(n), t, 8 if t == "long" else msl))
        st_name = f"pytap_trig_{p.index}"
        low.emit(f"struct {st_name} {{ struct pytap_rec_trigger h; {' '.join(fields)} }};")
        low.emit(f"struct {st_name} *tr = {self.ringbuf}.ringbuf_reserve(sizeof(struct {st_name}));")
        low.emit("if (tr) {")
        low.emit(f"\tpytap_trigger_fill(&tr->h, {p.index});")
        low.emit("\ttr->emsg_status = pytap_cmo;")
        low.emit(f"\tif (pytap_cmo) pytap_strcpy(tr->emsg, {msl}, {cmsg}); else tr->emsg[0] = 0;")
        if not vals:
            low.emit("\ttr->st[0] = 0;")
        for i, (n, t, v, cs) in enumerate(vals):
            low.emit(f"\ttr->st[{i}] = {cs};")
            if t == "long":
                low.emit(f"\ttr->v{i} = {v};")
            else:
                low.emit(f"\tpytap_strcpy(tr->v{i}, {msl}, {v});")
        low.emit(f"\t{self.ringbuf}.ringbuf_submit(tr, 0);")
        low.emit("} else {")
        low.emit("\tpytap_dropped();")
        low.emit("}")
        self._captured[p.index] = (low, caps)

    def _plan_line(self, cp) -> str:
        """One line of the execution plan (`-p3 -v`): where probe cp runs
        and what its BPF stub evaluates for user space."""
        from .capture import describe
        head = f"probe {cp.index} {self.pp_text(cp.probe)}: "
        if cp.mode == "bpf":
            return head + "bpf"
        if cp.fn_name is None:
            return head + "user space"
        out = head + f"bpf + user space ({cp.user_reason})"
        plan = self._plans.get(cp.index)
        if plan is not None and cp.captures:
            keys = {k for k, _t, _s in cp.captures}
            caps = [describe(st.node) for st in plan.steps if st.captured and id(st.node) in keys]
            binds = [st.bind.name for st in plan.steps if st.bind is not None and not st.captured]
            out += "; bpf captures: " + ", ".join(caps)
            if binds:
                out += "; bpf binds: " + ", ".join(binds)
        return out

    def _trigger_condition(self, p):
        """A user-mode probe's `if (cond)` evaluated in BPF, so the kernel
        only wakes user space when the handler will run; None when the
        condition itself needs user space (the interpreter checks it then)."""
        if p.condition is None:
            return None
        low = Lowerer(self, probe=p)
        try:
            c = low.cond(p.condition)
        except Unsupported:
            return None
        return low, c

    def _entry_saver(self, p, low) -> str:
        """A hidden program on the function's entry that saves the @entry
        values of return probe p in a per-thread map; p's handler reads
        (and deletes) them."""
        import dataclasses
        rp = p.resolved
        if rp.family == "tracepoint" and rp.spec.get("entry_event"):
            # a system call's exit event: save at its enter event
            ev = rp.spec["entry_event"]
            erp = dataclasses.replace(rp, spec={**rp.spec, "event": ev, "raw": False,
                                                "raw_name": None, "entry_event": None})
            erp.point = probes_core.point_from_text(
                f'kernel.trace("{rp.spec["category"]}:{ev}")')
        else:
            erp = dataclasses.replace(rp, spec={**rp.spec, "return": False})
        if isinstance(erp.point, ast.ProbePoint) and erp.point.components \
                and erp.point.components[-1].functor == "return":
            erp.point = ast.ProbePoint(erp.point.components[:-1], loc=erp.point.loc)
        ptype = _program_type(erp) or "kprobe"
        fn = f"pytap_entry{p.index}"
        n = len(low.entry_exprs)
        ent = Lowerer(self, probe=p)
        ent.in_entry = True
        ent.rp = erp
        ent.next_action = "return 0;"
        vals = [ent.expr(x) for x in low.entry_exprs]
        if ent.uses_frame:
            raise StapError("@entry expression needs string temporaries", p.point.loc, "")
        self.entry_groups.append((fn, erp))
        mp = f"pytap_ent{p.index}"
        decl = [f"struct {mp}_t {{ s64 v[{n}]; }};",
                f"BPF_HASH({mp}, u64, struct {mp}_t, 10240);"]
        out = decl + [f"int {fn}({CTX_TYPES.get(ptype, 'void')} *ctx)", "{",
                      "\tu32 pytap_z = 0;",
                      "\ts64 *pytap_st = pytap_state.lookup(&pytap_z);",
                      "\tif (!pytap_st || *pytap_st != 0)", "\t\treturn 0;",
                      "\tstruct pytap_env pytap_env = {};", "\tstruct pytap_env *E = &pytap_env;",
                      "\tE->ctx = ctx;",
                      f"\tstruct {mp}_t sv = {{}};"]
        out += ["\t" + d for d in ent.decls]
        out += ent.lines
        out += [f"\tsv.v[{i}] = {v};" for i, v in enumerate(vals)]
        out += ["\tu64 id = bpf_get_current_pid_tgid();",
                f"\t{mp}.update(&id, &sv);",
                "\treturn 0;", "pytap_fail: __attribute__((unused));", "\tpytap_report_error(E);",
                "\treturn 0;", "}", ""]
        # the return handler's prologue: fetch and forget the saved values
        low.prologue = ["{", "\tu64 id = bpf_get_current_pid_tgid();",
                        f"\tstruct {mp}_t *ep = {mp}.lookup(&id);",
                        "\tif (ep) {"]
        low.prologue += [f"\t\tent{i} = ep->v[{i}];" for i in range(n)]
        low.prologue += ["\t}", f"\t{mp}.delete(&id);", "}"]
        return "\n".join(out)

    def _tp_arg_saver(self, p, low, lowered) -> str:
        """A classic tracepoint program sees the record, not the TP_PROTO
        arguments.  When p's handler reads both ($next_comm and $prev->pid),
        a second program, a raw tracepoint on the same event, sees the
        arguments.  The kernel calls the two one after the other on the
        same CPU with preemption off, in the order their probes were
        registered (usually the raw one first, but the classic one first
        when another perf user of the event was there before us), so the
        two meet in a per-CPU slot and whichever runs second runs the
        handler: the raw program leaves the arguments for the classic one,
        or the classic program leaves a copy of its record for the raw one
        (which then runs the same handler code over that copy)."""
        import dataclasses
        rp = p.resolved
        srp = dataclasses.replace(rp, spec={**rp.spec, "raw": True})
        fn = f"pytap_tpsave{p.index}"
        mp = f"pytap_tpa{p.index}"
        n = max(low.tp_args_used) + 1
        used = sorted(low.tp_args_used)
        fields = [v for v in rp.variables() if v.source == "field"]
        rec = max([v.offset + max(v.size, 4) for v in fields] + [8])
        if any(v.data_loc for v in fields):
            rec += self.msl                  # __data_loc strings follow the fixed fields
        rec = min(round8(rec), 4096)
        self.entry_groups.append((fn, srp))
        decl = [f"struct {mp}_t {{ u64 args_ready; u64 rec_ready; s64 v[{n}]; char rec[{rec}]; }};",
                f"BPF_PERCPU_ARRAY({mp}, struct {mp}_t, 1);"]
        # the raw program: its own copy of the handler, run over the record
        # the classic program left
        saved = low.prologue
        low.prologue = ["{"] + [f"\ttpa{i} = pytap_raw->args[{i}];" for i in used] + ["}"]
        try:
            text = self._handler({"rp": srp, "probes": [p], "fn": fn, "ptype": "tracepoint"}, lowered)
        finally:
            low.prologue = saved
        head, _, rest = text.partition("\n{\n")
        text = "\n".join(
            [f"int {fn}(struct bpf_raw_tracepoint_args *pytap_raw)", "{",
             "\tu32 pytap_tz = 0;",
             f"\tstruct {mp}_t *sv = {mp}.lookup(&pytap_tz);",
             "\tif (!sv)", "\t\treturn 0;",
             "\tif (!sv->rec_ready) {",
             "\t\tsv->args_ready = 1;"] +
            [f"\t\tsv->v[{i}] = pytap_raw->args[{i}];" for i in used] +
            ["\t\treturn 0;", "\t}",
             "\tsv->rec_ready = 0;",
             "\tvoid *ctx = sv->rec;"]) + "\n" + rest
        # the classic program: the arguments the raw one left, else hand over
        low.prologue += ["{", "\tu32 pytap_tz = 0;",
                         f"\tstruct {mp}_t *tp = {mp}.lookup(&pytap_tz);",
                         "\tif (!tp)", "\t\tgoto pytap_fail;",
                         "\tif (!tp->args_ready) {",
                         f"\t\tbpf_probe_read_kernel(tp->rec, {rec}, ctx);",
                         "\t\ttp->rec_ready = 1;",
                         f"\t\tgoto pytap_end_{p.index};", "\t}",
                         "\ttp->args_ready = 0;"]
        low.prologue += [f"\ttpa{i} = tp->v[{i}];" for i in used]
        low.prologue += ["}"]
        return "\n".join(decl) + "\n" + text

    def _handler(self, g, lowered) -> str:
        ctx_t = CTX_TYPES.get(g["ptype"], "void")
        fn = g["fn"]
        body = []
        need_frame = False
        for p in g["probes"]:
            low, why = lowered[p.index]
            body.append(f"\t/* probe {p.index}: {self.pp_text(p)} */")
            if low is None and p.index in self._captured:
                # user space runs the handler; this stub sends the target values
                clow = self._captured[p.index][0]
                body.append(f"\t/* runs in user space: {why.reason} */")
                self.max_probe_slots = max(self.max_probe_slots, clow.nslots)
                need_frame = need_frame or clow.uses_frame or self._frame_needed(clow.calls)
                body.append("\t{")
                body.append(f"\tE->probe = {p.index}; E->actions = 0;")
                body += ["\t" + d for d in clow.decls]
                body += ["\t" + x for x in clow.prologue]
                body += clow.lines
                body.append("\t}")
                body.append(f"pytap_end_{p.index}: __attribute__((unused));")
                body.append(f"\tif (*pytap_st != 0) return 0;")
                continue
            if low is None:
                body.append(f"\t/* runs in user space: {why.reason} */")
                cond = self._trigger_condition(p)
                if cond is not None:
                    clow, c = cond
                    need_frame = need_frame or clow.uses_frame or self._frame_needed(clow.calls)
                    self.max_probe_slots = max(self.max_probe_slots, clow.nslots)
                    body.append("\t{")
                    body.append(f"\tE->probe = {p.index}; E->actions = 0;")
                    body += ["\t" + d for d in clow.decls]
                    body += clow.lines
                    body.append(f"\tif ({c}) pytap_trigger({p.index});")
                    body.append("\t}")
                else:
                    body.append(f"\tpytap_trigger({p.index});")
                body.append(f"pytap_end_{p.index}: __attribute__((unused));")
                body.append(f"\tif (*pytap_st != 0) return 0;")
                continue
            self.max_probe_slots = max(self.max_probe_slots, low.nslots)
            need_frame = need_frame or low.uses_frame or self._frame_needed(low.calls)
            timed = bool(getattr(self.opts, "timing", False))   # -t (runtime/timing.py)
            if timed:
                body.append(f"\tu64 pytap_t0_{p.index} = bpf_ktime_get_ns();")
            body.append("\t{")
            body.append(f"\tE->probe = {p.index}; E->actions = 0;")
            body += ["\t" + d for d in low.decls]
            body += ["\t" + x for x in low.prologue]
            body += low.lines
            body.append("\t}")
            body.append(f"pytap_end_{p.index}: ;")
            if timed:
                body.append(f"\tpytap_time_add({p.index}, pytap_t0_{p.index});")
            body.append("\tif (*pytap_st != 0) return 0;")
        out = [f"int {fn}({ctx_t} *ctx)", "{",
               "\tu32 pytap_z = 0;",
               "\ts64 *pytap_st = pytap_state.lookup(&pytap_z);",
               "\tif (!pytap_st || *pytap_st != 0)", "\t\treturn 0;",
               "\tstruct pytap_env pytap_env = {};", "\tstruct pytap_env *E = &pytap_env;",
               "\tE->ctx = ctx;"]
        if need_frame:
            out += ["\tstruct pytap_frame *F = pytap_frame_get();", "\tif (!F)", "\t\treturn 0;",
                    "\tE->F = F;"]
        out += body
        out += ["\treturn 0;", "pytap_fail: __attribute__((unused));", "\tpytap_report_error(E);",
                "\treturn 0;", "}", ""]
        return "\n".join(out)


def _assigned_names(body) -> set:
    names = set()

    class V(ast.Visitor):
        def visit_Assignment(self, n):
            if isinstance(n.left, ast.Symbol):
                names.add(n.left.name)
            self.generic_visit(n)

        def visit_PreCrement(self, n):
            if isinstance(n.operand, ast.Symbol):
                names.add(n.operand.name)
            self.generic_visit(n)

        visit_PostCrement = visit_PreCrement

        def visit_DeleteStatement(self, n):
            if isinstance(n.value, ast.Symbol):
                names.add(n.value.name)
            self.generic_visit(n)
    V().visit(body)
    return names


_MARK = re.compile(r"/\* @(.+):(\d+):(\d+) \*/")


def _line_map(text: str):
    """C line (1-based) -> script Loc of the nearest preceding marker."""
    out = {}
    for i, line in enumerate(text.split("\n"), 1):
        m = _MARK.search(line)
        if m:
            out[i] = ast.Loc(m.group(1), int(m.group(2)), int(m.group(3)))
    return out


_TASK_OFFSETS = None


# 8 MiB: at 600,000 printf records/s this is over 0.3 s of output, enough
# to ride out the consumer being descheduled on a busy machine
DEFAULT_RINGBUF_PAGES = 2048


def ringbuf_pages(opts) -> int:
    """Ring-buffer size in pages (a power of two, as BPF requires).  stap's
    -s NUM asks for NUM MiB per CPU; our one ring buffer is shared by all
    CPUs, so it gets NUM MiB times the number of CPUs, rounded up."""
    mb = getattr(opts, "buffer_mb", None)
    if not mb:
        return DEFAULT_RINGBUF_PAGES
    pages = (mb << 20) // 4096 * _possible_cpus()
    return 1 << (pages - 1).bit_length()


def _possible_cpus() -> int:
    """Number of possible CPU ids (0..N-1), as the kernel numbers them."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
        return max(int(part.split("-")[-1]) for part in text.split(",")) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def _bpf_embeds(session) -> List[str]:
    """Top-level `%{ /* bpf */ ... %}` blocks of the tapset files in use:
    BPF C shared by their natives (helpers, bpf_loop callbacks), emitted
    before the functions with the PYTAP_OFFSETOF placeholders filled in."""
    out = []
    for e in getattr(session, "embeds", []) or []:
        code = str(getattr(e, "code", ""))
        if "/* bpf */" in code:
            code = code.strip()
            code = code[2:] if code.startswith("%{") else code
            code = code[:-2] if code.endswith("%}") else code
            out.append(native_expand(code).strip("\n") + "\n")
    return out


def task_offsets():
    """task_struct/cred offsets for ppid()/euid() from this kernel's BTF
    (BCC compiles against older headers, so their layout cannot be trusted)."""
    global _TASK_OFFSETS
    if _TASK_OFFSETS is None:
        try:
            from .btf_offsets import offsets
            _TASK_OFFSETS = offsets()
        except Exception:
            _TASK_OFFSETS = []
    return _TASK_OFFSETS


def generate(session, opts) -> Program:
    try:
        return Generator(session, opts).generate()
    except StapError as e:
        d = Diagnostics()
        d.error(e)
        raise PassFailed("Pass 3: translation failed.  [man error::pass3]", d)
