"""Shared benchmark machinery: start a tracer, wait until it is attached, run
a workload, stop it, measure its peak RSS; medians and markdown tables.

Nothing here asserts timings: a tracer that fails is reported as "n/a" with
the reason, so the benchmarks run while pytap is incomplete.

`python bench/common.py bcc-ref comm|pidcomm` is the hand-written BCC
reference tracer (per-key atomic increment in a hash map on every syscall).
"""
from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
VENV_PY = REPO / ".venv" / "bin" / "python"
PYTAP = [str(REPO / ".venv" / "bin" / "pytap")]
PYTHON = str(VENV_PY) if VENV_PY.exists() else sys.executable
READY = "ready"          # the line each tracer prints once its begin runs


def median(xs):
    return statistics.median(xs) if xs else None


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None


def fmt(x, unit="", digits=1):
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def markdown_table(header: List[str], rows: List[List[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------- tracers

@dataclass
class Tracer:
    """A tracer command line; `ready` decides when it is attached."""
    name: str
    argv: List[str]
    # The tracer prints READY from its begin/BEGIN probe; we also wait for
    # its BPF program to be attached (a perf-event or bpf-link fd).
    needs_attach_fd: bool = True
    unavailable: Optional[str] = None   # set when it cannot run at all


@dataclass
class Running:
    tracer: Tracer
    proc: subprocess.Popen
    out_path: str
    err_path: str
    peak_rss_kb: Optional[int] = None
    error: Optional[str] = None


def _fd_kinds(pid: int) -> List[str]:
    kinds = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                kinds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass
    except OSError:
        pass
    return kinds


def _attached(pid: int) -> bool:
    kinds = _fd_kinds(pid)
    has_prog = any("bpf-prog" in k for k in kinds)
    has_hook = any("perf_event" in k or "bpf_link" in k or "bpf-link" in k for k in kinds)
    return has_prog and has_hook


def _tail(path: str, n: int = 3) -> str:
    try:
        lines = [l for l in Path(path).read_text(errors="replace").splitlines() if l.strip()]
    except OSError:
        return ""
    return " / ".join(lines[-n:])


def vm_hwm_kb(pid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def start(tracer: Tracer, timeout: float = 120.0) -> Running:
    """Start the tracer and return once it is attached (or failed)."""
    out = tempfile.NamedTemporaryFile(prefix="bench-out-", delete=False)
    err = tempfile.NamedTemporaryFile(prefix="bench-err-", delete=False)
    proc = subprocess.Popen(tracer.argv, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=err, start_new_session=True)
    run = Running(tracer, proc, out.name, err.name)
    out.close(), err.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            run.error = f"exited {proc.returncode}: {_tail(err.name) or _tail(out.name)}"
            return run
        printed = READY in Path(out.name).read_text(errors="replace")
        if printed and (not tracer.needs_attach_fd or _attached(proc.pid)):
            time.sleep(0.5)          # let every probe finish attaching
            return run
        time.sleep(0.05)
    run.error = f"not attached after {timeout:.0f}s: {_tail(err.name)}"
    stop(run)
    run.error = run.error or "timeout"
    return run


def stop(run: Running) -> None:
    """SIGINT (like Ctrl-C, so exit handlers run), then SIGKILL if stuck."""
    if run.proc.poll() is None:
        run.peak_rss_kb = vm_hwm_kb(run.proc.pid)
        try:
            os.killpg(run.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            run.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait()
    for p in (run.out_path, run.err_path):
        try:
            os.unlink(p)
        except OSError:
            pass


# ---------------------------------------------------------------- workload

def build_getppid_loop() -> Optional[str]:
    """Compile bench/getppid_loop.c once (into /tmp); None if no gcc."""
    src = BENCH_DIR / "getppid_loop.c"
    exe = Path(tempfile.gettempdir()) / "pytap-bench-getppid_loop"
    if exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime:
        return str(exe)
    if not have("gcc"):
        return None
    r = subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        return None
    return str(exe)


def _pin_to_last_cpu():
    # One CPU for every loop run: no migrations, the same cache each time.
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[-1]})


def ns_per_syscall(exe: str, iterations: int, reps: int) -> Optional[float]:
    """Median ns/call of `reps` runs of the getppid loop."""
    values = []
    for _ in range(reps):
        r = subprocess.run([exe, str(iterations)], capture_output=True, text=True,
                           preexec_fn=_pin_to_last_cpu)
        if r.returncode != 0:
            return None
        values.append(float(r.stdout.split()[0]))
    return median(values)


@dataclass
class OverheadRow:
    name: str
    ns: Optional[float] = None
    added: Optional[float] = None
    peak_rss_kb: Optional[int] = None
    note: str = ""


def measure_overhead(tracers: List[Tracer], iterations: int, reps: int,
                     rounds: int = 3) -> List[OverheadRow]:
    """ns/syscall with no tracer, then with each tracer attached in turn.

    The machine's background load drifts, so each tracer's added cost is
    taken against the mean of the untraced medians measured right before
    and right after it (a paired baseline), and the whole sequence is
    repeated `rounds` times; the table shows medians over rounds."""
    exe = build_getppid_loop()
    if exe is None:
        return [OverheadRow("(no tracer)", note="gcc missing: cannot build getppid_loop")]
    ns_per_syscall(exe, iterations // 10 or 1, 1)       # warm up
    baselines: List[float] = []
    traced = {t.name: [] for t in tracers}
    added = {t.name: [] for t in tracers}
    rss = {t.name: [] for t in tracers}
    notes = {t.name: t.unavailable or "" for t in tracers}
    before = ns_per_syscall(exe, iterations, reps)
    baselines.append(before)
    for _ in range(max(1, rounds)):
        for t in tracers:
            if notes[t.name]:
                continue                   # unavailable, or failed once already
            run = start(t)
            ns = None
            if run.error:
                notes[t.name] = run.error[:160]
            else:
                ns = ns_per_syscall(exe, iterations, reps)
                run.peak_rss_kb = vm_hwm_kb(run.proc.pid)
            stop(run)
            if run.peak_rss_kb:
                rss[t.name].append(run.peak_rss_kb)
            after = ns_per_syscall(exe, iterations, reps)
            baselines.append(after)
            if ns is not None and before is not None and after is not None:
                traced[t.name].append(ns)
                added[t.name].append(ns - (before + after) / 2)
            before = after
    rows = [OverheadRow("(no tracer)", ns=median([b for b in baselines if b is not None]),
                        added=0.0, note="untraced runs between tracers")]
    for t in tracers:
        rows.append(OverheadRow(t.name, ns=median(traced[t.name]), added=median(added[t.name]),
                                peak_rss_kb=max(rss[t.name]) if rss[t.name] else None,
                                note=notes[t.name]))
    return rows


def overhead_table(rows: List[OverheadRow], ref: str, goal: Optional[float] = None) -> str:
    """Table with added ns/syscall and ratios to the tracer named `ref`."""
    by = {r.name: r for r in rows}
    ref_added = by[ref].added if ref in by else None
    out = []
    for r in rows:
        out.append([r.name, fmt(r.ns), fmt(r.added),
                    ratio(r.added, ref_added) if r.name != "(no tracer)" else "",
                    f"{r.peak_rss_kb / 1024:.1f}" if r.peak_rss_kb else "n/a",
                    r.note])
    return markdown_table(["tracer", "ns/syscall", "added ns/syscall",
                           f"added vs {ref}", "peak RSS MiB", "note"], out)


def bpftrace_tracer(name: str, program: str) -> Tracer:
    if not have("bpftrace"):
        return Tracer(name, [], unavailable="bpftrace not installed")
    return Tracer(name, ["bpftrace", "-e", 'BEGIN { printf("%s\\n", "' + READY + '"); } ' + program])


def pytap_tracer(name: str, script: str) -> Tracer:
    if not Path(PYTAP[0]).exists():
        return Tracer(name, [], unavailable="pytap not installed: ./dev.sh setup")
    return Tracer(name, PYTAP + ["-e", 'probe begin { printf("' + READY + '\\n") } ' + script])


def bcc_ref_tracer(name: str, key: str) -> Tracer:
    return Tracer(name, [PYTHON, str(BENCH_DIR / "common.py"), "bcc-ref", key])


def overhead_main(argv, doc: str, title: str, tracers: List[Tracer], footer: str = "") -> int:
    """Command line shared by the per-syscall benchmarks: measure every
    tracer against the untraced loop and print one markdown table."""
    import argparse
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("-n", "--iterations", type=int, default=1_000_000)
    ap.add_argument("-r", "--reps", type=int, default=5, help="loop runs per measurement")
    ap.add_argument("-R", "--rounds", type=int, default=3, help="tracer start/stop rounds")
    a = ap.parse_args(argv)
    rows = measure_overhead(tracers, a.iterations, a.reps, a.rounds)
    print(f"### {title} "
          f"(getppid loop, {a.iterations} calls; median of {a.reps} runs, median of {a.rounds} rounds)\n")
    print(overhead_table(rows, ref="bpftrace"))
    print(f"\n{footer}\n" if footer else "")
    return 0


# ---------------------------------------------------------------- BCC reference

BCC_REF = {
    # Keyed by comm only.
    "comm": r"""
struct key_t { char comm[16]; };
BPF_HASH(counts, struct key_t, u64, 10240);
TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
    struct key_t k = {};
    bpf_get_current_comm(&k.comm, sizeof(k.comm));
    u64 zero = 0, *v = counts.lookup_or_try_init(&k, &zero);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}
""",
    # Keyed by (pid, comm): the map-heavy case.
    "pidcomm": r"""
struct key_t { u32 pid; char comm[16]; };
BPF_HASH(counts, struct key_t, u64, 10240);
TRACEPOINT_PROBE(raw_syscalls, sys_enter) {
    struct key_t k = {};
    k.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&k.comm, sizeof(k.comm));
    u64 zero = 0, *v = counts.lookup_or_try_init(&k, &zero);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}
""",
}


def bcc_ref_main(key: str) -> int:
    from bcc import BPF
    b = BPF(text=BCC_REF[key].encode())      # TRACEPOINT_PROBE attaches itself
    print(READY, flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    print(f"{len(b[b'counts'])} keys", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "bcc-ref" and sys.argv[2] in BCC_REF:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        sys.exit(bcc_ref_main(sys.argv[2]))
    sys.stderr.write("usage: common.py bcc-ref comm|pidcomm\n")
    sys.exit(2)
