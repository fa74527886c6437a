"""Address -> symbol lookups in user space (BPF never resolves addresses).

Kernel: /proc/kallsyms, modules included ("[name]" suffix); a symbol's
size is the distance to the next symbol, its module "kernel" for vmlinux.

User: a process's executable mappings (/proc/PID/maps, snapshotted while
it lives: `UserSymbols.remember(pid)`), and per mapped file its ELF FUNC
symbols (.symtab then .dynsym, platform/elf.py).  An address maps to a file
offset (addr - start + map offset) and is looked up by the symbols' file
offsets, so PIE executables and shared libraries need no load-bias logic.
"""
from __future__ import annotations

import bisect
import os
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class SymInfo:
    name: Optional[str]     # None: no symbol (hex only)
    offset: int
    size: int
    module: Optional[str]   # "kernel", a module name, or a file path


class KernelSymbols:
    def __init__(self, path: str = "/proc/kallsyms"):
        self.path = path
        self._addrs: List[int] = []
        self._names: List[Tuple[str, Optional[str]]] = []
        self._loaded = False
        self._lock = threading.Lock()
        self._memo: Dict[int, SymInfo] = {}      # stacks repeat addresses

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            rows: Dict[int, Tuple[str, Optional[str]]] = {}
            try:
                with open(self.path) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) < 3:
                            continue
                        if parts[1] in ("A", "a", "U", "u"):
                            continue
                        a = int(parts[0], 16)
                        if a == 0:
                            continue
                        mod = parts[3].strip("[]") if len(parts) > 3 else None
                        if a not in rows:
                            rows[a] = (parts[2], mod)
            except OSError:
                rows = {}
            self._addrs = sorted(rows)
            self._names = [rows[a] for a in self._addrs]
            self._loaded = True

    def lookup(self, addr: int) -> SymInfo:
        got = self._memo.get(addr)
        if got is None:
            got = self._memo[addr] = self._lookup(addr)
        return got

    def _lookup(self, addr: int) -> SymInfo:
        if not self._loaded:
            self._load()
        i = bisect.bisect_right(self._addrs, addr) - 1
        if i < 0 or addr == 0:
            return SymInfo(None, 0, 0, None)
        start = self._addrs[i]
        name, mod = self._names[i]
        nxt = self._addrs[i + 1] if i + 1 < len(self._addrs) else start
        if i + 1 < len(self._addrs) and self._names[i + 1][1] != mod:
            nxt = start         # the last symbol of vmlinux / a module: size unknown
        # past the last symbol of a module, or far past the last one at all
        if i + 1 >= len(self._addrs) and addr - start > 0x100000:
            return SymInfo(None, 0, 0, None)
        if name.startswith("."):
            name = name[1:]
        return SymInfo(name, addr - start, nxt - start, mod or "kernel")

    def address_of(self, name: str) -> Optional[int]:
        if not self._loaded:
            self._load()
        for a, (n, _m) in zip(self._addrs, self._names):
            if n == name:
                return a
        return None


@dataclass(frozen=True)
class Mapping:
    start: int
    end: int
    offset: int
    path: str


class _ElfSyms:
    def __init__(self, path: str):
        from ..platform import elf
        try:
            info = elf.read(path)
            funcs = sorted(info.functions, key=lambda s: s.offset)
        except (OSError, elf.ELFError, Exception):
            funcs = []
        self.offsets = [s.offset for s in funcs]
        self.funcs = funcs

    def lookup(self, file_off: int):
        i = bisect.bisect_right(self.offsets, file_off) - 1
        # among symbols at or before the offset, the nearest one that covers it
        j = i
        while j >= 0 and j > i - 8:
            s = self.funcs[j]
            if s.offset <= file_off < s.offset + max(s.size, 1):
                return s
            j -= 1
        return None


