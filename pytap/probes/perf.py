"""perf.type(T).config(C)[.sample(N) | .hz(F)][.process[("path")]],
perf.sw.<event>[.sample(N)|.hz(F)], perf.hw.<event>[...],
perf.hw_cache.<cache>.<op>.<access|miss>[...].

perf.sw.* / perf.hw.* are stap tapset aliases onto perf.type(T).config(C);
we match them natively too (an alias in the tapsets wins, being expanded
first) and, like stap, print every one as perf.type(T).config(C).sample(N)
(N defaults to 1000000; a .hz(F) point prints as .sample(F) too, as stap
does, with spec["freq"] set).

spec (family "perf"): {"type": T, "config": C, "period": N, "freq": bool,
"all_cpus": True, "process": None | "" (the -c/-x target) | "/path"}.
Attach: one perf event per online cpu (or per target process when
"process" is set and a target pid is given), program type "perf_event".
"""
from __future__ import annotations

from ..diagnostics import StapError
from .core import ResolvedPoint, arg_desc, make_point

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
SW_CPU_CLOCK = 0
DEFAULT_SAMPLE = 1000000

HW_EVENTS = {"cpu_cycles": 0, "instructions": 1, "cache_references": 2, "cache_misses": 3,
             "branch_instructions": 4, "branch_misses": 5, "bus_cycles": 6,
             "stalled_cycles_frontend": 7, "stalled_cycles_backend": 8, "ref_cpu_cycles": 9}
SW_EVENTS = {"cpu_clock": 0, "task_clock": 1, "page_faults": 2, "context_switches": 3,
             "cpu_migrations": 4, "page_faults_min": 5, "page_faults_maj": 6,
             "alignment_faults": 7, "emulation_faults": 8}


PERF_TYPE_HW_CACHE = 3
# perf.hw_cache.<cache>.<op>.<result>: config = cache | op << 8 | result << 16
HW_CACHES = {"l1d": (0, ("read", "write", "prefetch")), "l1i": (1, ("read", "prefetch")),
             "ll": (2, ("read", "write", "prefetch")), "dtlb": (3, ("read", "write", "prefetch")),
             "itlb": (4, ("read",)), "bpu": (5, ("read",)), "node": (6, ("read", "write"))}
CACHE_OPS = {"read": 0, "write": 1, "prefetch": 2}
CACHE_RESULTS = {"access": 0, "miss": 1}


def build_perf(point, ptype, config, period, freq=False, process=None, counter=None):
    if counter is not None:
        period = 0          # a counting event: stap prints .sample(0)
    comps = [("perf", None), ("type", ptype), ("config", config), ("sample", period)]
    if process is not None:
        comps.append(("process", process) if process else ("process", None))
    if counter is not None:
        comps.append(("counter", counter))
    spec = {"type": ptype, "config": config, "period": period, "freq": freq,
            "all_cpus": True, "process": process, "counter": counter}
    return [ResolvedPoint("perf", make_point(point, comps), spec)]


def _suffix(concrete, point, start):
    """Read .sample(N)/.hz(F)/.process[(p)] from concrete[start:]."""
    period, freq, process = DEFAULT_SAMPLE, False, None
    for i, (functor, value) in enumerate(concrete[start:], start):
        if functor == "counter":
            continue            # _counter() reads it
        if functor == "sample":
            if value <= 0:
                c = point.components[i]
                raise StapError(f"invalid perf sample period {value}", c.arg.loc if c.arg else c.loc,
                                arg_desc(c))
            period = value
        elif functor == "hz":
            period, freq = value, True
        elif functor == "process":
            process = value if value is not None else ""
    return period, freq, process


UNSPECIFIED = "unspecified process probe is invalid without a -c COMMAND [man stapprobes]"


def _check_process(process, platform):
    if process == "" and not getattr(platform, "target_cmd", None):
        raise StapError(UNSPECIFIED)


def _build_type(concrete, point, platform):
    period, freq, process = _suffix(concrete, point, 3)
    _check_process(process, platform)
    return build_perf(point, concrete[1][1], concrete[2][1], period, freq, process, _counter(concrete))


def _alias_expansion(point, ptype, config, concrete, start):
    """What stap's perf tapset alias turns the point into:
    perf.type(T).config(C) followed by the suffixes as written."""
    from .core import make_point as mk
    return mk(point, [("perf", None), ("type", ptype), ("config", config)] + list(concrete[start:]))


def _build_cache(concrete, point, platform):
    cache, op, result = (concrete[i][0] for i in (2, 3, 4))
    config = HW_CACHES[cache][0] | CACHE_OPS[op] << 8 | CACHE_RESULTS[result] << 16
    period, freq, process = _suffix(concrete, point, 5)
    _check_process(process, platform)
    rps = build_perf(point, PERF_TYPE_HW_CACHE, config, period, freq, process, _counter(concrete))
    rps[0].derivation_point = _alias_expansion(point, PERF_TYPE_HW_CACHE, config, concrete, 5)
    return rps


