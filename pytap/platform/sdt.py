"""SDT markers (<sys/sdt.h>, DTRACE_PROBE / STAP_PROBE) of an ELF file.

Each marker is an NT_STAPSDT (type 3) note named "stapsdt" in
.note.stapsdt: pc, link-time address of .stapsdt.base, semaphore address,
then "provider\\0name\\0args\\0".  Addresses are adjusted by the difference
between the real .stapsdt.base address and the recorded one (prelink), then
turned into file offsets through the PT_LOAD segments: the uprobe takes the
pc's offset, the kernel's uprobe reference counter (the semaphore) its
offset too.  Arguments: "SIZE@OPERAND" separated by spaces, SIZE negative
for signed; x86-64 operands %reg, $imm, disp(%reg).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple


@dataclass(frozen=True)
class SdtArg:
    size: int           # bytes
    signed: bool
    kind: str           # "reg" "mem" "imm"
    reg: str = ""       # pt_regs field: di, si, ax, r8 ...
    disp: int = 0       # memory displacement / immediate value


@dataclass(frozen=True)
class SdtMarker:
    provider: str
    name: str
    pc: int             # virtual address
    offset: int         # file offset of pc (what the uprobe takes)
    semaphore: int      # virtual address, 0 = none
    sem_offset: int     # file offset of the semaphore (ref_ctr_offset), 0 = none
    args: Tuple[SdtArg, ...]
    arg_text: str


_REGS = {}
for _full, _field in (("rax", "ax"), ("rbx", "bx"), ("rcx", "cx"), ("rdx", "dx"),
                      ("rsi", "si"), ("rdi", "di"), ("rbp", "bp"), ("rsp", "sp"), ("rip", "ip")):
    b = _full[1:]
    for alias in (_full, "e" + b, b):
        _REGS[alias] = _field
    if b in ("ax", "bx", "cx", "dx"):
        _REGS[b[0] + "l"] = _field
    else:
        _REGS[b + "l"] = _field
for _n in range(8, 16):
    for _suf in ("", "d", "w", "b"):
        _REGS[f"r{_n}{_suf}"] = f"r{_n}"


def parse_arg(text: str) -> Optional[SdtArg]:
    if "@" not in text:
        return None
    size_text, op = text.split("@", 1)
    try:
        size = int(size_text)
    except ValueError:
        return None
    signed, size = size < 0, abs(size)
    if op.startswith("%"):
        reg = _REGS.get(op[1:])
        return SdtArg(size, signed, "reg", reg) if reg else None
    if op.startswith("$"):
        try:
            return SdtArg(size, signed, "imm", disp=int(op[1:], 0))
        except ValueError:
            return None
    if op.endswith(")") and "(%" in op:
        disp_text, reg_text = op[:-1].split("(%", 1)
        reg = _REGS.get(reg_text)
        try:
            disp = int(disp_text, 0) if disp_text else 0
        except ValueError:
            return None
        return SdtArg(size, signed, "mem", reg, disp) if reg else None
    return None


def read_markers(path: str) -> List[SdtMarker]:
    """Every SDT marker of the file, in note order ([] when none)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return []
    end = "<" if data[5] == 1 else ">"
    e_phoff, e_shoff = struct.unpack_from(end + "QQ", data, 32)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(end + "HHHHH", data, 54)
    loads = []
    for i in range(e_phnum):
        p_type, _fl, p_offset, p_vaddr, _pa, p_filesz, p_memsz = struct.unpack_from(
            end + "IIQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == 1:
            loads.append((p_vaddr, p_memsz, p_offset))

    def file_offset(va: int) -> int:
        for v, sz, off in loads:
            if v <= va < v + sz:
                return va - v + off
        return 0
    secs = [struct.unpack_from(end + "IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
            for i in range(e_shnum)] if e_shoff else []
    names = b""
    if secs and e_shstrndx < len(secs):
        so, ss = secs[e_shstrndx][4], secs[e_shstrndx][5]
        names = data[so:so + ss]

    def sname(sh) -> str:
        e = names.find(b"\0", sh[0])
        return names[sh[0]:e].decode("latin-1")
    base_addr = None
    notes = []
    for sh in secs:
        n = sname(sh)
        if n == ".stapsdt.base":
            base_addr = sh[3]
        elif n == ".note.stapsdt":
            notes.append((sh[4], sh[5]))
    out = []
    for off, size in notes:
        pos, stop = off, off + size
        while pos + 12 <= stop:
            namesz, descsz, ntype = struct.unpack_from(end + "III", data, pos)
            name = data[pos + 12: pos + 12 + namesz]
            dpos = pos + 12 + ((namesz + 3) & ~3)
            desc = data[dpos: dpos + descsz]
            pos = dpos + ((descsz + 3) & ~3)
            if ntype != 3 or name.rstrip(b"\0") != b"stapsdt" or len(desc) < 24:
                continue
            pc, base, sem = struct.unpack_from(end + "QQQ", desc, 0)
            parts = desc[24:].split(b"\0")
            if len(parts) < 3:
                continue
            provider, mname, argtext = (p.decode("utf-8", "replace") for p in parts[:3])
            if base_addr is not None and base:
                pc += base_addr - base
                if sem:
                    sem += base_addr - base
            args = tuple(a for a in (parse_arg(t) for t in argtext.split()) if a is not None)
            out.append(SdtMarker(provider, mname, pc, file_offset(pc), sem,
                                 file_offset(sem) if sem else 0, args, argtext))
    return out