def build_id(path: str) -> Optional[str]:
    """The GNU build id (hex) of an ELF file, from its NT_GNU_BUILD_ID note."""
    import struct
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    end = "<" if data[5] == 1 else ">"
    e_shoff, = struct.unpack_from(end + "Q", data, 40)
    e_shentsize, e_shnum = struct.unpack_from(end + "HH", data, 58)
    for i in range(e_shnum):
        sh = struct.unpack_from(end + "IIQQQQIIQQ", data, e_shoff + i * e_shentsize)
        if sh[1] != 7:          # SHT_NOTE
            continue
        pos, stop = sh[4], sh[4] + sh[5]
        while pos + 12 <= stop:
            namesz, descsz, ntype = struct.unpack_from(end + "III", data, pos)
            name = data[pos + 12: pos + 12 + namesz]
            dpos = pos + 12 + ((namesz + 3) & ~3)
            if ntype == 3 and name.rstrip(b"\0") == b"GNU":
                return data[dpos: dpos + descsz].hex()
            pos = dpos + ((descsz + 3) & ~3)
    return None


class UserSymbols:
    def __init__(self):
        self._maps: Dict[int, List[Mapping]] = {}
        self._elf: Dict[str, _ElfSyms] = {}
        self._lock = threading.Lock()
        # files that may have been mapped (probe paths, -c program, -d FILE)
        self.candidates: List[str] = []
        self._by_build_id: Optional[Dict[str, str]] = None
        # (pid, address) -> (build id, file offset), from the build-id form of
        # a stack (pytap_ubuildids): symbolized once the process is gone
        self.frames: Dict[Tuple[int, int], Tuple[str, int]] = {}

    def _path_of_build_id(self, bid: str) -> Optional[str]:
        if self._by_build_id is None:
            self._by_build_id = {}
        if bid not in self._by_build_id:
            paths = list(self.candidates)
            for maps in list(self._maps.values()):
                paths.extend(m.path for m in maps)
            for p in dict.fromkeys(paths):
                if p not in self._by_build_id.values():
                    b = build_id(p)
                    if b:
                        self._by_build_id.setdefault(b, p)
                if bid in self._by_build_id:
                    break
        return self._by_build_id.get(bid)

    def remember(self, pid: int) -> bool:
        """Snapshot the executable mappings of pid (True when it had some)."""
        if pid in self._maps and self._maps[pid]:
            return True
        maps: List[Mapping] = []
        try:
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    if len(parts) < 6 or "x" not in parts[1]:
                        continue
                    path = parts[5].strip()
                    if not path.startswith("/") or path.endswith(" (deleted)"):
                        if path.endswith(" (deleted)"):
                            path = path[: -len(" (deleted)")]
                        else:
                            continue
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    maps.append(Mapping(lo, hi, int(parts[2], 16), path))
        except OSError:
            pass
        with self._lock:
            if maps or pid not in self._maps:
                self._maps[pid] = maps
        return bool(maps)

    def known(self, pid: int) -> bool:
        return bool(self._maps.get(pid))

    def _elfsyms(self, path: str) -> _ElfSyms:
        e = self._elf.get(path)
        if e is None:
            e = self._elf[path] = _ElfSyms(path)
        return e

    def mapping(self, pid: int, addr: int) -> Optional[Mapping]:
        if not self._maps.get(pid):
            self.remember(pid)
        for m in self._maps.get(pid, ()):
            if m.start <= addr < m.end:
                return m
        return None

    def find_pid(self, addr: int) -> Optional[int]:
        """A remembered process that maps addr (for a stack string whose
        process is unknown, e.g. read back from a global in an end probe)."""
        for pid, maps in list(self._maps.items()):
            for m in maps:
                if m.start <= addr < m.end:
                    return pid
        return None

    def lookup(self, pid: int, addr: int) -> SymInfo:
        m = self.mapping(pid, addr)
        if m is None:
            known = self.frames.get((pid, addr))
            path = self._path_of_build_id(known[0]) if known else None
            if path is None:
                return SymInfo(None, 0, 0, None)
            s = self._elfsyms(path).lookup(known[1])
            if s is None:
                return SymInfo(None, known[1], 0, path)
            return SymInfo(s.name, known[1] - s.offset, s.size, path)
        s = self._elfsyms(m.path).lookup(addr - m.start + m.offset)
        if s is None:
            return SymInfo(None, addr - m.start + m.offset, 0, m.path)
        return SymInfo(s.name, addr - m.start + m.offset - s.offset, s.size, m.path)


KERNEL = KernelSymbols()
USER = UserSymbols()
