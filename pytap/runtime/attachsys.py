"""Attaching BPF programs without libbcc: perf events, tracepoints and raw
tracepoints through perf_event_open(2) / bpf(2) directly, with the same
call signatures as the libbcc functions pytap/probes uses.

Why: a warm run replays a cached object (runtime/objcache.py) and never
needs BCC; importing bcc (and dlopen'ing the 100 MB libbcc with its LLVM)
is then the largest single start-up cost left.  Uprobes still go to
libbcc (their probe-event bookkeeping is more than a syscall).

`lib_for(bpf)` is what probes call: our syscalls for a cached object,
libbcc's `lib` for a bcc.BPF.
"""
from __future__ import annotations

import ctypes as ct
import os
import platform
import struct

PERF_TYPE_TRACEPOINT = 2
PERF_SAMPLE_RAW = 1 << 10
PERF_FLAG_FD_CLOEXEC = 1 << 3
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408
BPF_RAW_TRACEPOINT_OPEN = 17
_ATTR_SIZE = 128          # PERF_ATTR_SIZE_VER7: every field we set is older

_SYS_PERF_EVENT_OPEN = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "ppc64le": 319,
                        "s390x": 331, "i686": 336}.get(platform.machine(), 298)

_libc = ct.CDLL(None, use_errno=True)
_libc.syscall.restype = ct.c_long
_libc.ioctl.restype = ct.c_int
_libc.ioctl.argtypes = [ct.c_int, ct.c_ulong, ct.c_ulong]


