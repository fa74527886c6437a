"""`-t`: per-probe hit counts and handler times, reported as stap reports them.

Where the times come from:
- handlers that run in BPF: each one is bracketed by bpf_ktime_get_ns()
  (codegen/generate.py, only under -t) and adds count / sum / sum of squares
  / min / max to its slot of the per-CPU array `pytap_timing` (TIMING_MAP);
- handlers that run in user space (begin, end, error, timer-less user-mode
  handlers triggered through the ring buffer): timed around the interpreter
  here, with time.perf_counter_ns().

The report is stap's (translate.cxx, module exit), printed into the script's
output after everything else:

    ----- probe hit report: 
    PP, (FILE:LINE:COL), hits: N, time: MINmin/AVGavg/MAXmax, variance: V, from: DERIVATION, index: I
    ----- refresh report:

stap's kernel runtime says `cycles:` because it measures get_cycles(); its
user-space runtime, which measures time, says `time:`, and so do we: the
values are nanoseconds.  Only probes that ran at least once are listed, in
probe-index order; avg is sum / count truncated, variance the sample variance
(count - 1 in the denominator, 0 for a single hit) truncated.
"""
from __future__ import annotations

import time
from typing import Dict, List, Optional

TIMING_MAP = "pytap_timing"

HEADER = "----- probe hit report: \n"
FOOTER = "----- refresh report:\n"


class HitTimes:
    """count, sum, sum of squares, min, max per probe index."""

    def __init__(self):
        self.stats: Dict[int, List[int]] = {}

    def add(self, index: int, ns: int) -> None:
        s = self.stats.get(index)
        if s is None:
            self.stats[index] = [1, ns, ns * ns, ns, ns]
            return
        s[0] += 1
        s[1] += ns
        s[2] += ns * ns
        if ns < s[3]:
            s[3] = ns
        if ns > s[4]:
            s[4] = ns

    def merge(self, index: int, count: int, total: int, sumsq: int, lo: int, hi: int) -> None:
        if count <= 0:
            return
        s = self.stats.get(index)
        if s is None:
            self.stats[index] = [count, total, sumsq, lo, hi]
            return
        s[0] += count
        s[1] += total
        s[2] += sumsq
        s[3] = min(s[3], lo)
        s[4] = max(s[4], hi)

    def timed(self, index: int, fn, *args):
        t0 = time.perf_counter_ns()
        try:
            return fn(*args)
        finally:
            self.add(index, time.perf_counter_ns() - t0)


def read_bpf(bpf, into: HitTimes) -> None:
    """Sum the per-CPU slots of the BPF timing map into `into`."""
    try:
        table = bpf.get_table(TIMING_MAP)
    except Exception:
        return          # no BPF handler (a begin-only script)
    for key, per_cpu in table.items():
        # BCC gives a per-CPU value as a list or as a ctypes array of leaves
        values = [per_cpu] if hasattr(per_cpu, "count") and not hasattr(per_cpu, "__len__") \
            else list(per_cpu)
        for v in values:
            if v.count:
                into.merge(key.value, v.count, v.sum, v.sumsq, v.min, v.max)


def _cdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _variance(count: int, total: int, sumsq: int) -> int:
    if count < 2:
        return 0
    return _cdiv(sumsq - _cdiv(total * total, count), count - 1)


def derivation_text(probe) -> str:
    """stap's p->derivation: " from: POINT" for every link between the
    concrete point and the user's probe, innermost first."""
    from ..printer import probe_point_text
    links = []
    # names a location of the next link may have matched: the concrete
    # point, then each alias's own names
    names = {probe_point_text(probe.point, with_flags=False)} \
        if getattr(probe, "point", None) is not None else set()
    for d in getattr(probe, "derivation", None) or []:
        texts = [probe_point_text(p, with_flags=False)
                 for p in getattr(d, "locations", None) or []]
        # of a multi-location probe (`probe begin, end`) stap names the
        # one location this probe came from
        matched = [t for t in texts if t in names]
        text = matched[0] if len(texts) > 1 and matched else ",".join(texts)
        if text:
            links.append(" from: " + text)
        names = {probe_point_text(p, with_flags=False)
                 for p in getattr(d, "alias_names", None) or []}
    return "".join(links)


def report(program, hits: HitTimes, pp_text) -> str:
    """The text stap prints at module exit under -t."""
    out = [HEADER]
    by_index = {cp.index: cp.probe for cp in program.probes}
    for index in sorted(hits.stats):
        count, total, sumsq, lo, hi = hits.stats[index]
        probe = by_index.get(index)
        if probe is None or count <= 0:
            continue
        origin = getattr(probe, "origin", None)
        loc = getattr(origin, "loc", None) or getattr(getattr(probe, "body", None), "loc", None)
        out.append(f"{pp_text(probe)}, ({loc}), hits: {count}, "
                   f"time: {lo}min/{_cdiv(total, count)}avg/{hi}max, "
                   f"variance: {_variance(count, total, sumsq)},"
                   f"{derivation_text(probe)}, index: {index}\n")
    out.append(FOOTER)
    return "".join(out)


def wanted(opts) -> bool:
    return bool(getattr(opts, "timing", False))


def maybe(opts) -> Optional[HitTimes]:
    return HitTimes() if wanted(opts) else None
