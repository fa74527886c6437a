"""Reading kernel memory from user space, for handlers the interpreter runs.

A handler with a foreach runs in user space, yet may call kernel_string()
on an address a BPF handler stored (interrupts-by-dev keys an array by the
device name's address).  User space has no view of kernel memory here (no
/proc/kcore), so a tiny raw-tracepoint program does the copy: user space
runs it with BPF_PROG_TEST_RUN, its ctx being (address, size, mode), and it
leaves the helper's result and the bytes in a one-element array map.
The program is assembled here (no compiler: a handful of instructions).
"""
from __future__ import annotations

import ctypes as ct
import struct
from typing import Optional

from . import bpfsys

BUF = 4096                      # bytes one read may return
_PROG_RAW_TRACEPOINT = 17
_BPF_PROG_TEST_RUN = 10
_MAP_ARRAY = 2
_HELPER_MAP_LOOKUP = 1
_HELPER_PROBE_READ_KERNEL = 113
_HELPER_PROBE_READ_KERNEL_STR = 115


def _insn(code, dst=0, src=0, off=0, imm=0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _program(map_fd: int) -> bytes:
    i = [
        _insn(0xbf, 6, 1),                      # r6 = ctx (u64 args[3])
        _insn(0x79, 7, 6, 0),                   # r7 = address
        _insn(0x79, 8, 6, 8),                   # r8 = size
        _insn(0x79, 9, 6, 16),                  # r9 = mode: 0 string, 1 bytes
        _insn(0x62, 10, 0, -4, 0),              # *(u32 *)(fp - 4) = 0: the key
        _insn(0xbf, 2, 10),                     # r2 = fp
        _insn(0x07, 2, 0, 0, -4),               # r2 -= 4
        _insn(0x18, 1, 1, 0, map_fd),           # r1 = map (ld_imm64, pseudo map fd)
        _insn(0x00),
        _insn(0x85, imm=_HELPER_MAP_LOOKUP),    # r0 = lookup(map, &key)
        _insn(0x15, 0, 0, 11, 0),               # if r0 == 0 goto out
        _insn(0xbf, 6, 0),                      # r6 = value
        _insn(0xbf, 1, 6),                      # r1 = value + 8: the bytes
        _insn(0x07, 1, 0, 0, 8),
        _insn(0xbf, 2, 8),                      # r2 = size & (BUF - 1)
        _insn(0x57, 2, 0, 0, BUF - 1),
        _insn(0xbf, 3, 7),                      # r3 = address
        _insn(0x55, 9, 0, 2, 0),                # if mode != 0 goto bytes
        _insn(0x85, imm=_HELPER_PROBE_READ_KERNEL_STR),
        _insn(0x05, off=1),
        _insn(0x85, imm=_HELPER_PROBE_READ_KERNEL),   # bytes:
        _insn(0x7b, 6, 0, 0),                   # *(u64 *)value = helper's result
        _insn(0xb7, 0, 0, 0, 0),                # out: return 0
        _insn(0x95),
    ]
    return b"".join(i)


class _Reader:
    def __init__(self):
        self.map_fd = bpfsys.map_create(_MAP_ARRAY, 4, 8 + BUF, 1, 0, "pytap_kmem")
        fd, log = bpfsys.prog_load(_PROG_RAW_TRACEPOINT, _program(self.map_fd), "GPL", 0,
                                   "pytap_kmem", log_size=0)
        if fd < 0:
            raise bpfsys.BpfError(-fd, "kernel memory reader refused")
        self.prog_fd = fd

    def read(self, addr: int, size: int, string: bool) -> Optional[bytes]:
        size = max(0, min(size, BUF - 1))
        args = (ct.c_uint64 * 3)(addr & (2 ** 64 - 1), size, 0 if string else 1)
        data = struct.pack("<IIIIQQIIIIQQII", self.prog_fd, 0, 0, 0, 0, 0, 0, 0,
                           ct.sizeof(args), 0, ct.addressof(args), 0, 0, 0)
        bpfsys._call(_BPF_PROG_TEST_RUN, bpfsys._attr(data))
        key = ct.c_uint32(0)
        val = (ct.c_ubyte * (8 + BUF))()
        if not bpfsys.lookup(self.map_fd, key, val):
            return None
        raw = bytes(val)
        rc = struct.unpack_from("<q", raw, 0)[0]
        if rc < 0:
            return None
        n = max(0, rc - 1) if string else size      # _str counts the NUL
        return raw[8:8 + n]


_reader: Optional[_Reader] = None
_failed = False


def read_kernel(addr: int, size: int, string: bool = False) -> Optional[bytes]:
    """`size` bytes at kernel address `addr` (a string: up to its NUL, at
    most size - 1 bytes), or None when it cannot be read (a fault, or no
    BPF here)."""
    global _reader, _failed
    if _failed or not addr:
        return None
    try:
        if _reader is None:
            _reader = _Reader()
        return _reader.read(addr, size, string)
    except OSError:
        if _reader is None:
            _failed = True
        return None
