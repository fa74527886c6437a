"""Text rendering of @hist_log / @hist_linear, exactly as stap prints them
(see /work/shared/NOTES.md "How SystemTap prints histograms").

Layout: a header `value |-----...----- count`, one row per shown bucket
(`label |@@@@   count`), runs of empty rows elided to one ` ~` line, and a
blank line at the end.  The caller reports "empty aggregate" for a Stat
with no values; rendering an empty one here just prints the header.
"""
from __future__ import annotations

from typing import Callable, List

from .stats import LOG_BUCKET0, Stat, log_bucket_value

HIST_WIDTH = 50
HIST_ELISION = 2


def _digits(v: int) -> int:
    """Characters needed to print v (a minus sign counts)."""
    return len(str(v))


def _render(buckets: List[int], low: int, high: int, val_space: int,
            label: Callable[[int], str], elision: int = HIST_ELISION) -> str:
    valmax = max(buckets) if buckets else 0
    scale = 1 if valmax <= HIST_WIDTH else -(-valmax // HIST_WIDTH)
    cnt_space = _digits(valmax)
    lines = ["%*s |%s count\n" % (val_space, "value", "-" * HIST_WIDTH)]
    eliding = False
    for i in range(low, high + 1):
        if elision >= 0:          # -DHIST_ELISION=<negative> shows every row
            span = min(elision, len(buckets))
            lo = max(low, i - span)
            hi = min(high, i + span)
            if all(buckets[k] == 0 for k in range(lo, hi + 1)):
                eliding = True
                continue
            if eliding:
                lines.append("%*s ~\n" % (val_space, ""))
                eliding = False
        n = buckets[i] // scale
        lines.append("%*s |%s%*d\n" % (val_space, label(i), "@" * n,
                                        HIST_WIDTH - n + 1 + cnt_space, buckets[i]))
    lines.append("\n")
    return "".join(lines)


def _data_range(buckets: List[int]):
    nonzero = [i for i, c in enumerate(buckets) if c > 0]
    if not nonzero:
        return -1, 0
    return nonzero[0], nonzero[-1]


def _empty() -> str:
    return "%5s |%s count\n\n" % ("value", "-" * HIST_WIDTH)


def render_log(stat: Stat, elision: int = HIST_ELISION) -> str:
    buckets = stat.log
    low, high = _data_range(buckets)
    if low < 0:
        return _empty()
    for _ in range(2):
        # do not widen below the zero bucket unless negatives are present
        if low != LOG_BUCKET0 and low > 0:
            low -= 1
        if high < len(buckets) - 1:
            high += 1
    if low < 0:
        low = 0
    val_space = max(_digits(log_bucket_value(high)), _digits(log_bucket_value(low)), 5)
    return _render(buckets, low, high, val_space, lambda i: str(log_bucket_value(i)), elision)


def render_linear(stat: Stat, start: int, stop: int, interval: int,
                  elision: int = HIST_ELISION) -> str:
    buckets = stat.linear
    if buckets is None:
        from .stats import linear_bucket_count
        buckets = [0] * linear_bucket_count(start, stop, interval)
    nb = len(buckets)
    low, high = _data_range(buckets)
    if low < 0:
        return _empty()
    for _ in range(2):
        if low > 0:
            low -= 1
        if high < nb - 1:
            high += 1
    # under/overflow rows only when they hold something
    if low == 0 and buckets[0] == 0:
        low += 1
    if high == nb - 1 and buckets[high] == 0:
        high -= 1
    if low < 0:
        low = 0
    under = 1 if low == 0 else 0
    over = 1 if high == nb - 1 else 0
    val_space = max(_digits(start) + under,
                    _digits(start + interval * high) + over, 5)

    def label(i: int) -> str:
        if i == 0:
            return "<" + str(start)
        if i == nb - 1:
            return ">" + str(start + (i - 2) * interval)
        return str(start + (i - 1) * interval)
    return _render(buckets, low, high, val_space, label, elision)
