"""A small reader for the kernel's BTF (/sys/kernel/btf/vmlinux).

Pass 2 only needs function prototypes: for every BTF FUNC, its
FUNC_PROTO's parameter names and types, so `$count` in
kprobe.function("vfs_read") can be resolved to "argument 3, size_t".
We walk the type section once, keep just what prototypes refer to, and
return a plain dict that `Platform` pickles to disk (keyed by the file's
size and mtime) so later runs skip the walk.

Format (linux/btf.h): header {u16 magic 0xeB9F, u8 version, u8 flags,
u32 hdr_len, u32 type_off, u32 type_len, u32 str_off, u32 str_len}, then
types, each `struct btf_type {u32 name_off; u32 info; u32 size_or_type}`
followed by kind-specific data.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

BTF_MAGIC = 0xEB9F

# kinds
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, \
    FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(1, 20)

# bytes of kind-specific data: fixed, or per-vlen-entry
_EXTRA_FIXED = {INT: 4, ARRAY: 12, VAR: 4, DECL_TAG: 4}
_EXTRA_PER_VLEN = {STRUCT: 12, UNION: 12, ENUM: 8, FUNC_PROTO: 8, DATASEC: 12, ENUM64: 12}


class BTFError(Exception):
    pass


@dataclass(frozen=True)
class CType:
    """A parameter or return type, flattened for codegen."""
    text: str           # as C spells it: "size_t", "struct file *", "const char *"
    size: int           # bytes (pointers 8)
    signed: bool
    is_pointer: bool
    is_string: bool     # char * / char[] (any qualifiers)


@dataclass(frozen=True)
class FuncProto:
    name: str
    params: Tuple[Tuple[str, CType], ...]   # (name, type); name "" when unnamed
    ret: Optional[CType]                    # None for void


def parse(data: bytes) -> Dict[str, FuncProto]:
    """Every FUNC in the blob -> FuncProto."""
    if len(data) < 24:
        raise BTFError("BTF too short")
    magic, version, flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC:
        raise BTFError("not BTF (bad magic)")
    type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
    types_start = hdr_len + type_off
    strs_start = hdr_len + str_off
    strs = data[strs_start:strs_start + str_len]

    def name_of(off: int) -> str:
        end = strs.find(b"\0", off)
        return strs[off:end].decode("utf-8", "replace")

    # type id -> (kind, name_off, size_or_type, info, extra_offset)
    types: List[Optional[tuple]] = [None]   # id 0 is void
    pos = types_start
    end = types_start + type_len
    unpack = struct.unpack_from
    while pos < end:
        name_off, info, st = unpack("<III", data, pos)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        extra = pos + 12
        types.append((kind, name_off, st, info, extra))
        pos = extra + _EXTRA_FIXED.get(kind, 0) + _EXTRA_PER_VLEN.get(kind, 0) * vlen

    cache: Dict[int, CType] = {}

    def resolve(tid: int) -> Optional[CType]:
        if tid == 0:
            return None
        got = cache.get(tid)
        if got is not None:
            return got
        cache[tid] = CType("?", 8, False, False, False)   # cycle guard
        ct = _ctype(tid)
        cache[tid] = ct
        return ct

    def spelled(tid: int, depth: int = 0) -> str:
        if tid == 0:
            return "void"
        if depth > 20:
            return "void"
        kind, name_off, st, info, extra = types[tid]
        name = name_of(name_off)
        if kind in (INT, FLOAT, TYPEDEF):
            return name
        if kind in (STRUCT, UNION, ENUM, ENUM64):
            kw = {STRUCT: "struct", UNION: "union"}.get(kind, "enum")
            return f"{kw} {name}" if name else f"{kw} {{...}}"
        if kind == FWD:
            return ("union " if info >> 31 else "struct ") + name
        if kind == PTR:
            if st and types[st][0] == FUNC_PROTO:
                return "void *"          # function pointer: an address is all we use
            inner = spelled(st, depth + 1)
            return inner + (" *" if not inner.endswith("*") else "*")
        if kind == CONST:
            return "const " + spelled(st, depth + 1)
        if kind == VOLATILE:
            return "volatile " + spelled(st, depth + 1)
        if kind in (RESTRICT, TYPE_TAG):
            return spelled(st, depth + 1)
        if kind == ARRAY:
            elem, _idx, nelems = unpack("<III", data, extra)
            return f"{spelled(elem, depth + 1)}[{nelems}]"
        if kind == FUNC_PROTO:
            return "void"
        return name or "void"

    def strip(tid: int) -> int:
        """Follow typedef/const/volatile/restrict/type_tag to the real type."""
        for _ in range(30):
            if tid == 0:
                return 0
            kind, _n, st, _i, _e = types[tid]
            if kind in (TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG):
                tid = st
            else:
                return tid
        return tid

    def is_char(tid: int) -> bool:
        base = strip(tid)
        if base == 0:
            return False
        kind, name_off, st, info, extra = types[base]
        return kind == INT and name_of(name_off) in ("char", "signed char", "unsigned char")

    def _ctype(tid: int) -> CType:
        text = spelled(tid)
        base = strip(tid)
        if base == 0:
            return CType(text, 8, False, False, False)
        kind, name_off, st, info, extra = types[base]
        if kind == INT:
            enc = unpack("<I", data, extra)[0]
            signed = bool((enc >> 24) & 1)
            return CType(text, st, signed, False, False)
        if kind == PTR:
            return CType(text, 8, False, True, is_char(st))
        if kind in (ENUM, ENUM64):
            return CType(text, st, bool(info >> 31), False, False)
        if kind == ARRAY:
            elem, _idx, nelems = unpack("<III", data, extra)
            return CType(text, 8, False, False, is_char(elem))
        if kind in (STRUCT, UNION):
            return CType(text, st, False, False, False)
        return CType(text, 8, False, False, False)

    out: Dict[str, FuncProto] = {}
    for tid in range(1, len(types)):
        kind, name_off, st, info, extra = types[tid]
        if kind != FUNC:
            continue
        proto = types[st] if 0 < st < len(types) else None
        if proto is None or proto[0] != FUNC_PROTO:
            continue
        _k, _n, ret_tid, pinfo, pextra = proto
        vlen = pinfo & 0xFFFF
        params = []
        for i in range(vlen):
            pname_off, ptype = unpack("<II", data, pextra + 8 * i)
            if ptype == 0:          # trailing "..." of a varargs function
                continue
            params.append((name_of(pname_off), resolve(ptype)))
        name = name_of(name_off)
        out[name] = FuncProto(name, tuple(params), resolve(ret_tid))
    return out


def parse_file(path: str) -> Dict[str, FuncProto]:
    with open(path, "rb") as f:
        return parse(f.read())


def parse_tracepoint_templates(data: bytes) -> Tuple[Dict[str, Tuple[str, ...]],
                                                     Dict[str, Tuple[str, ...]]]:
    """Which `__bpf_trace_<T>` wrapper carries the named TP_PROTO of each
    tracepoint.  An event defined from a template (sched_wakeup from
    sched_wakeup_template) has no wrapper of its own; its `btf_trace_<E>`
    typedef gives the argument types but no names.  Returns
    ({event: templates whose wrapper takes the same argument types},
     {template: its record's field names, from `struct trace_event_raw_<T>`}),
    so the caller can pick the template whose record matches the event's
    tracefs format (several templates often share one signature)."""
    magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC:
        raise BTFError("not BTF (bad magic)")
    type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
    strs = data[hdr_len + str_off:hdr_len + str_off + str_len]

    def name_of(off: int) -> str:
        return strs[off:strs.find(b"\0", off)].decode("utf-8", "replace")

    types: List[tuple] = [(0, 0, 0, 0)]        # (kind, name_off, size_or_type, info, extra)
    pos = hdr_len + type_off
    end = pos + type_len
    unpack = struct.unpack_from
    while pos < end:
        name_off, info, st = unpack("<III", data, pos)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        types.append((kind, name_off, st, info, pos + 12))
        pos += 12 + _EXTRA_FIXED.get(kind, 0) + _EXTRA_PER_VLEN.get(kind, 0) * vlen

    def param_types(proto_tid: int) -> Optional[Tuple[int, ...]]:
        if not 0 < proto_tid < len(types) or types[proto_tid][0] != FUNC_PROTO:
            return None
        _k, _n, _r, info, extra = types[proto_tid]
        return tuple(unpack("<II", data, extra + 8 * i)[1] for i in range(info & 0xFFFF))

    wrappers: Dict[Tuple[int, ...], List[str]] = {}
    events: Dict[str, Tuple[int, ...]] = {}
    fields: Dict[str, Tuple[str, ...]] = {}
    for kind, name_off, st, info, extra in types[1:]:
        if kind == FUNC:
            name = name_of(name_off)
            if name.startswith("__bpf_trace_"):
                sig = param_types(st)
                if sig is not None:
                    wrappers.setdefault(sig, []).append(name[len("__bpf_trace_"):])
        elif kind == TYPEDEF:
            name = name_of(name_off)
            if name.startswith("btf_trace_") and 0 < st < len(types) and types[st][0] == PTR:
                sig = param_types(types[st][2])
                if sig is not None:
                    events[name[len("btf_trace_"):]] = sig
        elif kind == STRUCT:
            name = name_of(name_off)
            if name.startswith("trace_event_raw_"):
                members = []
                for i in range(info & 0xFFFF):
                    m = name_of(unpack("<I", data, extra + 12 * i)[0])
                    if m in ("ent", "__data"):
                        continue
                    members.append(m[len("__data_loc_"):] if m.startswith("__data_loc_") else m)
                fields[name[len("trace_event_raw_"):]] = tuple(members)
    templates = {ev: tuple(wrappers.get(sig, ())) for ev, sig in events.items()}
    used = {t for ts in templates.values() for t in ts}
    return templates, {t: f for t, f in fields.items() if t in used}
