"""What user-space probe points name beyond one executable: glob paths in
process("PATTERN"), the libraries of process(...).library("PATTERN"), and
the PLT entries of an ELF file (process(...).plt("NAME")).

stap's rules, as measured with stap 4.8 -p2 on this machine:
- process("/lib*/libc.so.*").function/.statement/.plt/.mark: the path is
  a shell glob (no $PATH search); every match is probed as if written out,
  matches that offer nothing (a linker script, a binary without the
  function) are dropped silently; a glob matching no file at all is the
  error "glob PATTERN error (3)" (3 = GLOB_NOMATCH).  process("P").begin /
  .end keep the pattern as written (no globbing there).
- process("php") with no "/" that $PATH cannot find: "cannot find
  executable 'php'" (a path with a "/" that is not there: plain "no match").
- .library("PATTERN"): the program's shared libraries as the dynamic
  loader resolves them (ld.so --list), real paths, matched by full path or
  by file name; a PATTERN with a "/" is also the library's own path.
  Order: the libraries by path, then the program interpreter.
- .plt / .plt("NAME"): the lazy-binding PLT: stap takes entry i+1 of the
  .plt section for relocation i of .rela.plt (so an IRELATIVE relocation
  yields an entry with an empty $$name), printed as
  process("P").statement(0xADDR)[.return].
"""
from __future__ import annotations

import fnmatch
import glob as _glob
import os
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .. import ast
from ..diagnostics import StapError
from .core import arg_value, has_glob

# components after process(...) that make stap look into the ELF file (and
# so glob the path); .begin/.end/.syscall keep the pattern literal
_ELF_FUNCTORS = ("function", "statement", "plt", "mark", "library")


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def glob_paths(pattern: str) -> List[str]:
    """Real paths of the ELF files a process("PATTERN") names, sorted,
    each once; StapError with stap's text when the glob matches nothing."""
    hits = sorted(_glob.glob(pattern))
    if not hits:
        raise StapError(f"glob {pattern} error (3)")
    out: List[str] = []
    for h in hits:
        r = os.path.realpath(h)
        if os.path.isfile(r) and _is_elf(r) and r not in out:
            out.append(r)
    return out


def expand_process_glob(point: ast.ProbePoint) -> Optional[List[ast.ProbePoint]]:
    """One point per file a globbed process("PATTERN") matches (the path
    written out), or None when the point has no such glob."""
    comps = point.components
    if not comps or comps[0].functor != "process" or not isinstance(comps[0].arg, ast.String):
        return None
    pattern = comps[0].arg.value
    if not has_glob(pattern) or not any(c.functor in _ELF_FUNCTORS for c in comps[1:]):
        return None
    out = []
    for path in glob_paths(pattern):
        p = ast.ProbePoint([ast.ProbePointComponent(c.functor, c.arg, loc=c.loc) for c in comps],
                           optional=point.optional, sufficient=point.sufficient,
                           condition=point.condition, loc=point.loc, tok_desc=point.tok_desc)
        for new, old in zip(p.components, comps):
            new.tok_desc = old.tok_desc
        p.components[0].arg = ast.String(path, loc=comps[0].arg.loc)
        out.append(p)
    return out


def check_executable_name(point: ast.ProbePoint, platform) -> None:
    """stap's "cannot find executable 'NAME'" for process("NAME") (no "/")
    that neither $PATH nor the working directory has."""
    comps = point.components
    if not comps or comps[0].functor != "process" or not isinstance(comps[0].arg, ast.String):
        return
    name = comps[0].arg.value
    if "/" in name or has_glob(name) or not any(c.functor in _ELF_FUNCTORS for c in comps[1:]):
        return
    if platform.find_executable(name) is None:
        raise StapError(f"cannot find executable '{name}'")


# ------------------------------------------------------------ libraries

