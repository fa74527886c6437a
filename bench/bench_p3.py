"""Per-event cost of generated BPF vs a hand-written BCC program.

    sudo .venv/bin/python bench/bench_p3.py [SECONDS]

Both programs are attached to raw_syscalls:sys_enter at the same time, the
kernel's BPF run-time statistics are switched on, a syscall-heavy load runs,
and we print ns/event for each (run_time_ns / run_cnt of each program).
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

SCRIPT = 'global c; probe kernel.trace("raw_syscalls:sys_enter") { c[execname()]++ }'

HAND = r"""
struct key_t { char comm[16]; };
BPF_HASH(counts, struct key_t, u64, 2048);
RAW_TRACEPOINT_PROBE(sys_enter) {
    struct key_t k = {};
    bpf_get_current_comm(k.comm, sizeof(k.comm));
    u64 *v = counts.lookup(&k);
    if (v) { __sync_fetch_and_add(v, 1); return 0; }
    u64 one = 1;
    counts.insert(&k, &one);
    return 0;
}
"""


def prog_stats(fd):
    info = ctypes.create_string_buffer(256)
    n = ctypes.c_uint32(256)
    lib = ctypes.CDLL("libbpf.so.1")
    rc = lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(n))
    if rc != 0:
        raise OSError(-rc, "bpf_obj_get_info_by_fd")
    run_ns = int.from_bytes(info.raw[192:200], "little")
    cnt = int.from_bytes(info.raw[200:208], "little")
    return run_ns, cnt


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    from bcc import BPF
    from bcc.libbcc import lib
    from pytap.codegen import generate
    from pytap.elaborate import elaborate_source
    from pytap.options import Options
    opts = Options()
    prog = generate(elaborate_source(SCRIPT, options=opts), opts)
    ours = BPF(text=prog.c_source.encode())
    fn = ours.load_func(prog.attach_groups[0][0].encode(), BPF.RAW_TRACEPOINT)
    st = ours["pytap_state"]
    st[st.Key(0)] = st.Leaf(0)
    fd1 = lib.bpf_attach_raw_tracepoint(fn.fd, b"sys_enter")
    hand = BPF(text=HAND.encode())
    fn2 = hand.load_func(b"raw_tracepoint__sys_enter", BPF.RAW_TRACEPOINT)
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    try:
        t0 = time.time()
        while time.time() - t0 < seconds:
            for _ in range(2000):
                os.getppid()
        a = prog_stats(fn.fd)
        b = prog_stats(fn2.fd)
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("0")
        os.close(fd1)
    for name, (ns, cnt) in (("pytap", a), ("hand-written BCC", b)):
        print(f"{name:18s} {cnt:10d} events  {ns / max(cnt, 1):7.1f} ns/event")
    print(f"ratio pytap/hand: {(a[0] / max(a[1], 1)) / max(b[0] / max(b[1], 1), 1e-9):.2f}")


if __name__ == "__main__":
    main()
