"""The few bpf(2) commands a cached program needs, through ctypes and the
raw syscall (no libbcc, no libbpf): create a map, load a program, read a
map's attributes, and the element operations BpfTable uses.

Only what pytap's generated C uses is covered; the attribute layouts are
the kernel's stable `union bpf_attr` prefixes (include/uapi/linux/bpf.h).
"""
from __future__ import annotations

import ctypes as ct
import os
import platform
import struct

BPF_MAP_CREATE = 0
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_PROG_LOAD = 5
BPF_OBJ_GET_INFO_BY_FD = 15

BPF_ANY = 0
OBJ_NAME_LEN = 16

# map types whose user-space value is one slot per possible CPU
PERCPU_MAP_TYPES = {5, 6, 10}          # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH
ARRAY_MAP_TYPES = {2, 6}               # ARRAY, PERCPU_ARRAY
RINGBUF_MAP_TYPE = 27

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351,
            "riscv64": 280, "i686": 357, "armv7l": 386}.get(platform.machine(), 321)

_libc = ct.CDLL(None, use_errno=True)
_libc.syscall.restype = ct.c_long
_ATTR_SIZE = 128


class BpfError(OSError):
    pass


def _call(cmd: int, attr) -> int:
    ret = _libc.syscall(ct.c_long(_SYS_BPF), ct.c_long(cmd), ct.byref(attr),
                        ct.c_uint(ct.sizeof(attr)))
    if ret < 0:
        err = ct.get_errno()
        raise BpfError(err, os.strerror(err))
    return ret


def _attr(data: bytes):
    buf = (ct.c_ubyte * _ATTR_SIZE)()
    ct.memmove(buf, data, len(data))
    return buf


def obj_name(name: str) -> bytes:
    """What the kernel accepts as an object name: 15 chars of [A-Za-z0-9_.]."""
    out = bytes(c for c in name.encode()[: OBJ_NAME_LEN - 1]
                if chr(c).isalnum() or chr(c) in "_.")
    return out.ljust(OBJ_NAME_LEN, b"\0")


def map_create(map_type: int, key_size: int, value_size: int, max_entries: int,
               flags: int, name: str) -> int:
    data = struct.pack("<IIIIIII16s", map_type, key_size, value_size, max_entries,
                       flags, 0, 0, obj_name(name))
    return _call(BPF_MAP_CREATE, _attr(data))


def map_info(fd: int) -> dict:
    """bpf_map_info's leading fields: type, id, key/value size, max_entries, flags."""
    info = (ct.c_ubyte * 88)()
    data = struct.pack("<IIQ", fd, ct.sizeof(info), ct.addressof(info))
    _call(BPF_OBJ_GET_INFO_BY_FD, _attr(data))
    mtype, mid, ks, vs, mx, fl = struct.unpack_from("<IIIIII", bytes(info))
    return {"type": mtype, "key_size": ks, "value_size": vs, "max_entries": mx, "flags": fl}


def prog_load(prog_type: int, insns: bytes, license: str, kern_version: int,
              name: str, expected_attach_type: int = 0, log_size: int = 0):
    """-> (fd, verifier log text).  fd < 0 (with the log) when refused."""
    ibuf = ct.create_string_buffer(insns, len(insns))
    lic = ct.create_string_buffer(license.encode())
    log = ct.create_string_buffer(log_size) if log_size else None
    data = struct.pack("<IIQQIIQII16sII", prog_type, len(insns) // 8, ct.addressof(ibuf),
                       ct.addressof(lic), 1 if log_size else 0, log_size,
                       ct.addressof(log) if log is not None else 0, kern_version, 0,
                       obj_name(name), 0, expected_attach_type)
    try:
        fd = _call(BPF_PROG_LOAD, _attr(data))
    except BpfError as e:
        text = log.value.decode("utf-8", "replace") if log is not None else ""
        return -(e.errno or 1), text
    return fd, ""


def _elem(cmd: int, fd: int, key, value=None, flags: int = 0) -> int:
    kp = ct.addressof(key) if key is not None else 0
    vp = ct.addressof(value) if value is not None else 0
    data = struct.pack("<IIQQQ", fd, 0, kp, vp, flags)
    return _call(cmd, _attr(data))


def lookup(fd, key, value) -> bool:
    try:
        _elem(BPF_MAP_LOOKUP_ELEM, fd, key, value)
        return True
    except BpfError:
        return False


def update(fd, key, value, flags=BPF_ANY) -> None:
    _elem(BPF_MAP_UPDATE_ELEM, fd, key, value, flags)


def delete(fd, key) -> bool:
    try:
        _elem(BPF_MAP_DELETE_ELEM, fd, key)
        return True
    except BpfError:
        return False


def next_key(fd, key, next_out) -> bool:
    """False at the end of the map."""
    try:
        _elem(BPF_MAP_GET_NEXT_KEY, fd, key, next_out)
        return True
    except BpfError:
        return False


def possible_cpus() -> int:
    """Per-CPU maps hold one value per POSSIBLE cpu (kernel's num_possible_cpus)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            text = f.read().strip()
    except OSError:
        return os.cpu_count() or 1
    n = 0
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            n = max(n, int(b) + 1)
        elif part:
            n = max(n, int(part) + 1)
    return n or 1
