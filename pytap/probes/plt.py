"""process("PATH").plt[("NAME")][.return], process(PID).plt..., process.plt
(the -c/-x target's program), and every user-space point under a
.library("PATTERN"): process("PATH").library("LIB").plt / .function /
.statement (.mark is sdt.py's).

A PLT probe is a uprobe on the PLT entry (see userlib.plt_entries for
which entry stap picks), family "uprobe" as uprobe.py, spec plus
"plt": the symbol name, which $$name becomes at pass 2 (an IRELATIVE
entry's name is ""); no other context variable (stap: "unable to find plt
variable").  stap prints the point as process("P").statement(0xADDR)
[.return]; a .return probe is a uretprobe on the entry, so it fires when
the called function returns to the caller.

.library("PATTERN") runs the inner point once per library of the program
the point names (userlib.library_paths): each result is that library's
own point, process("LIB")..., and its derivation chain shows
process("PROGRAM").library("LIB")..., as stap's does.
"""
from __future__ import annotations

import fnmatch
import os

from .. import ast
from .core import ResolvedPoint, has_glob, make_point
from .userlib import library_paths, plt_entries


def _hex(template, comps, at):
    """make_point(...) whose component `at` (a statement address) prints in hex."""
    from .sdt import _HexNumber
    p = make_point(template, comps)
    a = p.components[at].arg
    p.components[at].arg = _HexNumber(a.value, f"0x{a.value:x}", loc=a.loc)
    return p


def _build_plt(concrete, point, platform):
    from .uprobe import _target_path
    path, pid = _target_path(concrete, platform)
    if path is None:
        return []
    is_pie, base, entries = plt_entries(path)
    functors = [f for f, _v in concrete]
    i = functors.index("plt")
    pattern = concrete[i][1] if concrete[i][1] is not None else "*"
    is_return = "return" in functors
    head = ("process", path) if pid is None or concrete[0][1] is None else concrete[0]
    out = []
    for e in entries:
        if not (fnmatch.fnmatchcase(e.name, pattern) if has_glob(pattern) else e.name == pattern):
            continue
        comps = [head, ("statement", e.address)] + ([("return", None)] if is_return else [])
        spec = {"path": path, "symbol": e.name or f"plt+0x{e.address:x}", "address": e.address,
                "offset": e.offset, "return": is_return, "pid": pid, "plt": e.name,
                "target_only": concrete[0][1] is None}
        where = ".dynamic" if is_pie else ".absolute"
        rp = ResolvedPoint("uprobe", _hex(point, comps, 1), spec,
                           annotation=f" /* pc={where}+0x{e.address - (0 if is_pie else base):x} */")
        rp.derivation_point = rp.point
        # stap -l / -L name the entry: process("P").plt("exit")[.return]
        rp.listing_point = make_point(point, [head, ("plt", e.name)]
                                      + ([("return", None)] if is_return else []))
        rp._vars = lambda: []
        rp._listing = lambda: []
        out.append(rp)
    return out


def _program(concrete, platform):
    """The executable a process / process("P") / process(PID) head names
    (the -c command's program with its links resolved)."""
    from .uprobe import _target_path
    exe, _pid = _target_path(concrete, platform)
    if concrete[0][1] is None and os.path.exists(exe):
        return os.path.realpath(exe)
    return exe


def _library(inner):
    def build(concrete, point, platform):
        functors = [f for f, _v in concrete]
        li = functors.index("library")
        exe = _program(concrete, platform)
        rest = list(concrete[li + 1:])
        pc = point.components
        sub_template = ast.ProbePoint([pc[0]] + list(pc[li + 1:]), optional=point.optional,
                                      sufficient=point.sufficient, condition=point.condition,
                                      loc=point.loc, tok_desc=point.tok_desc)
        out = []
        for lib in library_paths(exe, str(concrete[li][1])):
            for rp in inner([("process", lib)] + rest, sub_template, platform):
                shown = getattr(rp, "derivation_point", None) or rp.point
                chain = make_point(point, [("process", exe), ("library", lib)] + [
                    (c.functor, None) for c in shown.components[1:]])
                for new, old in zip(chain.components[2:], shown.components[1:]):
                    new.arg = old.arg
                rp.derivation_point = chain
                inner_listing = getattr(rp, "listing_point", None)
                if inner_listing is not None:
                    listed = make_point(point, [("process", exe), ("library", lib)] + [
                        (c.functor, None) for c in inner_listing.components[1:]])
                    for new, old in zip(listed.components[2:], inner_listing.components[1:]):
                        new.arg = old.arg
                    rp.listing_point = listed
                # a library serves every process: under -c/-x only the
                # target's (stapprobes: process probes are restricted to
                # the target then); without a target, all of them
                rp.spec["target_only"] = True
                out.append(rp)
        return out
    return build


def _function(concrete, point, platform):
    from .uprobe import _build
    return _build(concrete, point, platform)


def _statement(concrete, point, platform):
    from .uprobe import _build_statement
    return _build_statement(concrete, point, platform)


PATTERNS = []
for _h in ("process(string)", "process(number)", "process"):
    for _t in (".plt", ".plt(string)"):
        PATTERNS += [(_h + _t, _build_plt), (_h + _t + ".return", _build_plt)]
        PATTERNS += [(_h + ".library(string)" + _t, _library(_build_plt)),
                     (_h + ".library(string)" + _t + ".return", _library(_build_plt))]
    PATTERNS += [(_h + ".library(string).function(string)" + t, _library(_function))
                 for t in ("", ".call", ".return")]
    PATTERNS.append((_h + ".library(string).statement(string)", _library(_statement)))


def program_type(rp):
    return "uretprobe" if rp.spec.get("return") else "uprobe"
