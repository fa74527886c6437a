"""A small ELF reader: the FUNC symbols of a user binary (for uprobes).

Reads .symtab (when not stripped) and .dynsym, keeps defined STT_FUNC /
STT_GNU_IFUNC symbols with a non-zero value.  Uprobes take a file offset;
BCC's attach_uprobe(name=path, sym=...) does that conversion itself, but we
also compute it (vaddr - segment vaddr + segment file offset) so a symbol
can be attached by address too.  64- and 32-bit, little- and big-endian.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List

STT_FUNC = 2
STT_GNU_IFUNC = 10
SHT_SYMTAB = 2
SHT_DYNSYM = 11
PT_LOAD = 1
ET_DYN = 3


class ELFError(Exception):
    pass


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    address: int        # st_value (virtual address; relative for PIE/DSO)
    size: int
    offset: int         # file offset of the code (what uprobes take)
    is_global: bool


@dataclass
class ElfInfo:
    path: str
    is_pie: bool        # ET_DYN: addresses are load-relative
    functions: List[ElfSymbol]
    load_base: int = 0  # lowest PT_LOAD vaddr (0x400000 for classic non-PIE)


def read(path: str) -> ElfInfo:
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ELFError(f"{path}: not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        e_type, = struct.unpack_from(end + "H", data, 16)
        e_phoff, e_shoff = struct.unpack_from(end + "QQ", data, 32)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from(end + "HHHH", data, 54)
    else:
        e_type, = struct.unpack_from(end + "H", data, 16)
        e_phoff, e_shoff = struct.unpack_from(end + "II", data, 28)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from(end + "HHHH", data, 42)

    loads = []      # (vaddr, memsz, offset)
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if is64:
            p_type, _flags, p_offset, p_vaddr, _paddr, _filesz, p_memsz = struct.unpack_from(end + "IIQQQQQ", data, off)
        else:
            p_type, p_offset, p_vaddr, _paddr, _filesz, p_memsz = struct.unpack_from(end + "IIIIII", data, off)
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_memsz, p_offset))

    def file_offset(vaddr: int) -> int:
        for va, sz, off in loads:
            if va <= vaddr < va + sz:
                return vaddr - va + off
        return vaddr

    sections = []
    for i in range(e_shnum):
        off = e_shoff + i * e_shentsize
        if is64:
            sh = struct.unpack_from(end + "IIQQQQIIQQ", data, off)
        else:
            sh = struct.unpack_from(end + "IIIIIIIIII", data, off)
        # name, type, flags, addr, offset, size, link, info, addralign, entsize
        sections.append(sh)

    seen = {}
    for sh in sections:
        if sh[1] not in (SHT_SYMTAB, SHT_DYNSYM):
            continue
        sh_offset, sh_size, sh_link, sh_entsize = sh[4], sh[5], sh[6], sh[9]
        if not sh_entsize or sh_link >= len(sections):
            continue
        strtab = sections[sh_link]
        s_off, s_size = strtab[4], strtab[5]
        strs = data[s_off:s_off + s_size]
        for j in range(1, sh_size // sh_entsize):
            eoff = sh_offset + j * sh_entsize
            if is64:
                st_name, st_info, _other, st_shndx, st_value, st_size = struct.unpack_from(end + "IBBHQQ", data, eoff)
            else:
                st_name, st_value, st_size, st_info, _other, st_shndx = struct.unpack_from(end + "IIIBBH", data, eoff)
            stype = st_info & 0xF
            if stype not in (STT_FUNC, STT_GNU_IFUNC) or st_shndx == 0 or st_value == 0:
                continue
            nend = strs.find(b"\0", st_name)
            name = strs[st_name:nend].decode("utf-8", "replace")
            if not name or name in seen:
                continue
            # versioned dynsym names ("memcpy@@GLIBC_2.14") are stored plain
            seen[name] = ElfSymbol(name, st_value, st_size, file_offset(st_value),
                                   (st_info >> 4) != 0)
    funcs = sorted(seen.values(), key=lambda s: (s.address, s.name))
    base = min((va for va, _sz, _off in loads), default=0)
    return ElfInfo(path, e_type == ET_DYN, funcs, base - base % 0x1000)
