"""Harness check for the VM tier: plain BCC kprobes fire inside the VM.

If this fails, the VM (kernel, headers, BCC) is broken, not pytap.
"""
import os

import pytest

pytestmark = pytest.mark.vm

PROGRAM = rb"""
BPF_ARRAY(hits, u64, 2);
int on_entry(struct pt_regs *ctx) {
    int k = 0; u64 *v = hits.lookup(&k);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}
int on_return(struct pt_regs *ctx) {
    int k = 1; u64 *v = hits.lookup(&k);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}
"""


def test_kprobe_and_kretprobe_on_vfs_read_fire():
    from bcc import BPF
    b = BPF(text=PROGRAM)
    try:
        b.attach_kprobe(event=b"vfs_read", fn_name=b"on_entry")
        b.attach_kretprobe(event=b"vfs_read", fn_name=b"on_return")
        for _ in range(20):
            with open("/proc/self/stat", "rb") as f:
                f.read()
        hits = b[b"hits"]
        assert hits[0].value >= 20
        assert hits[1].value >= 20
    finally:
        b.cleanup()


def test_kernel_has_kprobes():
    # The VM's purpose: the host kernel lacks CONFIG_KPROBES.
    assert os.path.exists("/sys/kernel/debug/kprobes") or \
        os.path.exists("/sys/kernel/tracing/kprobe_events")
