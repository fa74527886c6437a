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
    out = []
    for sym in info.functions:
        if not (fnmatch.fnmatchcase(sym.name, pattern) if has_glob(pattern) else sym.name == pattern):
            continue
        comps = list(concrete)
        if pid is None:
            comps[0] = ("process", path)
        elif concrete[0][1] is None:
            comps[0] = ("process", path)
        comps[fidx] = ("function", sym.name)
        where = ".dynamic" if info.is_pie else ".absolute"
        annotation = f" /* pc={where}+0x{sym.address - info.load_base:x} */"
        spec = {"path": path, "symbol": sym.name, "address": sym.address, "offset": sym.offset,
                "return": is_return, "pid": pid}
        rp = ResolvedPoint("uprobe", make_point(point, comps), spec, annotation=annotation)
        rp.derivation_point = rp.point          # stap's DWARF-style expansion
        if is_return:
            rp._vars = lambda: [TargetVar("return", "long", 8, True, source="return")]
        out.append(rp)
    return out


def no_match_message(point, platform) -> str:
    from .core import arg_value
    head = arg_value(point.components[0].arg)
    path = platform.find_executable(head) if isinstance(head, str) else None
    info = platform.elf_info(path) if path else None
    if info is None:
        return "no match"
    fn = [c for c in point.components if c.functor == "function"]
    target = str(arg_value(fn[0].arg)) if fn else ""
    sim = similar(target.replace("*", "").replace("?", ""), [s.name for s in info.functions])
    return "no match" + (f" (similar functions: {', '.join(sim)})" if sim else "")


PATTERNS = []
for _head in ("process(string).function(string)", "process(number).function(string)",
              "process.function(string)"):
    PATTERNS += [(_head + t, _build) for t in ("", ".call", ".return")]

_counter = itertools.count()


def program_type(rp):
    return "uretprobe" if rp.spec.get("return") else "uprobe"


def attach(bpf, fn_name, rp, target_pid=None):
    from ..runtime.attachsys import lib_for     # see perf.attach_perf
    lib = lib_for(bpf)
    s = rp.spec
    fn = bpf.load_func(fn_name.encode() if isinstance(fn_name, str) else fn_name, 2)  # KPROBE
    pid = s.get("pid") or -1
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

