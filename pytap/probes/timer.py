"""timer.{s,sec,ms,msec,us,usec,ns,nsec}(N)[.randomize(M)], timer.hz(N),
timer.jiffies(N)[.randomize(M)], timer.profile.tick (refused, as stap does
on kernels without the profile timer hook), timer.profile.

spec (family "timer"):
    period_ns     the interval in nanoseconds
    randomize_ns  stap adds a linearly distributed random value in [-M, +M]
                  to each interval; a perf event has a fixed period, so we
                  approximate with the period N: the mean rate is stap's, the
                  jitter is not reproduced (M is kept here for whoever wants
                  to re-arm with jitter later)
    all_cpus      False: fires on ONE cpu (stap's timer.* semantics)
    unit, count   as written (for messages)

Attach: a SOFTWARE / CPU_CLOCK perf event with sample_period = period_ns
on cpu 0 (or on every online cpu), BPF program type "perf_event".

timer.profile is stap's alias that, on kernels without the profile timer
hook (all current ones), falls back to perf.sw.cpu_clock.sample(1000000);
stap prints it as perf.type(1).config(0).sample(1000000), so do we (family
"perf", see perf.py).
"""
from __future__ import annotations

from ..diagnostics import StapError
from .core import ResolvedPoint, make_point

NS = {"s": 10**9, "sec": 10**9, "ms": 10**6, "msec": 10**6,
      "us": 10**3, "usec": 10**3, "ns": 1, "nsec": 1}
# stap's accepted range per unit, as it reports it
RANGE = {"s": (1, 86400), "sec": (1, 86400), "ms": (1, 86400000), "msec": (1, 86400000),
         "us": (100, 86400000000), "usec": (100, 86400000000),
         "ns": (100000, 86400000000000), "nsec": (100000, 86400000000000)}
NS_RANGE = RANGE["ns"]
KERNEL_HZ = 250          # Debian's CONFIG_HZ; see Platform.kernel_hz when present
MAX_JIFFIES = 1000000


def _kernel_hz(platform) -> int:
    f = getattr(platform, "kernel_hz", None)
    try:
        return int(f()) if f else KERNEL_HZ
    except Exception:
        return KERNEL_HZ


def _build(concrete, point, platform):
    unit, count = concrete[1]
    rand = concrete[2][1] if len(concrete) > 2 else 0
    if unit == "hz":
        if count <= 0:
            raise StapError("frequency must be greater than 0", kind="semantic")
        period = 10**9 // count
        if not NS_RANGE[0] <= period <= NS_RANGE[1]:
            raise StapError("interval value out of range (%d, %d)" % NS_RANGE)
        rand_ns = 0
    elif unit == "jiffies":
        if count < 1 or count > MAX_JIFFIES:
            raise StapError("invalid interval for jiffies timer")
        if rand < 0 or rand > count:
            raise StapError("randomization value out of range")
        per = 10**9 // _kernel_hz(platform)
        period, rand_ns = count * per, rand * per
    else:
        lo, hi = RANGE[unit]
        if not lo <= count <= hi:
            raise StapError("interval value out of range (%d, %d)" % (lo, hi))
        if rand < 0 or rand > count:
            raise StapError("randomization value out of range")
        period, rand_ns = count * NS[unit], rand * NS[unit]
    spec = {"period_ns": period, "randomize_ns": rand_ns, "all_cpus": False,
            "unit": unit, "count": count}
    return [ResolvedPoint("timer", make_point(point, concrete), spec)]


def _build_tick(concrete, point, platform):
    # stap needs the kernel's profile timer hook, gone from current kernels;
    # it says so, and its timer.profile alias falls back to perf (see
    # above).  We answer the same so `timer.profile.tick!` aliases behave
    # as stap's do.
    raise StapError("profiling timer support (register_timer_hook) not found in kernel!")


def _build_profile(concrete, point, platform):
    from . import perf
    rps = perf.build_perf(point, 1, 0, 1000000, freq=False)
    rps[0].derivation_point = rps[0].point
    return rps


PATTERNS = []
for _u in list(NS) + ["jiffies"]:
    PATTERNS.append((f"timer.{_u}(number)", _build))
    PATTERNS.append((f"timer.{_u}(number).randomize(number)", _build))
PATTERNS += [("timer.hz(number)", _build),
             ("timer.profile.tick", _build_tick),
             ("timer.profile", _build_profile)]


def program_type(rp):
    return "perf_event"


def attach(bpf, fn_name, rp):
    from . import perf
    return perf.attach_perf(bpf, fn_name, perf.PERF_TYPE_SOFTWARE, perf.SW_CPU_CLOCK,
                            period=rp.spec["period_ns"], freq=0,
                            all_cpus=rp.spec.get("all_cpus", False))
