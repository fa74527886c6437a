"""SDT markers: process("PATH").mark("NAME"), .provider("P").mark("N"),
process.library("LIB").mark("N"), process.mark("N") (the -c command's
program, or -x PID's).  NAME/P take fnmatch wildcards.

A marker is a uprobe at its pc (pytap/platform/sdt.py reads the ELF notes).
A marker guarded by a semaphore gets the kernel's uprobe reference counter
(spec["ref_ctr_offset"]): the kernel increments the semaphore in every
process mapping the file while the probe is attached, so e.g. Python emits
function__entry only while pytap listens (what BCC's USDT class does).

Variables: $arg1..$argN (longs, read from the registers / memory the note
names; `@defined($argN)` is false past the marker's count), $$name,
$$provider (strings) and $$parms ("arg1=0x.. arg2=0x..") come from the
note at compile time.
spec (family "uprobe"): as uprobe.py plus "ref_ctr_offset", "provider",
"mark".
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from .. import ast
from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar, has_glob, make_point, similar

class _HexNumber(ast.Number):
    """A statement address, printed in hex as stap does."""


def _register_printer():
    from .. import printer
    printer._EXPR.setdefault("_HexNumber", lambda e: f"0x{e.value:x}")


_register_printer()

_LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
             "/lib", "/usr/lib", "/usr/local/lib")


@dataclass(eq=False)
class SdtVar(TargetVar):
    """$argN of a marker: a register, memory at disp(reg), or a constant."""
    kind: str = "reg"
    reg: str = ""
    disp: int = 0

    def c_value(self, ctx: str = "ctx") -> str:
        t = f"{'s' if self.signed else 'u'}{self.size * 8}"
        if self.kind == "imm":
            return f"(s64)({t}){self.disp}"
        regs = f"((struct pt_regs *){ctx})"
        if self.kind == "reg":
            return f"(s64)({t}){regs}->{self.reg}"
        return (f"({{ {t} __sdt = 0; bpf_probe_read_user(&__sdt, sizeof(__sdt), "
                f"(void *)({regs}->{self.reg} + ({self.disp}))); (s64)__sdt; }})")


def _markers(path, platform):
    cache = getattr(platform, "_sdt_cache", None)
    if cache is None:
        cache = {}
        try:
            platform._sdt_cache = cache
        except Exception:
            pass
    if path not in cache:
        from ..platform import sdt
        try:
            cache[path] = sdt.read_markers(path)
        except OSError:
            cache[path] = []
    return cache[path]


def _ldd(binary: str) -> dict:
    """{soname: path} of the libraries binary loads (the dynamic loader's
    own answer, as stap's --ldd)."""
    import subprocess
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    libs = {}
    for line in out.splitlines():
        if "=>" in line:
            name, _, rest = line.strip().partition(" => ")
            path = rest.split(" (")[0].strip()
            if path.startswith("/"):
                libs[name] = path
    return libs


def find_library(name: str, binary: str | None = None) -> str | None:
    if "/" in name:
        return os.path.realpath(name) if os.path.exists(name) else None
    if binary:
        for soname, path in _ldd(binary).items():
            if soname == name or fnmatch.fnmatchcase(soname, name) or \
                    os.path.basename(path) == name:
                return os.path.realpath(path)
    for d in _LIB_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return os.path.realpath(p)
    return None


def _path(concrete, platform):
    head = concrete[0][1]
    functors = [f for f, _v in concrete]
    if "library" in functors:
        exe = None
        if head is None:
            from ..platform import target_executable
            exe = target_executable(platform)
        elif isinstance(head, str):
            exe = platform.find_executable(head)
        return find_library(str(concrete[functors.index("library")][1]), exe)
    if head is None:
        from ..platform import target_executable
        from .uprobe import UNSPECIFIED
        path = target_executable(platform)
        if path is None:
            raise StapError(UNSPECIFIED)
        return os.path.realpath(path) if os.path.exists(path) else path
    return platform.find_executable(head)


def _build(concrete, point, platform):
    path = _path(concrete, platform)
    if path is None:
        return []
    functors = [f for f, _v in concrete]
    name_pat = str(concrete[functors.index("mark")][1])
    prov_pat = str(concrete[functors.index("provider")][1]) if "provider" in functors else None
    out = []
    for m in sorted(_markers(path, platform), key=lambda m: (m.name, m.provider)):
        if not _match(name_pat, m.name):
            continue
        if prov_pat is not None and not _match(prov_pat, m.provider):
            continue
        comps = list(concrete)
        if concrete[0][1] is None and "library" not in functors:
            comps[0] = ("process", path)
        if "library" in functors:
            comps[functors.index("library")] = ("library", path)
        comps[functors.index("mark")] = ("mark", m.name)
        if prov_pat is not None:
            comps[functors.index("provider")] = ("provider", m.provider)
        spec = {"path": path, "symbol": m.name, "address": m.pc, "offset": m.offset,
                "return": False, "pid": None, "ref_ctr_offset": m.sem_offset,
                "provider": m.provider, "mark": m.name}
        # stap -p2 shows a marker as the statement it is (uprobe at pc);
        # -l / -L list the mark form
        lib = "library" in functors
        spoint = _hex_statement(point, [("process", path) if lib else comps[0], ("statement", m.pc)])
        info = platform.elf_info(path)
        pie = bool(info and info.is_pie)
        base = info.load_base if info and not pie else 0
        rp = ResolvedPoint("uprobe", spoint, spec,
                           annotation=f" /* pc={'.dynamic' if pie else '.absolute'}+0x{m.pc - base:x} */")
        # a library's marker: the chain shows the process(APP).library(LIB) form
        rp.derivation_point = (_hex_statement(point, comps[:functors.index("library") + 1]
                                              + [("statement", m.pc)]) if lib else rp.point)
        rp.listing_point = make_point(point, comps)
        rp._vars = (lambda m=m: _vars(m))
        rp._listing = rp._vars          # stap -L: $arg1:long ...
        out.append(rp)
    return out


def _hex_statement(template, comps):
    """A point ending in .statement(ADDR), ADDR printed in hex as stap does."""
    p = make_point(template, comps)
    a = p.components[-1].arg
    p.components[-1].arg = _HexNumber(a.value, f"0x{a.value:x}", loc=a.loc)
    return p


def _match(pat: str, name: str) -> bool:
    if has_glob(pat):
        return fnmatch.fnmatchcase(name, pat)
    # stap accepts "function-entry" for the note's "function__entry"
    return name == pat or name == pat.replace("-", "__")


def _vars(m):
    out = []
    for i, a in enumerate(m.args, 1):
        out.append(SdtVar(f"arg{i}", "long", 8, a.signed, source="sdt",
                          kind=a.kind, reg=a.reg, disp=a.disp) if a.size == 8 else
                   SdtVar(f"arg{i}", "long", a.size, a.signed, source="sdt",
                          kind=a.kind, reg=a.reg, disp=a.disp))
    return out


def no_match_message(point, platform) -> str:
    from .core import arg_value
    comps = [(c.functor, arg_value(c.arg) if c.arg is not None else None) for c in point.components]
    try:
        path = _path(comps, platform)
    except StapError:
        return "no match"
    if path is None:
        return "no match"
    names = [m.name for m in _markers(path, platform)]
    fn = [v for f, v in comps if f == "mark"]
    target = str(fn[0]) if fn else ""
    sim = similar(target.replace("*", "").replace("?", ""), names)
    return "no match" + (f" (similar marks: {', '.join(sim)})" if sim else "")


PATTERNS = []
for _head in ("process(string)", "process", "process.library(string)", "process(string).library(string)"):
    PATTERNS.append((_head + ".mark(string)", _build))
    PATTERNS.append((_head + ".provider(string).mark(string)", _build))