def online_cpus():
    """The online CPUs, as bcc.utils.get_online_cpus reads them."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            text = f.read().strip()
    except OSError:
        return list(range(os.cpu_count() or 1))
    cpus = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            cpus.extend(range(int(a), int(b) + 1))
        elif part:
            cpus.append(int(part))
    return cpus


def _perf_open(ev_type, config, period, freq, wakeup, sample_type, pid, cpu, group_fd,
               inherit=False):
    flags = 0
    if inherit:
        flags |= 1 << 1
    if freq:
        flags |= 1 << 10
    attr = (ct.c_ubyte * _ATTR_SIZE)()
    struct.pack_into("<IIQQQQQI", attr, 0, ev_type, _ATTR_SIZE, config,
                     freq if freq else period, sample_type, 0, flags, wakeup)
    return _libc.syscall(ct.c_long(_SYS_PERF_EVENT_OPEN), ct.byref(attr), ct.c_int(pid),
                         ct.c_int(cpu), ct.c_int(group_fd), ct.c_ulong(PERF_FLAG_FD_CLOEXEC))


def _arm(fd: int, prog_fd: int) -> int:
    """Hand the event our program and start it; -1 (event closed) on failure."""
    if _libc.ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0 \
            or _libc.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0:
        os.close(fd)
        return -1
    return fd


def _tracefs() -> str:
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(d, "events")):
            return d
    return "/sys/kernel/tracing"


class AttachLib:
    """The subset of libbcc's attach functions pytap/probes calls."""

    def bpf_attach_perf_event(self, prog_fd, ev_type, ev_config, sample_period,
                              sample_freq, pid, cpu, group_fd):
        fd = _perf_open(ev_type, ev_config, sample_period, sample_freq, 0, 0,
                        pid, cpu, group_fd, inherit=pid > 0)
        return _arm(fd, prog_fd) if fd >= 0 else -1

    def bpf_close_perf_event_fd(self, fd):
        if fd >= 0:
            _libc.ioctl(fd, PERF_EVENT_IOC_DISABLE, 0)
            try:
                os.close(fd)
            except OSError:
                pass
        return 0

    def bpf_attach_tracepoint(self, prog_fd, category, name):
        cat = category.decode() if isinstance(category, bytes) else category
        ev = name.decode() if isinstance(name, bytes) else name
        try:
            with open(os.path.join(_tracefs(), "events", cat, ev, "id")) as f:
                tp_id = int(f.read().strip())
        except (OSError, ValueError):
            return -1
        fd = _perf_open(PERF_TYPE_TRACEPOINT, tp_id, 1, 0, 1, PERF_SAMPLE_RAW, -1, 0, -1)
        return _arm(fd, prog_fd) if fd >= 0 else -1

    def bpf_attach_raw_tracepoint(self, prog_fd, name):
        from . import bpfsys
        tp = ct.create_string_buffer(name if isinstance(name, bytes) else name.encode())
        attr = (ct.c_ubyte * 128)()
        struct.pack_into("<QI", attr, 0, ct.addressof(tp), prog_fd)
        try:
            return bpfsys._call(BPF_RAW_TRACEPOINT_OPEN, attr)
        except bpfsys.BpfError:
            return -1

    def bpf_attach_uprobe(self, prog_fd, attach_type, ev_name, binary_path, offset, pid,
                          ref_ctr_offset=0):
        """Through the uprobe PMU (perf_event_open: config1 = path, config2 =
        offset, the retprobe format bit for returns), as libbcc does first;
        where there is no such PMU, libbcc's tracefs way."""
        pmu = _uprobe_pmu()
        if pmu is None:
            self._bcc_uprobes.add(ev_name)
            return _bcc_lib().bpf_attach_uprobe(prog_fd, attach_type, ev_name,
                                                binary_path, offset, pid)
        pmu_type, ret_bit = pmu
        path = ct.create_string_buffer(binary_path if isinstance(binary_path, bytes)
                                       else binary_path.encode())
        attr = (ct.c_ubyte * _ATTR_SIZE)()
        config = (1 << ret_bit) if attach_type else 0
        # the kernel's uprobe reference counter (an SDT semaphore): bits 32-63
        config |= (ref_ctr_offset & 0xFFFFFFFF) << 32
        struct.pack_into("<IIQQQQQII", attr, 0, pmu_type, _ATTR_SIZE, config, 1, 0, 0, 0, 1, 0)
        struct.pack_into("<QQ", attr, 56, ct.addressof(path), offset)
        fd = _libc.syscall(ct.c_long(_SYS_PERF_EVENT_OPEN), ct.byref(attr), ct.c_int(pid),
                           ct.c_int(0 if pid == -1 else -1), ct.c_int(-1),
                           ct.c_ulong(PERF_FLAG_FD_CLOEXEC))
        return _arm(fd, prog_fd) if fd >= 0 else -1

    def kprobe_open(self, prog_fd, is_return, symbol, offset=0):
        """A kprobe through the kprobe PMU (perf_event_open: config1 = the
        symbol, or 0 and config2 = an address; the retprobe format bit for
        returns): it disappears with its fd.  -errno on failure (-ENODEV:
        no such PMU, e.g. a kernel without CONFIG_KPROBES)."""
        pmu = _pmu("kprobe")
        if pmu is None:
            return -19
        pmu_type, ret_bit = pmu
        sym = symbol.decode() if isinstance(symbol, bytes) else symbol
        name = None
        if sym.startswith("0x"):
            config1, config2 = 0, int(sym, 16)
        else:
            name = ct.create_string_buffer(sym.encode())
            config1, config2 = ct.addressof(name), offset
        attr = (ct.c_ubyte * _ATTR_SIZE)()
        config = (1 << ret_bit) if is_return else 0
        struct.pack_into("<IIQQQQQII", attr, 0, pmu_type, _ATTR_SIZE, config, 1, 0, 0, 0, 1, 0)
        struct.pack_into("<QQ", attr, 56, config1, config2)
        fd = _libc.syscall(ct.c_long(_SYS_PERF_EVENT_OPEN), ct.byref(attr), ct.c_int(-1),
                           ct.c_int(0), ct.c_int(-1), ct.c_ulong(PERF_FLAG_FD_CLOEXEC))
        if fd < 0:
            return -(ct.get_errno() or 22)
        fd = _arm(fd, prog_fd)
        return fd if fd >= 0 else -22

    def bpf_detach_uprobe(self, ev_name):
        # a PMU uprobe disappears with its fd; only tracefs ones need removing
        if ev_name in self._bcc_uprobes:
            self._bcc_uprobes.discard(ev_name)
            return _bcc_lib().bpf_detach_uprobe(ev_name)
        return 0

    def __init__(self):
        self._bcc_uprobes = set()


_PMU = {}


def _uprobe_pmu():
    """(perf type of the uprobe PMU, bit of config that means return) or None."""
    return _pmu("uprobe")


def _pmu(kind: str):
    """(perf type of the uprobe/kprobe PMU, bit of config that means return) or None."""
    if kind not in _PMU:
        found = None
        try:
            base = f"/sys/bus/event_source/devices/{kind}"
            with open(base + "/type") as f:
                pmu_type = int(f.read().strip())
            with open(base + "/format/retprobe") as f:
                ret_bit = int(f.read().strip().split(":")[1])
            found = (pmu_type, ret_bit)
        except (OSError, ValueError, IndexError):
            pass
        _PMU[kind] = found
    return _PMU[kind]


def _bcc_lib():
    from .privileges import import_bcc
    import_bcc()                 # also fixes BCC 0.26's ctypes prototypes
    from bcc.libbcc import lib
    return lib


def lib_for(bpf):
    """The attach functions for this loaded object."""
    lib = getattr(bpf, "attach_lib", None)
    return lib if lib is not None else _bcc_lib()
