"""process("path").function("sym")[.call|.return] and
process(PID).function("sym")[...], process.function("sym")[...] (the -c
command's program, or -x PID's; stap's error without either): uprobes on
FUNC symbols of an ELF file.

The path is looked up as stap does (Platform.find_executable: relative to
the working directory with a "/", else $PATH; symlinks resolved) and
printed absolute; symbols come from .symtab/.dynsym (Platform.elf_info),
fnmatch wildcards, in address order as stap lists them.  process(PID)
probes /proc/PID/exe and only that process.

spec (family "uprobe"): {"path", "symbol", "address" (st_value),
"offset" (file offset: what the kernel's uprobe takes), "return": bool,
"pid": int or None}
annotation: stap's " /* pc=.dynamic+0x1139 */" (PIE/DSO) or
" /* pc=.absolute+0x1126 */" (fixed address, relative to the first load
segment).
variables(): $return on .return (a long, from the return register); with
no DWARF the arguments have no names (stap gives none either).
Attach: libbcc bpf_attach_uprobe with our own event name (so two programs
can share an address), program type "uprobe"/"uretprobe" (both load as
BPF_PROG_TYPE_KPROBE).
"""
from __future__ import annotations

import fnmatch
import itertools
import os

from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, has_glob, make_point, similar


UNSPECIFIED = "unspecified process probe is invalid without a -c COMMAND or -x PID [man stapprobes]"


def _target_path(concrete, platform):
    head = concrete[0][1]
    if head is None:
        # process.function("f"): the -c command's program (or -x PID's)
        from ..platform import target_executable
        path = target_executable(platform)
        if path is None:
            raise StapError(UNSPECIFIED)
        return path, None
    if isinstance(head, int):
        try:
            return os.readlink(f"/proc/{head}/exe"), head
        except OSError:
            return None, head
    return platform.find_executable(head), None


def _build(concrete, point, platform):
    path, pid = _target_path(concrete, platform)
    if path is None:
        return []
    info = platform.elf_info(path)
    if info is None:
        return []
    functors = [f for f, _v in concrete]
    fidx = functors.index("function")
    pattern = concrete[fidx][1]
    is_return = "return" in functors
    dw = platform.dwarf_info(path) if hasattr(platform, "dwarf_info") else None
    if dw is None:
        from .userlib import warn_no_debuginfo
        warn_no_debuginfo(path)
    pattern, _, file_pat = pattern.partition("@")
    out = []
    for sym in info.functions:
        if not (fnmatch.fnmatchcase(sym.name, pattern) if has_glob(pattern) else sym.name == pattern):
            continue
        if is_return and sym.name == "_start":
            continue            # never returns: stap offers no .return probe on it
        df = dw.functions.get(sym.name) if dw is not None else None
        if df is not None and df.low_pc != sym.address:
            df = None
        if file_pat and (df is None or not _file_fits(df, file_pat)):
            continue
        comps = list(concrete)
        if pid is None:
            comps[0] = ("process", path)
        elif concrete[0][1] is None:
            comps[0] = ("process", path)
        comps[fidx] = ("function", f"{sym.name}@{df.decl_file}:{df.decl_line}" if df else sym.name)
        where = ".dynamic" if info.is_pie else ".absolute"
        # stap probes a function built without optimisation after its
        # prologue, where its parameters are in their stack slots
        pc = df.probe_pc if (df is not None and not is_return) else sym.address
        annotation = f" /* pc={where}+0x{pc - info.load_base:x} */"
        spec = {"path": path, "symbol": sym.name, "address": pc,
                "offset": sym.offset + (pc - sym.address), "return": is_return, "pid": pid}
        rp = ResolvedPoint("uprobe", make_point(point, comps), spec, annotation=annotation)
        rp.derivation_point = rp.point          # stap's DWARF-style expansion
        if df is not None:
            rp.dwarf_func = df                  # $$parms / $$locals / $$vars text
            rp._vars = _dwarf_vars(df, dw, is_return, pc)
            rp._listing = _dwarf_listing(df, is_return)
        elif is_return:
            rp._vars = lambda: [TargetVar("return", "long", 8, True, source="return")]
        out.append(rp)
    return out


def _file_fits(df, file_pat):
    fpat, _, line = file_pat.partition(":")
    if line and line != str(df.decl_line):
        return False
    name = df.decl_file
    return any(fnmatch.fnmatchcase(n, fpat) for n in (name, os.path.basename(name))) or \
        name.endswith("/" + fpat)