def _interpreter(exe: str) -> Optional[str]:
    try:
        from elftools.elf.elffile import ELFFile
        with open(exe, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_INTERP":
                    return seg.get_interp_name()
    except Exception:
        return None
    return None


_LIBS: Dict[str, List[str]] = {}


def program_libraries(exe: str) -> List[str]:
    """Real paths of the shared libraries `exe` loads (the dynamic loader's
    own answer, transitively), by path, then its interpreter."""
    if exe in _LIBS:
        return _LIBS[exe]
    interp = _interpreter(exe)
    libs: List[str] = []
    if interp and os.path.exists(interp):
        try:
            out = subprocess.run([interp, "--list", exe], capture_output=True, text=True,
                                 timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            line = line.strip()
            path = line.partition(" => ")[2] if " => " in line else line
            path = path.split(" (")[0].strip()
            if path.startswith("/") and os.path.exists(path):
                r = os.path.realpath(path)
                if r not in libs:
                    libs.append(r)
    rinterp = os.path.realpath(interp) if interp and os.path.exists(interp) else None
    ordered = sorted(p for p in libs if p != rinterp)
    if rinterp is not None:
        ordered.append(rinterp)
    _LIBS[exe] = ordered
    return ordered


def library_paths(exe: Optional[str], pattern: str) -> List[str]:
    """The libraries of `exe` that .library("PATTERN") names."""
    libs = program_libraries(exe) if exe else []
    out = [p for p in libs
           if fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(os.path.basename(p), pattern)]
    if not out and "/" in pattern:
        hits = sorted(_glob.glob(pattern)) if has_glob(pattern) else [pattern]
        out = [os.path.realpath(h) for h in hits if os.path.isfile(h) and _is_elf(h)]
    if not out and not has_glob(pattern):
        from .sdt import find_library
        p = find_library(pattern, exe)
        if p is not None:
            out = [p]
    return out


# ------------------------------------------------------------ PLT entries

@dataclass(frozen=True)
class PltEntry:
    name: str           # the relocation's symbol ("" for IRELATIVE)
    address: int        # link-time address of the entry
    offset: int         # file offset (what the uprobe takes)


_PLT: Dict[str, Tuple[bool, int, List[PltEntry]]] = {}


def plt_entries(path: str) -> Tuple[bool, int, List[PltEntry]]:
    """(is_pie, load_base, entries) of an ELF file's .plt, stap's way."""
    if path in _PLT:
        return _PLT[path]
    result: Tuple[bool, int, List[PltEntry]] = (False, 0, [])
    try:
        from elftools.elf.elffile import ELFFile
        with open(path, "rb") as f:
            elf = ELFFile(f)
            loads = [(s["p_vaddr"], s["p_memsz"], s["p_offset"]) for s in elf.iter_segments()
                     if s["p_type"] == "PT_LOAD"]
            base = min((va for va, _sz, _off in loads), default=0)
            plt = elf.get_section_by_name(".plt")
            rel = elf.get_section_by_name(".rela.plt") or elf.get_section_by_name(".rel.plt")
            entries: List[PltEntry] = []
            if plt is not None and rel is not None:
                size = plt["sh_entsize"] or 16
                count = plt["sh_size"] // size - 1
                symtab = elf.get_section(rel["sh_link"]) if rel["sh_link"] else None
                for i, r in enumerate(rel.iter_relocations()):
                    if i >= count:
                        break
                    name = ""
                    if symtab is not None and r["r_info_sym"]:
                        name = symtab.get_symbol(r["r_info_sym"]).name
                    addr = plt["sh_addr"] + (i + 1) * size
                    off = next((addr - va + fo for va, sz, fo in loads if va <= addr < va + sz), addr)
                    entries.append(PltEntry(name, addr, off))
            result = (elf["e_type"] == "ET_DYN", base - base % 0x1000, entries)
    except Exception:
        result = (False, 0, [])
    _PLT[path] = result
    return result


# ------------------------------------------------------------ warnings

# stap warns once per module when a .function / .statement point looks
# into a file without DWARF ("cannot find module X debuginfo"); the
# elaborator prints what take_warnings() hands it, before any error
_WARNINGS: List[str] = []
_WARNED: set = set()


def reset_warnings() -> None:
    _WARNINGS.clear()
    _WARNED.clear()


def warn_no_debuginfo(path: str) -> None:
    if path in _WARNED:
        return
    _WARNED.add(path)
    _WARNINGS.append(f"cannot find module {path} debuginfo: No DWARF information found "
                     "[man warning::debuginfo]")


def take_warnings() -> List[str]:
    out = list(_WARNINGS)
    _WARNINGS.clear()
    return out
