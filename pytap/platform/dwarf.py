"""A user program's own DWARF (gcc -g), read with pyelftools: functions
with their parameters, locals and where they live, global variables, and
the C types they have, for process("a.out").function("f") $vars.

What stap does and this follows:
- the probe address of function("f") is the end of its prologue (the
  second line-table address inside f) when the compile unit was built
  without optimisation; an optimised unit keeps the entry address;
- the probe point is spelled "f@/abs/path/file.c:LINE" (DW_AT_decl_file,
  DW_AT_decl_line).
Variable locations understood: DW_OP_fbreg(N) with a DW_OP_call_frame_cfa
frame base (the CFA rule at the probe address comes from .eh_frame /
.debug_frame), DW_OP_addr for globals, and, at a function's entry, the
System V argument registers for parameters.  Anything else is reported
as not accessible, as stap reports a location it cannot translate.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

# DWARF x86-64 register numbers -> struct pt_regs fields (BPF side)
X86_64_REGS = {0: "ax", 1: "dx", 2: "cx", 3: "bx", 4: "si", 5: "di", 6: "bp", 7: "sp",
               8: "r8", 9: "r9", 10: "r10", 11: "r11", 12: "r12", 13: "r13", 14: "r14", 15: "r15"}


@dataclass(eq=False)
class DType:
    """A C type of the program.  kind: "base" "ptr" "struct" "union"
    "array" "enum" "typedef" "const" "volatile" "void" "func"."""
    kind: str
    name: str = ""
    size: int = 0
    signed: bool = False
    target: Optional["DType"] = None
    members: List[Tuple[str, int, "DType"]] = field(default_factory=list)
    count: int = 0

    def strip(self) -> "DType":
        t = self
        for _ in range(30):
            if t.kind in ("typedef", "const", "volatile") and t.target is not None:
                t = t.target
            else:
                break
        return t

    def spell(self) -> str:
        """As stap -L writes it: "char const*", "struct pt*", "long int"."""
        k = self.kind
        if k in ("base", "typedef"):
            return self.name
        if k in ("struct", "union", "enum"):
            return f"{k} {self.name}" if self.name else f"{k} {{...}}"
        if k == "void":
            return "void"
        if k == "ptr":
            inner = self.target.spell() if self.target is not None else "void"
            return inner + "*"
        if k in ("const", "volatile"):
            inner = self.target.spell() if self.target is not None else "void"
            return f"{inner} {k}"
        if k == "array":
            return f"{self.target.spell() if self.target else '?'}[]"     # as stap -L
        if k == "func":
            return "void"
        return self.name or "?"

    def byte_size(self) -> int:
        t = self.strip()
        if t.kind == "ptr":
            return 8
        if t.kind == "array":
            return (t.target.byte_size() if t.target else 1) * t.count
        return t.size


@dataclass
class DVar:
    name: str
    type: Optional[DType]
    location: Optional[tuple]     # ("fbreg", off) ("addr", a) ("expr", [...]) ("loclist", …) or None
    is_param: bool = False


@dataclass
class DFunc:
    name: str
    low_pc: int
    high_pc: int
    decl_file: str
    decl_line: int
    params: List[DVar]
    locals: List[DVar]
    ret: Optional[DType]
    frame_base_cfa: bool
    probe_pc: int                          # stap's probe address (after the prologue)
    cfa: Optional[Tuple[int, int]] = None  # (DWARF register, offset) of the CFA at probe_pc
    # line table rows inside the function: (address, file, line), address order
    lines: List[Tuple[int, str, int]] = field(default_factory=list)
    cfa_at: Dict[int, Tuple[int, int]] = field(default_factory=dict)   # at each row address


@dataclass
class DwarfInfo:
    path: str
    functions: Dict[str, DFunc]
    globals: Dict[str, DVar]
    types: Dict[str, DType] = field(default_factory=dict)   # "struct rec", "size_t", "int"

    def parse_type(self, text: str) -> Optional[DType]:
        """A DType for a C type name as @cast spells it ("struct rec *",
        "rec", "size_t"), None if the program has no such type."""
        t = re.sub(r"\b(const|volatile)\b", " ", text or "")
        stars = t.count("*")
        base = " ".join(t.replace("*", " ").split())
        got = self.types.get(base)
        if got is None and re.fullmatch(r"\w+", base):
            got = self.types.get("struct " + base) or self.types.get("union " + base)
        if got is None:
            return None
        for _ in range(stars):
            got = DType("ptr", "", 8, False, got)
        return got


_NAMED_TYPE_TAGS = ("DW_TAG_structure_type", "DW_TAG_union_type", "DW_TAG_enumeration_type",
                    "DW_TAG_typedef", "DW_TAG_base_type")


def _sleb(data: List[int]) -> int:
    v = shift = 0
    for b in data:
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                v -= 1 << shift
            break
    return v


def _decode_loc(expr) -> Optional[tuple]:
    if not isinstance(expr, list) or not expr:
        return None
    op = expr[0]
    if op == 0x91:                      # DW_OP_fbreg
        return ("fbreg", _sleb(expr[1:]))
    if op == 0x03 and len(expr) == 9:   # DW_OP_addr (64-bit)
        return ("addr", int.from_bytes(bytes(expr[1:9]), "little"))
    if 0x50 <= op <= 0x6F and len(expr) == 1:      # DW_OP_reg0..31
        return ("reg", op - 0x50)
    return ("expr", list(expr))


def read(path: str) -> Optional[DwarfInfo]:
    """DwarfInfo of an ELF file, None without DWARF (or without pyelftools)."""
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:
        return None
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        if not elf.has_dwarf_info():
            return None
        dw = elf.get_dwarf_info()
        if not dw.has_debug_info:
            return None
        types: Dict[int, DType] = {}

        def type_of(die) -> Optional[DType]:
            if die is None or "DW_AT_type" not in die.attributes:
                return None
            try:
                t = die.get_DIE_from_attribute("DW_AT_type")
            except Exception:
                return None
            return make_type(t)

        def make_type(die) -> DType:
            got = types.get(die.offset)
            if got is not None:
                return got
            tag = die.tag
            a = die.attributes
            name = a["DW_AT_name"].value.decode("utf-8", "replace") if "DW_AT_name" in a else ""
            size = a["DW_AT_byte_size"].value if "DW_AT_byte_size" in a else 0
            kind = {"DW_TAG_base_type": "base", "DW_TAG_pointer_type": "ptr",
                    "DW_TAG_structure_type": "struct", "DW_TAG_union_type": "union",
                    "DW_TAG_array_type": "array", "DW_TAG_enumeration_type": "enum",
                    "DW_TAG_typedef": "typedef", "DW_TAG_const_type": "const",
                    "DW_TAG_volatile_type": "volatile", "DW_TAG_subroutine_type": "func",
                    # restrict: a nameless typedef, so it spells as what it qualifies
                    "DW_TAG_restrict_type": "typedef"}.get(tag, "void")
            t = DType(kind, name, size)
            types[die.offset] = t
            if kind == "base":
                enc = a["DW_AT_encoding"].value if "DW_AT_encoding" in a else 0
                t.signed = enc in (0x05, 0x06, 0x0D)       # signed, signed_char, signed_fixed
            elif kind == "enum":
                t.signed = True
            elif kind == "ptr":
                t.size = 8
            if kind in ("ptr", "typedef", "const", "volatile", "array", "enum"):
                t.target = type_of(die)
                if kind == "typedef" and not t.name and t.target is not None:
                    t.name = t.target.spell()
            if kind in ("typedef", "const", "volatile") and t.target is not None:
                s = t.target.strip()
                t.size, t.signed = s.size, s.signed
            if kind == "array":
                for c in die.iter_children():
                    if c.tag == "DW_TAG_subrange_type":
                        ca = c.attributes
                        if "DW_AT_count" in ca:
                            t.count = ca["DW_AT_count"].value
                        elif "DW_AT_upper_bound" in ca:
                            t.count = ca["DW_AT_upper_bound"].value + 1
                        break
            if kind in ("struct", "union"):
                for c in die.iter_children():
                    if c.tag != "DW_TAG_member":
                        continue
                    ca = c.attributes
                    mname = ca["DW_AT_name"].value.decode("utf-8", "replace") if "DW_AT_name" in ca else ""
                    off = ca["DW_AT_data_member_location"].value if "DW_AT_data_member_location" in ca else 0
                    if not isinstance(off, int):
                        continue
                    mt = type_of(c)
                    if mt is not None:
                        t.members.append((mname, off, mt))
            return t

        functions: Dict[str, DFunc] = {}
        globals_: Dict[str, DVar] = {}
        named_types: Dict[str, DType] = {}
        lines_by_cu = {}
        for cu in dw.iter_CUs():
            top = cu.get_top_DIE()
            ta = top.attributes
            producer = ta["DW_AT_producer"].value.decode("utf-8", "replace") if "DW_AT_producer" in ta else ""
            optimized = bool(re.search(r"(^|\s)-O(?!0)\S*", producer))
            comp_dir = ta["DW_AT_comp_dir"].value.decode("utf-8", "replace") if "DW_AT_comp_dir" in ta else ""
            lp = dw.line_program_for_CU(cu)
            files = _file_names(lp, comp_dir) if lp is not None else {}
            rows = None
            line_rows = []
            if lp is not None:
                line_rows = sorted((e.state.address, files.get(e.state.file, ""), e.state.line)
                                   for e in lp.get_entries()
                                   if e.state is not None and not e.state.end_sequence and e.state.is_stmt)
            for die in top.iter_children():
                a = die.attributes
                if die.tag in _NAMED_TYPE_TAGS and "DW_AT_name" in a and \
                        "DW_AT_declaration" not in a:
                    t = make_type(die)
                    named_types.setdefault(t.spell(), t)
                    continue
                if die.tag == "DW_TAG_variable" and "DW_AT_name" in a and "DW_AT_location" in a:
                    loc = _decode_loc(a["DW_AT_location"].value)
                    if loc and loc[0] == "addr":
                        n = a["DW_AT_name"].value.decode("utf-8", "replace")
                        globals_.setdefault(n, DVar(n, type_of(die), loc))
                    continue
                if die.tag != "DW_TAG_subprogram" or "DW_AT_low_pc" not in a or "DW_AT_name" not in a:
                    continue
                name = a["DW_AT_name"].value.decode("utf-8", "replace")
                low = a["DW_AT_low_pc"].value
                hv = a["DW_AT_high_pc"] if "DW_AT_high_pc" in a else None
                high = (low + hv.value if hv is not None and hv.form != "DW_FORM_addr"
                        else (hv.value if hv is not None else low + 1))
                fb = a["DW_AT_frame_base"].value if "DW_AT_frame_base" in a else None
                params, locs = [], []
                _collect_vars(die, params, locs, type_of)
                decl_file = files.get(a["DW_AT_decl_file"].value, "") if "DW_AT_decl_file" in a else ""
                decl_line = a["DW_AT_decl_line"].value if "DW_AT_decl_line" in a else 0
                pc = low
                if not optimized and lp is not None:
                    if rows is None:
                        rows = sorted({e.state.address for e in lp.get_entries()
                                       if e.state is not None and not e.state.end_sequence})
                    later = [r for r in rows if low < r < high]
                    if later:
                        pc = later[0]
                functions.setdefault(name, DFunc(name, low, high, decl_file, decl_line, params, locs,
                                                 type_of(die), fb == [0x9C], pc,
                                                 lines=[r for r in line_rows if low <= r[0] < high]))
        cfa_rules = _cfa_rules(dw, [f.probe_pc for f in functions.values()] +
                               [r[0] for f in functions.values() for r in f.lines])
        for f in functions.values():
            f.cfa = cfa_rules.get(f.probe_pc)
            f.cfa_at = {r[0]: cfa_rules[r[0]] for r in f.lines if r[0] in cfa_rules}
        return DwarfInfo(path, functions, globals_, named_types)


def _collect_vars(die, params, locs, type_of):
    for c in die.iter_children():
        a = c.attributes
        if c.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable") and "DW_AT_name" in a:
            n = a["DW_AT_name"].value.decode("utf-8", "replace")
            loc = None
            if "DW_AT_location" in a:
                v = a["DW_AT_location"]
                loc = _decode_loc(v.value) if v.form == "DW_FORM_exprloc" else ("loclist", v.value)
            if loc is not None and loc[0] == "loclist":
                loc = ("loclist", _loclist(c, v.value))
            var = DVar(n, type_of(c), loc, is_param=c.tag == "DW_TAG_formal_parameter")
            (params if var.is_param else locs).append(var)
        elif c.tag == "DW_TAG_lexical_block":
            _collect_vars(c, [], locs, type_of)     # block locals: stap lists them too


def _loclist(die, offset) -> List[Tuple[int, int, Optional[tuple]]]:
    """[(low, high, decoded location)] of a location list, absolute addresses."""
    out = []
    try:
        dw = die.dwarfinfo
        entries = dw.location_lists().get_location_list_at_offset(offset, die=die)
        top = die.cu.get_top_DIE()
        base = top.attributes["DW_AT_low_pc"].value if "DW_AT_low_pc" in top.attributes else 0
    except Exception:
        return out
    for e in entries:
        if hasattr(e, "base_address"):
            base = e.base_address
        elif hasattr(e, "loc_expr"):
            lo, hi = e.begin_offset, e.end_offset
            if not getattr(e, "is_absolute", False):
                lo, hi = lo + base, hi + base
            out.append((lo, hi, _decode_loc(e.loc_expr)))
    return out


def location_at(var: DVar, pc: int) -> Optional[tuple]:
    """Where var lives at pc: its single location, or its location list's
    entry covering pc; None when it has none there (optimised out)."""
    loc = var.location
    if loc is None or loc[0] != "loclist":
        return loc
    for lo, hi, where in loc[1]:
        if lo <= pc < hi:
            return where
    return None


def _file_names(lp, comp_dir) -> Dict[int, str]:
    out = {}
    entries = lp["file_entry"]
    dirs = lp["include_directory"]
    base = 0 if lp.header.version >= 5 else 1
    for i, fe in enumerate(entries):
        name = fe.name.decode("utf-8", "replace")
        d = ""
        di = fe.dir_index
        if lp.header.version >= 5:
            d = dirs[di].decode("utf-8", "replace") if di < len(dirs) else ""
        elif di > 0 and di - 1 < len(dirs):
            d = dirs[di - 1].decode("utf-8", "replace")
        full = name if name.startswith("/") else os.path.join(d or comp_dir, name)
        if not full.startswith("/"):
            full = os.path.join(comp_dir, full)
        out[i + base] = os.path.normpath(full)
    return out


def _cfa_rules(dw, pcs) -> Dict[int, Tuple[int, int]]:
    """CFA rule (register, offset) at each pc, from .eh_frame or .debug_frame."""
    out: Dict[int, Tuple[int, int]] = {}
    try:
        entries = dw.EH_CFI_entries() if dw.has_EH_CFI() else (dw.CFI_entries() if dw.has_CFI() else [])
    except Exception:
        return out
    want = sorted(set(pcs))
    for e in entries:
        if not hasattr(e, "header") or "initial_location" not in e.header:
            continue
        lo = e.header["initial_location"]
        hi = lo + e.header["address_range"]
        mine = [pc for pc in want if lo <= pc < hi]
        if not mine:
            continue
        try:
            table = e.get_decoded().table
        except Exception:
            continue
        for pc in mine:
            rule = None
            for row in table:
                if row["pc"] <= pc and "cfa" in row:
                    rule = row["cfa"]
            if rule is not None and rule.reg is not None:
                out[pc] = (rule.reg, rule.offset)
    return out


_HEADER_TYPES: Dict[str, Optional[DwarfInfo]] = {}


def header_types(header: str) -> Optional[DwarfInfo]:
    """The types a C header declares, as stap's @cast(p, "T", "<stdio.h>")
    wants them: a one-line program including it is compiled with gcc -g
    (every declared type kept) and its DWARF read.  None without gcc or
    when the header does not compile."""
    if header in _HEADER_TYPES:
        return _HEADER_TYPES[header]
    import subprocess
    import tempfile
    got = None
    with tempfile.TemporaryDirectory(prefix="pytap-hdr-") as d:
        src = os.path.join(d, "t.c")
        obj = os.path.join(d, "t.o")
        with open(src, "w") as f:
            f.write(f"#include <{header}>\nint __pytap_header_anchor;\n")
        try:
            r = subprocess.run(["gcc", "-g", "-O0", "-fno-eliminate-unused-debug-types", "-c", src,
                                "-o", obj], capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                got = read(obj)
        except (OSError, subprocess.TimeoutExpired):
            got = None
    _HEADER_TYPES[header] = got
    return got