def _is_string(t) -> bool:
    s = t.strip() if t is not None else None
    if s is None or s.kind != "ptr" or s.target is None:
        return False
    e = s.target.strip()
    return e.kind == "base" and e.name in ("char", "signed char", "unsigned char")


def _target_var(v, source, **kw):
    from ..platform.dwarf import DType
    t = v.type or DType("base", "long int", 8, True)
    s = t.strip()
    size = 8 if s.kind in ("ptr", "array", "struct", "union") else (s.size or 8)
    return TargetVar(v.name, t.spell(), size, s.signed, is_pointer=s.kind == "ptr",
                     is_string=_is_string(t), source=source, type_ref=t,
                     string_space="user" if _is_string(t) else None, **kw)


def _build_statement(concrete, point, platform):
    """process("P").statement("func@file.c:LINE"): the first address the
    line table gives that line inside the function (LINE may be * or a
    glob); stap's "no line records" error (with a nearby line) otherwise."""
    path, pid = _target_path(concrete, platform)
    info = platform.elf_info(path) if path else None
    dw = platform.dwarf_info(path) if path else None
    if info is not None and dw is None:
        from .userlib import warn_no_debuginfo
        warn_no_debuginfo(path)
    if info is None or dw is None:
        return []
    functors = [f for f, _v in concrete]
    sidx = functors.index("statement")
    spec_text = str(concrete[sidx][1])
    fpat, _, where = spec_text.partition("@")
    file_pat, _, line_pat = where.partition(":")
    syms = {(sym.name, sym.address): sym for sym in info.functions}
    out = []
    for df in sorted(dw.functions.values(), key=lambda f: f.low_pc):
        if not fnmatch.fnmatchcase(df.name, fpat or "*"):
            continue
        sym = syms.get((df.name, df.low_pc))
        if sym is None:
            continue
        first: dict = {}
        for addr, fname, line in df.lines:
            if file_pat and not any(fnmatch.fnmatchcase(n, file_pat) for n in (fname, os.path.basename(fname))):
                continue
            first.setdefault(line, (addr, fname))
        lines = [ln for ln in first if (fnmatch.fnmatchcase(str(ln), line_pat) if has_glob(line_pat or "*")
                                         else str(ln) == line_pat)]
        if not lines and line_pat and not has_glob(line_pat) and first:
            near = min(first, key=lambda ln: abs(ln - int(line_pat)) if line_pat.isdigit() else 0)
            fname = first[near][1]
            raise StapError(f"no line records for {fname}:{line_pat} [man error::dwarf] (try :{near})")
        for ln in lines:
            pc, fname = first[ln]
            comps = list(concrete)
            comps[0] = ("process", path)
            comps[sidx] = ("statement", f"{df.name}@{fname}:{ln}")
            where_ = ".dynamic" if info.is_pie else ".absolute"
            spec = {"path": path, "symbol": df.name, "address": pc,
                    "offset": sym.offset + (pc - sym.address), "return": False, "pid": pid}
            rp = ResolvedPoint("uprobe", make_point(point, comps), spec,
                               annotation=f" /* pc={where_}+0x{pc - info.load_base:x} */")
            rp.derivation_point = rp.point
            rp.dwarf_func = df
            rp._vars = _dwarf_vars(df, dw, False, pc, df.cfa_at.get(pc))
            rp._listing = _dwarf_listing(df, False, pc)
            out.append(rp)
    out.sort(key=lambda rp: rp.point.text() if hasattr(rp.point, "text") else "")
    return out


def _dwarf_vars(df, dw, is_return, pc, cfa="probe"):
    """$params / $locals where this probe can read them: at a function's
    entry (.return probes: stap's entry values) the System V argument
    registers; after the prologue, the frame slots DW_OP_fbreg names,
    found through the CFA rule at that address."""
    from ..platform.dwarf import X86_64_REGS
    if cfa == "probe":
        cfa = df.cfa if pc == df.probe_pc else None

    def variables():
        out = []
        for i, v in enumerate(df.params):
            s = v.type.strip() if v.type is not None else None
            scalar = s is not None and s.kind in ("base", "ptr", "enum")
            if (is_return or pc == df.low_pc) and scalar and i < 6:
                out.append(_target_var(v, "arg", arg_index=i + 1, at_entry=is_return))
            elif not is_return:
                got = _located(v)
                if got is not None:
                    out.append(got)
        if not is_return:
            out += [t for t in (_located(v) for v in df.locals) if t is not None]
        if is_return and df.ret is not None:
            out.append(_target_var(_ret_var(df), "return"))
        return out

    def _located(v):
        from ..platform.dwarf import location_at
        loc = location_at(v, pc)
        if loc is None:
            return None
        if loc[0] == "fbreg" and df.frame_base_cfa and cfa and cfa[0] in X86_64_REGS:
            return _target_var(v, "frame", reg=X86_64_REGS[cfa[0]], offset=cfa[1] + loc[1])
        if loc[0] == "reg" and loc[1] in X86_64_REGS:
            return _target_var(v, "reg", reg=X86_64_REGS[loc[1]])
        return None
    return variables


