"""Concrete (non-alias) probe points: ask the probe providers.

`pytap.probes.resolve(point, platform)` owns the families.  Until a family
lands there (or when the providers are not importable) we fall back to a
small built-in matcher for the families pass 2 must handle without root:
begin/end/error/never, timer.*, perf.*, kprobe.function (from kallsyms or
System.map) and process.begin — enough for stap-identical -p2 dumps.
"""
from __future__ import annotations

import copy
import fnmatch
import os
from dataclasses import dataclass, field
from typing import List, Optional

from .. import ast
from ..diagnostics import StapError

# First components stap's match tree knows natively.
BUILTIN_FAMILIES = ["begin", "end", "error", "never", "timer", "perf", "kprobe",
                    "kernel", "module", "process", "procfs", "netfilter",
                    "java", "python2", "python3", "hrtimer"]

TIMER_UNITS = {"s": 10**9, "sec": 10**9, "ms": 10**6, "msec": 10**6,
               "us": 10**3, "usec": 10**3, "ns": 1, "nsec": 1, "jiffies": None, "hz": None}


@dataclass(eq=False)
class FallbackResolvedPoint:
    family: str
    point: ast.ProbePoint
    spec: dict = field(default_factory=dict)
    priority: int = 0
    context: object = None


def _provider():
    try:
        from .. import probes
    except Exception:
        return None, None
    res = getattr(probes, "resolve", None)
    plat = None
    try:
        from .. import platform as pplat
        plat = pplat.current()
    except Exception:
        plat = None
    try:
        for name in probes.family_names():
            if name not in BUILTIN_FAMILIES:
                BUILTIN_FAMILIES.append(name)
    except Exception:
        pass
    return res, plat


def explain_no_match(point: ast.ProbePoint) -> StapError:
    try:
        from .. import probes
        return probes.explain_no_match(point, _PROVIDER[1] if _PROVIDER else None)
    except Exception:
        return StapError("no match")


_PROVIDER = None


def brace_expand(text: str) -> List[str]:
    """Glob brace alternatives: "__{ia32,x64}_sys_read" -> two names."""
    i = text.find("{")
    if i < 0:
        return [text]
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return [text]
    inner, parts, cur, d = text[i + 1:j], [], "", 0
    for ch in inner:
        if ch == "," and d == 0:
            parts.append(cur)
            cur = ""
            continue
        d += ch == "{"
        d -= ch == "}"
        cur += ch
    parts.append(cur)
    if len(parts) < 2:
        return [text]
    out = []
    for p in parts:
        out.extend(brace_expand(text[:i] + p + text[j + 1:]))
    return out


def resolve_concrete(point: ast.ProbePoint) -> list:
    """ResolvedPoint list for a non-alias point ([] = no match); brace
    alternatives in string arguments are tried one by one, in order.
    May raise StapError (the provider's own mismatch message)."""
    for k, c in enumerate(point.components):
        if isinstance(c.arg, ast.String) and "{" in c.arg.value and "," in c.arg.value:
            alts = brace_expand(c.arg.value)
            if len(alts) > 1:
                out = []
                for alt in alts:
                    p = copy.deepcopy(point)
                    p.components[k].arg.value = alt
                    out.extend(resolve_concrete(p))
                return out
    return _resolve_one(point)


def _resolve_one(point: ast.ProbePoint) -> list:
    init_provider()
    res, plat = _PROVIDER
    if res is not None and not os.environ.get("PYTAP_P2_FALLBACK"):
        try:
            out = res(point, plat)
            if out is not None:
                return list(out)
        except NotImplementedError:
            pass
    return fallback_resolve(point)


def _arg(c: ast.ProbePointComponent):
    """A component's literal argument (int or str), else None."""
    from ..probes.core import arg_value
    v = arg_value(c.arg)
    return None if isinstance(v, ast.Node) else v


def init_provider() -> None:
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = _provider()


def _mismatch(c: ast.ProbePointComponent, similar: List[str]) -> StapError:
    from .aliases import similar_names
    sim = similar_names(c.functor, similar)
    msg = "probe point mismatch"
    if sim:
        msg += f" (similar: {', '.join(sim)})"
    return StapError(msg, c.loc, f"identifier '{c.functor}'")


def fallback_resolve(point: ast.ProbePoint) -> list:
    comps = point.components
    head = comps[0].functor
    fam = head
    if head in ("begin", "end", "error", "never"):
        if len(comps) != 1:
            raise _mismatch(comps[1], [])
        if head == "never" and comps[0].arg is not None:
            return []
        return [FallbackResolvedPoint(head, point, {}, _arg(comps[0]) or 0)]
    if head == "timer":
        if len(comps) < 2:
            raise _mismatch(comps[0], [])
        unit = comps[1].functor
        if unit == "profile" and len(comps) == 2:
            return [FallbackResolvedPoint(fam, point, {"profile": True, "all_cpus": True})]
        if unit not in TIMER_UNITS or comps[1].arg is None:
            raise _mismatch(comps[1], ["s", "hz", "ms", "ns", "us", "jiffies", "profile", "sec", "msec", "usec", "nsec"])
        n = _arg(comps[1])
        spec = {"unit": unit, "count": n, "randomize": 0, "all_cpus": False}
        mult = TIMER_UNITS[unit]
        if mult is not None:
            spec["period_ns"] = n * mult
        elif unit == "hz":
            spec["period_ns"] = 10**9 // max(n, 1)
        if len(comps) == 3 and comps[2].functor == "randomize":
            spec["randomize"] = _arg(comps[2]) or 0
        elif len(comps) > 2:
            raise _mismatch(comps[2], ["randomize"])
        return [FallbackResolvedPoint(fam, point, spec)]
    if head == "perf":
        spec = {}
        for c in comps[1:]:
            spec[c.functor] = _arg(c)
        if "type" not in spec or "config" not in spec:
            raise _mismatch(comps[-1] if len(comps) > 1 else comps[0], ["type"])
        return [FallbackResolvedPoint(fam, point, spec)]
    if head == "process":
        if len(comps) >= 2 and comps[-1].functor in ("begin", "end") or \
                (len(comps) == 1 and False):
            return [FallbackResolvedPoint(fam, point, {"event": comps[-1].functor,
                                                      "target": _arg(comps[0])})]
        return []
    if head == "kprobe":
        if len(comps) >= 2 and comps[1].functor == "function" and isinstance(_arg(comps[1]), str):
            ret = len(comps) == 3 and comps[2].functor == "return"
            if len(comps) > 2 and not ret:
                raise _mismatch(comps[2], ["return", "maxactive", "call"])
            pattern = _arg(comps[1])
            syms = kernel_symbols()
            if any(ch in pattern for ch in "*?["):
                names = sorted(s for s in syms if fnmatch.fnmatchcase(s, pattern))
            else:
                names = [pattern] if pattern in syms else []
            out = []
            for name in names:
                p = copy.deepcopy(point)
                p.components[1].arg = ast.String(name, loc=p.components[1].loc)
                out.append(FallbackResolvedPoint(fam, p, {"symbol": name, "return": ret}))
            return out
        return []
    return []


_KSYMS = None


def kernel_symbols() -> set:
    """Text symbols of the running kernel (kallsyms, else System.map)."""
    global _KSYMS
    if _KSYMS is not None:
        return _KSYMS
    syms = set()
    for path in ("/proc/kallsyms", f"/boot/System.map-{os.uname().release}"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] in "tTwW" and len(parts) == 3:
                        syms.add(parts[2])
        except OSError:
            continue
        if syms and any(s != "0" for s in syms):
            break
    _KSYMS = syms
    return syms
