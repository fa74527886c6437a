"""Statistics aggregates (`x <<< v`) with stap's integer arithmetic.

SystemTap keeps, per CPU, count/sum/min/max plus a Welford running mean
and M2 in fixed point (`<< bit_shift`) for @variance, and merges CPUs with
the "total variance" formula.  @avg is sum / count (C division, truncating
toward zero).  Our Stat keeps the same per-CPU partials so merged results
equal stap's; a Stat filled from BPF maps (which only know count, sum,
min, max, sumsq) falls back to the exact formula over sumsq.

Bucket rules (shared with the BPF C side, which must mirror them):
- log: 128 buckets; 0 -> 64; v > 0 -> 64 + bit_length(v); v < 0 ->
  64 - bit_length(-v); clamped to 0..127;
- linear(start, stop, interval): (stop - start) // interval + 3 buckets;
  v < start -> 0; else (v - start) // interval + 1, capped at the last.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

LOG_BUCKETS = 128
LOG_BUCKET0 = 64
MAX_LINEAR_BUCKETS = 128      # stap's STP_MAX_BUCKETS default

_MASK64 = (1 << 64) - 1


def _s64(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def cdiv(x: int, y: int) -> int:
    """C (truncating) 64-bit division; y == 0 gives 0 like _stp_div64."""
    if y == 0:
        return 0
    q = abs(x) // abs(y)
    return _s64(q if (x >= 0) == (y >= 0) else -q)


def cmod(x: int, y: int) -> int:
    if y == 0:
        return 0
    return _s64(x - cdiv(x, y) * y)


def log_bucket(v: int) -> int:
    if v == 0:
        return LOG_BUCKET0
    if v > 0:
        n = LOG_BUCKET0 + v.bit_length()
    else:
        n = LOG_BUCKET0 - (-v).bit_length()
    return max(0, min(LOG_BUCKETS - 1, n))


def log_bucket_value(n: int) -> int:
    """The label of log bucket n (the smallest magnitude it holds)."""
    if n == LOG_BUCKET0:
        return 0
    if n < LOG_BUCKET0:
        return -(1 << (LOG_BUCKET0 - 1 - n))
    return 1 << (n - LOG_BUCKET0 - 1)


def linear_bucket_count(start: int, stop: int, interval: int) -> int:
    return cdiv(stop - start, interval) + 3


def linear_bucket(v: int, start: int, stop: int, interval: int) -> int:
    buckets = linear_bucket_count(start, stop, interval)
    off = v - start
    n = 0 if off < 0 else off // interval + 1
    return min(n, buckets - 1)


@dataclass
class _Part:
    """One CPU's Welford state, as stap keeps it (fixed point by shift)."""
    count: int = 0
    avg_s: int = 0
    m2: int = 0
    variance_s: int = 0


@dataclass
class Stat:
    count: int = 0
    sum: int = 0
    min: int = 0
    max: int = 0
    sumsq: int = 0
    log: List[int] = field(default_factory=lambda: [0] * LOG_BUCKETS)
    linear: Optional[List[int]] = None
    # (start, stop, interval) when this aggregate has a linear histogram
    linear_spec: Optional[tuple] = None
    # Welford partials, one per CPU merged in (empty for BPF-filled stats)
    parts: List[_Part] = field(default_factory=list)
    shift: int = 0

    @classmethod
    def with_linear(cls, start: int, stop: int, interval: int) -> "Stat":
        s = cls()
        s.linear_spec = (start, stop, interval)
        s.linear = [0] * linear_bucket_count(start, stop, interval)
        return s

    def add(self, v: int) -> None:
        v = _s64(v)
        if self.count == 0:
            self.min = self.max = v
        else:
            self.min = min(self.min, v)
            self.max = max(self.max, v)
        self.count += 1
        self.sum = _s64(self.sum + v)
        self.sumsq += v * v
        self.log[log_bucket(v)] += 1
        if self.linear is not None:
            self.linear[linear_bucket(v, *self.linear_spec)] += 1
        if not self.parts:
            self.parts.append(_Part())
        self._welford(self.parts[0], v)

    def _welford(self, p: _Part, v: int) -> None:
        # Mirrors stap's per-CPU update, including its 32-bit `delta`.
        vs = _s64(v << self.shift)
        if p.count == 0:
            p.count = 1
            p.avg_s = vs
            p.m2 = 0
            return
        p.count += 1
        delta = _s32(vs - p.avg_s)
        p.avg_s = _s64(p.avg_s + cdiv(delta, p.count))
        p.m2 = _s64(p.m2 + delta * (vs - p.avg_s))
        p.variance_s = -1 if p.count < 2 else cdiv(p.m2, p.count - 1)

    def merge(self, other: "Stat") -> None:
        """Fold another CPU's (or map element's) aggregate into this one."""
        if other.count == 0:
            return
        if self.count == 0:
            self.min, self.max = other.min, other.max
        else:
            self.min = min(self.min, other.min)
            self.max = max(self.max, other.max)
        self.count += other.count
        self.sum = _s64(self.sum + other.sum)
        self.sumsq += other.sumsq
        for i, c in enumerate(other.log):
            self.log[i] += c
        if other.linear is not None:
            if self.linear is None:
                self.linear_spec = other.linear_spec
                self.linear = [0] * len(other.linear)
            for i, c in enumerate(other.linear):
                self.linear[i] += c
        self.parts.extend(_Part(**vars(p)) for p in other.parts)

    def avg(self) -> int:
        return cdiv(self.sum, self.count)

    def variance(self, shift: int = 0) -> int:
        """stap's @variance(s [, shift]): integer total variance over the
        per-CPU Welford partials."""
        if self.count == 0:
            return 0
        if not self.parts or sum(p.count for p in self.parts) != self.count \
                or shift != self.shift:
            return self._variance_from_sums(shift)
        agg_avg_s = cdiv(_s64(self.sum << self.shift), self.count)
        s1 = s2 = 0
        for p in self.parts:
            if p.count:
                d = p.avg_s - agg_avg_s
                s1 = _s64(s1 + p.count * d * d)
                s2 = _s64(s2 + (p.count - 1) * p.variance_s)
        return cdiv(_s64(s1 + s2), self.count - 1) >> (2 * self.shift)

    def _variance_from_sums(self, shift: int) -> int:
        # Exact sample variance from sum and sum of squares (BPF-filled).
        if self.count < 2:
            return 0
        num = (self.sumsq << (2 * shift)) - cdiv((self.sum << shift) ** 2, self.count)
        return cdiv(num, self.count - 1) >> (2 * shift)

    def is_empty(self) -> bool:
        return self.count == 0