def _ret_var(df):
    from ..platform.dwarf import DVar
    return DVar("return", df.ret, None)


def _dwarf_listing(df, is_return, at=None):
    """stap -L: $return first, then the variables that have a location
    at the probe address (an optimised-out local is not listed)."""
    from ..platform.dwarf import location_at

    def listing():
        out = [_target_var(_ret_var(df), "return")] if is_return and df.ret is not None else []
        pc = df.probe_pc if at is None else at
        return out + [_target_var(v, "arg") for v in df.params + df.locals
                      if location_at(v, pc) is not None]
    return listing


def no_match_message(point, platform) -> str:
    from .core import arg_value
    head = arg_value(point.components[0].arg)
    path = platform.find_executable(head) if isinstance(head, str) else None
    info = platform.elf_info(path) if path else None
    if info is None:
        return "no match"
    fn = [c for c in point.components if c.functor == "function"]
    target = str(arg_value(fn[0].arg)) if fn else ""
    # stap's list also names the functions the file imports (undefined in
    # .dynsym): their PLT entries' names stand for them
    from .userlib import plt_entries
    names = [s.name for s in info.functions] + [e.name for e in plt_entries(path)[2]]
    sim = similar(target.replace("*", "").replace("?", ""), names)
    return "no match" + (f" (similar functions: {', '.join(sim)})" if sim else "")


PATTERNS = []
for _head in ("process(string).function(string)", "process(number).function(string)",
              "process.function(string)"):
    PATTERNS += [(_head + t, _build) for t in ("", ".call", ".return")]
for _head in ("process(string)", "process(number)", "process"):
    PATTERNS.append((_head + ".statement(string)", _build_statement))

_counter = itertools.count()


def program_type(rp):
    return "uretprobe" if rp.spec.get("return") else "uprobe"


def attach(bpf, fn_name, rp, target_pid=None):
    from ..runtime.attachsys import lib_for     # see perf.attach_perf
    lib = lib_for(bpf)
    s = rp.spec
    fn = bpf.load_func(fn_name.encode() if isinstance(fn_name, str) else fn_name, 2)  # KPROBE
    pid = s.get("pid") or -1
    if s.get("target_only") and target_pid and pid == -1:
        pid = int(target_pid)      # plt.py: process.plt, .library(...) points under -c/-x
    kind = "r" if s.get("return") else "p"
    ev_name = f"pytap_{kind}_{os.getpid()}_{next(_counter)}".encode()
    ref = s.get("ref_ctr_offset") or 0        # an SDT semaphore (sdt.py)
    extra = {}
    if ref:
        # libbcc's bpf_attach_uprobe has no reference counter: our own
        # perf_event_open (runtime/attachsys.py) sets it
        from ..runtime.attachsys import AttachLib
        if not isinstance(lib, AttachLib):
            lib = AttachLib()
        extra = {"ref_ctr_offset": ref}
    fd = lib.bpf_attach_uprobe(fn.fd, 1 if s.get("return") else 0, ev_name,
                               s["path"].encode(), s["offset"], pid, **extra)
    if fd < 0:
        what = (f'process("{s["path"]}").mark("{s["mark"]}")' if s.get("mark") else
                f'process("{s["path"]}").function("{s["symbol"]}")' + (".return" if s.get("return") else ""))
        raise StapError(f"ERROR: cannot attach uprobe {what}", kind="")
    state = {"fd": fd}

    def detach():
        if state["fd"] is not None:
            lib.bpf_close_perf_event_fd(state["fd"])
            lib.bpf_detach_uprobe(ev_name)
            state["fd"] = None
    return detach

