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


def all_prog_stats():
    """{prog name: (run_time_ns, run_cnt)} of every loaded BPF program."""
    lib = ctypes.CDLL("libbpf.so.1")
    out = {}
    pid = ctypes.c_uint32(0)
    while lib.bpf_prog_get_next_id(pid, ctypes.byref(pid)) == 0:
        fd = lib.bpf_prog_get_fd_by_id(pid)
        if fd < 0:
            continue
        try:
            info = ctypes.create_string_buffer(256)
            n = ctypes.c_uint32(256)
            if lib.bpf_obj_get_info_by_fd(fd, info, ctypes.byref(n)) == 0:
                name = info.raw[64:80].split(b"\0")[0].decode()
                out[name] = (int.from_bytes(info.raw[192:200], "little"),
                             int.from_bytes(info.raw[200:208], "little"))
        finally:
            os.close(fd)
    return out


def start_bpftrace():
    import shutil
    import subprocess
    exe = shutil.which("bpftrace")
    if not exe:
        return None
    p = subprocess.Popen([exe, "-e", "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    return p


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    from bcc import BPF
    from bcc.libbcc import lib
    from pytap.codegen import generate
    from pytap.elaborate import elaborate_source
    from pytap.options import Options
    opts = Options()
    prog = generate(elaborate_source(SCRIPT, options=opts), opts)
    # The first program on the event pays the cache misses the later ones
    # are spared; run twice with the order swapped and average.
    ours_first = os.environ.get("PYTAP_BENCH_ORDER", "hand-first") == "ours-first"
    if not ours_first:
        hand = BPF(text=HAND.encode())      # auto-attached by BCC (name prefix)
        fn2 = hand.load_func(b"raw_tracepoint__sys_enter", BPF.RAW_TRACEPOINT)
    ours = BPF(text=prog.c_source.encode())
    fn = ours.load_func(prog.attach_groups[0][0].encode(), BPF.RAW_TRACEPOINT)
    st = ours["pytap_state"]
    st[st.Key(0)] = st.Leaf(0)
    fd1 = lib.bpf_attach_raw_tracepoint(fn.fd, b"sys_enter")
    if ours_first:
        hand = BPF(text=HAND.encode())
        fn2 = hand.load_func(b"raw_tracepoint__sys_enter", BPF.RAW_TRACEPOINT)
    bt = start_bpftrace()
    before = all_prog_stats()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    try:
        t0 = time.time()
        while time.time() - t0 < seconds:
            for _ in range(2000):
                os.getppid()
        a = prog_stats(fn.fd)
        b = prog_stats(fn2.fd)
        after = all_prog_stats()
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("0")
        os.close(fd1)
    rows = [("pytap", a), ("hand-written BCC", b)]
    if bt is not None:
        bt.terminate()
        bt.wait()
        for name, (ns, cnt) in after.items():
            if "sys_enter" in name and name not in ("raw_tracepoint__sys_enter", "pytap_h0"):
                ns0, cnt0 = before.get(name, (0, 0))
                if cnt - cnt0 > 0:
                    rows.append((f"bpftrace ({name})", (ns - ns0, cnt - cnt0)))
    for name, (ns, cnt) in rows:
        print(f"{name:34s} {cnt:10d} events  {ns / max(cnt, 1):7.1f} ns/event")
    print(f"ratio pytap/hand: {(a[0] / max(a[1], 1)) / max(b[0] / max(b[1], 1), 1e-9):.2f}")


if __name__ == "__main__":
    main()