def _build_named(table, ptype):
    def build(concrete, point, platform):
        period, freq, process = _suffix(concrete, point, 3)
        _check_process(process, platform)
        config = table[concrete[2][0]]
        rps = build_perf(point, ptype, config, period, freq, process, _counter(concrete))
        rps[0].derivation_point = _alias_expansion(point, ptype, config, concrete, 3)
        return rps
    return build


def _counter(concrete):
    """The name of a .counter("NAME") point (a counting event that @perf
    reads in the process's uprobes; man stapprobes, PERF), else None."""
    return next((v for f, v in concrete if f == "counter"), None)


_TAILS = ["", ".sample(number)", ".hz(number)", ".process", ".process(string)",
          ".counter(string)", ".process.counter(string)", ".process(string).counter(string)"]

PATTERNS = [("perf.type(number).config(number)" + t, _build_type) for t in _TAILS]
for _name in HW_EVENTS:
    PATTERNS += [(f"perf.hw.{_name}" + t, _build_named(HW_EVENTS, PERF_TYPE_HARDWARE)) for t in _TAILS]
for _cache, (_id, _ops) in HW_CACHES.items():
    for _op in _ops:
        for _res in CACHE_RESULTS:
            PATTERNS += [(f"perf.hw_cache.{_cache}.{_op}.{_res}" + t, _build_cache) for t in _TAILS]
for _name in SW_EVENTS:
    PATTERNS += [(f"perf.sw.{_name}" + t, _build_named(SW_EVENTS, PERF_TYPE_SOFTWARE)) for t in _TAILS]


def program_type(rp):
    return "perf_event"


def attach_perf(bpf, fn_name, ev_type, ev_config, period, freq, all_cpus=True, pid=-1):
    """Open perf events ourselves (not BPF.attach_perf_event, which keys its
    bookkeeping by (type, config) so two timers of the same kind would
    collide).  Returns the detach function that closes them."""
    # no `import bcc` here: a cached object (runtime/objcache.py) attaches
    # through syscalls; 7 = BPF_PROG_TYPE_PERF_EVENT (bcc's BPF.PERF_EVENT)
    from ..runtime.attachsys import lib_for, online_cpus as get_online_cpus
    lib = lib_for(bpf)
    fn = bpf.load_func(fn_name.encode() if isinstance(fn_name, str) else fn_name, 7)
    cpus = get_online_cpus() if (all_cpus or pid > 0) else [0]
    if pid > 0:
        cpus = [-1]
    fds = []
    try:
        for cpu in cpus:
            fd = lib.bpf_attach_perf_event(fn.fd, ev_type, ev_config,
                                           0 if freq else period, period if freq else 0,
                                           pid, cpu, -1)
            if fd < 0:
                raise StapError(f"ERROR: cannot open perf event type {ev_type} config {ev_config}"
                                f" on cpu {cpu} for {fn_name}", kind="")
            fds.append(fd)
    except Exception:
        for fd in fds:
            lib.bpf_close_perf_event_fd(fd)
        raise

    def detach():
        while fds:
            lib.bpf_close_perf_event_fd(fds.pop())
    return detach


def attach_counter(bpf, rp, target_pid=None):
    """perf.*.counter("NAME"): a counting event (no samples, no program)
    whose fd goes in every slot of @perf's map (codegen/perfcounters.py):
    one event on the -c/-x target when the point names a process and
    there is a target, else one event per CPU."""
    import ctypes as ct
    from ..codegen.perfcounters import map_name
    from ..runtime import bpfsys
    from ..runtime.attachsys import _perf_open, online_cpus
    s = rp.spec
    try:
        table = bpf[map_name(s["counter"])]
    except Exception:
        return lambda: None                 # no @perf reads it
    ncpu = table.max_entries if hasattr(table, "max_entries") else bpfsys.possible_cpus()
    fds = {}
    try:
        if s.get("process") is not None and target_pid:
            fd = _perf_open(s["type"], s["config"], 0, 0, 0, 0, int(target_pid), -1, -1)
            if fd < 0:
                raise StapError(f"ERROR: cannot open perf counter '{s['counter']}' (type {s['type']} "
                                f"config {s['config']}) for pid {target_pid}", kind="")
            fds = {cpu: fd for cpu in range(ncpu)}
        else:
            for cpu in online_cpus():
                fd = _perf_open(s["type"], s["config"], 0, 0, 0, 0, -1, cpu, -1)
                if fd < 0:
                    raise StapError(f"ERROR: cannot open perf counter '{s['counter']}' (type "
                                    f"{s['type']} config {s['config']}) on cpu {cpu}", kind="")
                fds[cpu] = fd
        for cpu, fd in fds.items():
            bpfsys.update(table.map_fd, ct.c_int(cpu), ct.c_uint32(fd))
    except Exception:
        _close(set(fds.values()))
        raise

    def detach():
        _close(set(fds.values()))
        fds.clear()
    return detach


def _close(fds):
    import os
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def attach(bpf, fn_name, rp, target_pid=None):
    s = rp.spec
    if s.get("counter") is not None:
        return attach_counter(bpf, rp, target_pid)
    pid = -1
    if s.get("process") is not None and target_pid:
        pid = int(target_pid)
    return attach_perf(bpf, fn_name, s["type"], s["config"], s["period"], s.get("freq", False),
                       all_cpus=True, pid=pid)
