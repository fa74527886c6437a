"""Probe providers: pass-2 matching of concrete probe points and run-time
attaching.  One module per family; this module is the registry.

    resolve(point, platform=None) -> list[ResolvedPoint]
        point: an alias-free ast.ProbePoint (may hold * / ** wildcards in
        functors and in string args).  [] = no match (see explain_no_match
        for stap's message).  Raises diagnostics.StapError with stap's text
        for malformed points ("probe point mismatch (similar: ...)",
        "invalid suffix for probe", "probe point truncated (follow: ...)",
        "interval value out of range (1, 86400)" ...); the caller adds
        stap's "while resolving probe point" line.
    explain_no_match(point, platform=None) -> StapError
        stap's text when a non-optional point matched nothing:
        "no match (similar functions: a, b)", "no match (similar
        tracepoints: ...)" or "no match".
    attach(bpf, fn_name, rp, target_pid=None) -> detach callable or None
        Attach loaded BPF function fn_name for rp (begin/end/error/never
        return None: they are run by the interpreter).  Raises StapError
        (kind "", text starting "ERROR: ") when the kernel refuses, e.g. no
        CONFIG_KPROBES.  bcc is imported only here, lazily.
    bpf_program_type(rp) -> "kprobe" | "kretprobe" | "uprobe" | "uretprobe"
        | "tracepoint" | "raw_tracepoint" | "perf_event" | None (user space)
    probe_types() -> the patterns we match (like stap --dump-probe-types)
    family_names() -> first components we own ("begin", "timer", "kprobe", ...)

ResolvedPoint (core.py): .family .point .spec .priority .annotation
.context .variables() -> [TargetVar]; spec keys per family are documented
in begin_end.py, timer.py, perf.py, kprobe.py, tracepoint.py, uprobe.py,
process.py.  TargetVar (core.py) says how BPF reads one $var.
"""
from __future__ import annotations

from typing import List, Optional

from .. import ast
from ..diagnostics import StapError
from .core import ResolvedPoint, TargetVar  # noqa: F401  (public)
from .match import MatchTree

_FAMILY_MODULES = ("begin_end", "timer", "perf", "kprobe", "tracepoint", "uprobe", "process", "sdt",
                   "procfs")
_TREE: Optional[MatchTree] = None

# family -> module that attaches it
_BY_FAMILY = {"begin": "begin_end", "end": "begin_end", "error": "begin_end",
              "never": "begin_end", "timer": "timer", "perf": "perf", "kprobe": "kprobe",
              "tracepoint": "tracepoint", "uprobe": "uprobe", "process": "process",
               "procfs": "procfs"}


def _module(name):
    import importlib
    return importlib.import_module(f"{__name__}.{name}")


def _tree() -> MatchTree:
    global _TREE
    if _TREE is None:
        t = MatchTree()
        for name in _FAMILY_MODULES:
            for pattern, builder in _module(name).PATTERNS:
                t.add(pattern, builder)
        _TREE = t
    return _TREE


def _platform(platform):
    if platform is not None:
        return platform
    from .. import platform as pplat
    return pplat.current()


def resolve(point: ast.ProbePoint, platform=None) -> List[ResolvedPoint]:
    return _tree().match(point, _platform(platform))


def explain_no_match(point: ast.ProbePoint, platform=None) -> StapError:
    plat = _platform(platform)
    functors = [c.functor for c in point.components]
    msg = "no match"
    try:
        if "trace" in functors:
            msg = _module("tracepoint").no_match_message(point, plat)
        elif functors[0] == "process" and "mark" in functors:
            msg = _module("sdt").no_match_message(point, plat)
        elif functors[0] == "process" and "function" in functors:
            msg = _module("uprobe").no_match_message(point, plat)
        elif "function" in functors:
            msg = _module("kprobe").no_match_message(point, plat)
    except Exception:
        msg = "no match"
    return StapError(msg)


def bpf_program_type(rp) -> Optional[str]:
    mod = _BY_FAMILY.get(getattr(rp, "family", None))
    if mod is None:
        return None
    return _module(mod).program_type(rp)


def attach(bpf, fn_name: str, rp, target_pid: Optional[int] = None):
    mod = _BY_FAMILY.get(rp.family)
    if mod is None:
        raise StapError(f"ERROR: cannot attach a '{rp.family}' probe", kind="")
    m = _module(mod)
    if mod in ("perf", "uprobe") and target_pid:
        return m.attach(bpf, fn_name, rp, target_pid=target_pid)
    return m.attach(bpf, fn_name, rp)


def probe_types() -> List[str]:
    return sorted(_tree().patterns)


def family_names() -> List[str]:
    return _tree().families()
