"""Byte offsets of a few kernel struct members, read from this kernel's BTF.

BCC compiles against whatever kernel headers are installed (here older than
the running kernel), so `task->real_parent` through its headers may use the
wrong layout.  ppid()/euid()/egid() read task_struct and cred through the
offsets found here instead; they become -D style #defines in the prelude.
The scan result is cached on disk keyed by the BTF file's size and mtime.
"""
from __future__ import annotations

import re
import os
import struct
from typing import Dict, List, Optional, Tuple

BTF_PATH = "/sys/kernel/btf/vmlinux"

# (struct, member path) -> #define name
WANTED = {
    ("task_struct", "real_parent"): "PYTAP_OFF_TASK_REAL_PARENT",
    ("task_struct", "tgid"): "PYTAP_OFF_TASK_TGID",
    ("task_struct", "cred"): "PYTAP_OFF_TASK_CRED",
    ("task_struct", "pid"): "PYTAP_OFF_TASK_PID",
    ("task_struct", "comm"): "PYTAP_OFF_TASK_COMM",
    ("cred", "euid"): "PYTAP_OFF_CRED_EUID",
    ("cred", "egid"): "PYTAP_OFF_CRED_EGID",
    ("task_struct", "__state"): "PYTAP_OFF_TASK_STATE",         # task_state()
    ("task_struct", "thread_info"): "PYTAP_OFF_TASK_THREAD_INFO",
    ("thread_info", "cpu"): "PYTAP_OFF_THREAD_INFO_CPU",       # task_cpu()
}

_EXTRA = {1: lambda v: 4, 3: lambda v: 12, 4: lambda v: 12 * v, 5: lambda v: 12 * v,
          6: lambda v: 8 * v, 13: lambda v: 8 * v, 14: lambda v: 4, 15: lambda v: 12 * v,
          17: lambda v: 4, 19: lambda v: 12 * v}


def _parse(data: bytes) -> Dict[str, int]:
    magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != 0xEB9F:
        raise ValueError("not BTF")
    type_off, type_len, str_off, _str_len = struct.unpack_from("<IIII", data, 8)
    tbase = hdr_len + type_off
    sbase = hdr_len + str_off

    def name(off: int) -> str:
        end = data.index(b"\0", sbase + off)
        return data[sbase + off:end].decode("latin-1")

    types: List[Tuple[int, int, int, int]] = [(0, 0, 0, 0)]   # (kind, vlen, kflag, pos)
    pos = tbase
    end = tbase + type_len
    while pos < end:
        name_off, info, _sz = struct.unpack_from("<III", data, pos)
        kind = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kflag = info >> 31
        types.append((kind, vlen, kflag, pos))
        pos += 12 + _EXTRA.get(kind, lambda v: 0)(vlen)

    def members(tid: int):
        kind, vlen, kflag, p = types[tid]
        out = []
        for i in range(vlen):
            mname, mtype, moff = struct.unpack_from("<III", data, p + 12 + 12 * i)
            bit = moff & 0xFFFFFF if kflag else moff
            out.append((name(mname) if mname else "", mtype, bit))
        return out

    def resolve(tid: int) -> int:
        while types[tid][0] in (8, 9, 10, 11, 18):      # typedef/volatile/const/restrict/type_tag
            tid = struct.unpack_from("<I", data, types[tid][3] + 8)[0]
        return tid

    def find(tid: int, member: str, base: int) -> Optional[int]:
        for mname, mtype, bit in members(tid):
            if mname == member:
                return base + bit
            if not mname:
                t = resolve(mtype)
                if types[t][0] in (4, 5):
                    r = find(t, member, base + bit)
                    if r is not None:
                        return r
        return None

    want_structs = {s for s, _ in WANTED}
    struct_ids: Dict[str, int] = {}
    for tid in range(1, len(types)):
        kind, vlen, _kf, p = types[tid]
        if kind == 4 and vlen:
            nm = name(struct.unpack_from("<I", data, p)[0])
            if nm in want_structs and nm not in struct_ids:
                struct_ids[nm] = tid
    out: Dict[str, int] = {}
    for (sname, member), define in WANTED.items():
        tid = struct_ids.get(sname)
        if tid is None:
            continue
        bit = find(tid, member, 0)
        if bit is not None and bit % 8 == 0:
            out[define] = bit // 8
    return out


CACHE_NAME = "btf_offsets.json"


def offsets(path: str = BTF_PATH) -> List[Tuple[str, int]]:
    """[(define, byte offset)] for the members found; [] without BTF.
    All task/cred members must be found, else none are used."""
    try:
        stt = os.stat(path)
    except OSError:
        return []
    key = f"{path}:{stt.st_size}:{int(stt.st_mtime)}:{sorted(WANTED.values())}"
    from .. import cachefs
    root = cachefs.default_root()
    cached = cachefs.load_json(root, CACHE_NAME)
    try:
        if cached.get("key") == key:
            return [tuple(x) for x in cached["offsets"]]
    except (AttributeError, KeyError, TypeError):
        pass
    try:
        with open(path, "rb") as f:
            found = _parse(f.read())
    except (OSError, ValueError, struct.error):
        return []
    result = []
    if all(d in found for d in ("PYTAP_OFF_TASK_REAL_PARENT", "PYTAP_OFF_TASK_TGID")):
        result += [("PYTAP_OFF_TASK_REAL_PARENT", found["PYTAP_OFF_TASK_REAL_PARENT"]),
                   ("PYTAP_OFF_TASK_TGID", found["PYTAP_OFF_TASK_TGID"])]
    result += [(d, found[d]) for d in ("PYTAP_OFF_TASK_PID", "PYTAP_OFF_TASK_COMM",
                                       "PYTAP_OFF_TASK_STATE") if d in found]
    if all(d in found for d in ("PYTAP_OFF_TASK_THREAD_INFO", "PYTAP_OFF_THREAD_INFO_CPU")):
        result += [(d, found[d]) for d in ("PYTAP_OFF_TASK_THREAD_INFO", "PYTAP_OFF_THREAD_INFO_CPU")]
    if all(d in found for d in ("PYTAP_OFF_TASK_CRED", "PYTAP_OFF_CRED_EUID", "PYTAP_OFF_CRED_EGID")):
        result += [(d, found[d]) for d in ("PYTAP_OFF_TASK_CRED", "PYTAP_OFF_CRED_EUID",
                                           "PYTAP_OFF_CRED_EGID")]
    cachefs.store_json(root, CACHE_NAME, {"key": key, "offsets": result})
    return result


# ---------------------------------------------------------------- type walk
# For $var->member chains: the kernel's own struct layouts from BTF.

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 7, 8, 9, 10, 11
KIND_TYPE_TAG, KIND_ENUM64, KIND_FLOAT = 18, 19, 16


class BtfTypes:
    """A read-only index of BTF types: enough to follow struct members.
    With `base`, `data` is a module's split BTF (/sys/kernel/btf/MODULE):
    its type ids and string offsets continue the base (vmlinux) ones."""

    def __init__(self, data: bytes, base: "Optional[BtfTypes]" = None):
        magic, _ver, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
        if magic != 0xEB9F:
            raise ValueError("not BTF")
        type_off, type_len, str_off, str_len = struct.unpack_from("<IIII", data, 8)
        self.data = data
        self.sbase = hdr_len + str_off
        self.base = base
        self.str_start = base.str_end if base is not None else 0
        self.str_end = self.str_start + str_len
        # (kind, vlen, kflag, pos, size_or_type, data the pos is in)
        self.types = list(base.types) if base is not None else [(0, 0, 0, 0, 0, data)]
        self.n_base = len(self.types)        # ids below are the base's
        pos = hdr_len + type_off
        end = pos + type_len
        self.structs: Dict[str, int] = {}
        # other named types, for @cast(p, "TYPE"): "union u", "enum e",
        # typedefs and base types by their bare name
        self.named: Dict[str, int] = {}
        self._enum_values: Optional[Dict[str, int]] = None
        while pos < end:
            name_off, info, st = struct.unpack_from("<III", data, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            self.types.append((kind, vlen, info >> 31, pos, st, data))
            tid = len(self.types) - 1
            if name_off:
                if kind in (KIND_STRUCT, KIND_UNION) and vlen:
                    self.structs.setdefault(self.name(name_off), tid)
                    kw = "struct " if kind == KIND_STRUCT else "union "
                    self.named.setdefault(kw + self.name(name_off), tid)
                elif kind in (KIND_ENUM, KIND_ENUM64):
                    self.named.setdefault("enum " + self.name(name_off), tid)
                elif kind in (KIND_TYPEDEF, KIND_INT, KIND_FLOAT):
                    self.named.setdefault(self.name(name_off), tid)
            pos += 12 + _EXTRA.get(kind, lambda v: 0)(vlen)

    def name(self, off: int) -> str:
        if self.base is not None and off < self.str_start:
            return self.base.name(off)
        at = self.sbase + off - self.str_start
        end = self.data.index(b"\0", at)
        return self.data[at:end].decode("latin-1")

    def kind(self, tid: int) -> int:
        return self.types[tid][0]

    def strip(self, tid: int) -> int:
        while self.types[tid][0] in (KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT,
                                     KIND_TYPE_TAG):
            tid = self.types[tid][4]
        return tid

    def target(self, tid: int) -> int:
        """What a pointer points to / an array holds."""
        kind, _v, _k, pos, st, data = self.types[tid]
        if kind == KIND_ARRAY:
            return struct.unpack_from("<I", data, pos + 12)[0]
        return st

    def array_len(self, tid: int) -> int:
        t = self.types[tid]
        return struct.unpack_from("<III", t[5], t[3] + 12)[2]

    def size(self, tid: int) -> int:
        tid = self.strip(tid)
        kind, _v, _k, _p, st, _d = self.types[tid]
        if kind == KIND_PTR:
            return 8
        if kind == KIND_ARRAY:
            return self.size(self.target(tid)) * self.array_len(tid)
        if kind in (KIND_INT, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_ENUM64):
            return st
        return 8

    def signed(self, tid: int) -> bool:
        tid = self.strip(tid)
        kind, _v, _k, pos, _st, data = self.types[tid]
        if kind == KIND_INT:
            enc = struct.unpack_from("<I", data, pos + 12)[0]
            return bool((enc >> 24) & 1)
        return kind == KIND_ENUM

    def member(self, tid: int, name: str):
        """(byte offset, member type id) of `name` in struct/union tid,
        looking into anonymous members; None if absent or a bit field."""
        kind, vlen, kflag, pos, _st, data = self.types[tid]
        for i in range(vlen):
            mname, mtype, moff = struct.unpack_from("<III", data, pos + 12 + 12 * i)
            bit = moff & 0xFFFFFF if kflag else moff
            if kflag and (moff >> 24):
                continue                      # bit field
            if mname and self.name(mname) == name:
                return (bit // 8, mtype) if bit % 8 == 0 else None
            if not mname:
                inner = self.strip(mtype)
                if self.kind(inner) in (KIND_STRUCT, KIND_UNION):
                    r = self.member(inner, name)
                    if r is not None:
                        return (bit // 8 + r[0], r[1])
        return None


    def bitfield(self, tid: int, name: str):
        """(bit offset, bit size, member type id) of bit field `name` in
        struct/union tid, looking into anonymous members; None if absent
        or not a bit field."""
        kind, vlen, kflag, pos, _st, data = self.types[tid]
        for i in range(vlen):
            mname, mtype, moff = struct.unpack_from("<III", data, pos + 12 + 12 * i)
            bit = moff & 0xFFFFFF if kflag else moff
            nbits = moff >> 24 if kflag else 0
            if mname and self.name(mname) == name:
                t = self.strip(mtype)
                if not nbits and self.kind(t) == KIND_INT:
                    # without kflag, a bit field's size is in its int type
                    enc = struct.unpack_from("<I", self.types[t][5], self.types[t][3] + 12)[0]
                    ibits, ioff = enc & 0xFF, (enc >> 16) & 0xFF
                    if ibits != 8 * self.size(t) or bit % 8:
                        return bit + ioff, ibits, mtype
                if nbits:
                    return bit, nbits, mtype
                return None
            if not mname:
                inner = self.strip(mtype)
                if self.kind(inner) in (KIND_STRUCT, KIND_UNION):
                    r = self.bitfield(inner, name)
                    if r is not None:
                        return (bit + r[0], r[1], r[2])
        return None

    def enum_value(self, name: str) -> Optional[int]:
        """The value of enumerator `name` (TASK_COMM_LEN, PIDTYPE_TGID…)."""
        if self._enum_values is None:
            vals: Dict[str, int] = {}
            for kind, vlen, kflag, pos, _st, data in self.types:
                if kind == KIND_ENUM:
                    for i in range(vlen):
                        no, v = struct.unpack_from("<Ii" if kflag else "<II", data, pos + 12 + 8 * i)
                        vals.setdefault(self.name(no), v)
                elif kind == KIND_ENUM64:
                    for i in range(vlen):
                        no, lo, hi = struct.unpack_from("<III", data, pos + 12 + 12 * i)
                        v = (hi << 32) | lo
                        if kflag and v >= 1 << 63:
                            v -= 1 << 64
                        vals.setdefault(self.name(no), v)
            self._enum_values = vals
        return self._enum_values.get(name)


_TYPES: Optional[BtfTypes] = None


def kernel_types(path: str = BTF_PATH) -> Optional[BtfTypes]:
    global _TYPES
    if _TYPES is None:
        try:
            with open(path, "rb") as f:
                _TYPES = BtfTypes(f.read())
        except (OSError, ValueError, struct.error):
            return None
    return _TYPES


_MODULES: Dict[str, Optional[BtfTypes]] = {}


def types_with_struct(name: str, path: str = BTF_PATH):
    """(types, type id) of `struct name`: from vmlinux, else from the BTF of
    a loaded module that defines it (nfs_inode, svc_rqst, scsi_cmnd ... on
    kernels that build them as modules); (None, None) if none does."""
    bt = kernel_types(path)
    if bt is None:
        return None, None
    tid = bt.structs.get(name)
    if tid is not None:
        return bt, tid
    for _m, mt in module_types(path):
        if name in mt.structs:
            return mt, mt.structs[name]
    return None, None


def module_types(path: str = BTF_PATH):
    """(module name, BtfTypes) of each loaded module's split BTF
    (/sys/kernel/btf/MODULE), read on first use."""
    bt = kernel_types(path)
    if bt is None:
        return
    btf_dir = os.path.dirname(path)
    try:
        mods = sorted(m for m in os.listdir(btf_dir) if m != "vmlinux")
    except OSError:
        return
    for m in mods:
        if m not in _MODULES:
            try:
                with open(os.path.join(btf_dir, m), "rb") as f:
                    _MODULES[m] = BtfTypes(f.read(), base=bt)
            except (OSError, ValueError, struct.error):
                _MODULES[m] = None
        if _MODULES[m] is not None:
            yield m, _MODULES[m]


def _mod_ref(m: str, mt: BtfTypes, tid: int):
    """A TypeRef for type `tid` of module m's split BTF: ("mod", m, tid),
    or the plain id when it is one of vmlinux's (below the split)."""
    return tid if tid < mt.n_base else ("mod", m, tid)


def _is_mod(ref) -> bool:
    return isinstance(ref, tuple) and ref[0] == "mod"


# ------------------------------------------------------- types as C spells them
# A type reference for target-expression walks: a BTF type id (int), or one
# BTF does not spell out itself: ("ptr", ref), ("arr", ref, n), ("int", size, signed).

_BASE_SPELLINGS = {
    # C spellings -> the names gcc writes into BTF
    "unsigned": "unsigned int", "signed": "int", "signed int": "int",
    "unsigned long": "long unsigned int", "long unsigned": "long unsigned int",
    "long": "long int", "signed long": "long int", "long signed int": "long int",
    "unsigned long long": "long long unsigned int", "long long": "long long int",
    "signed long long": "long long int", "unsigned short": "short unsigned int",
    "short": "short int", "signed short": "short int", "unsigned short int": "short unsigned int",
    "unsigned long int": "long unsigned int", "unsigned long long int": "long long unsigned int",
    "signed char": "signed char", "_Bool": "_Bool", "bool": "_Bool",
}
_FALLBACK_INTS = {"char": (1, True), "unsigned char": (1, False), "signed char": (1, True),
                  "short int": (2, True), "short unsigned int": (2, False), "int": (4, True),
                  "unsigned int": (4, False), "long int": (8, True), "long unsigned int": (8, False),
                  "long long int": (8, True), "long long unsigned int": (8, False), "_Bool": (1, False),
                  "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
                  "s8": (1, True), "s16": (2, True), "s32": (4, True), "s64": (8, True)}


def _lookup_named(bt: "BtfTypes", base: str) -> Optional[int]:
    m = re.fullmatch(r"(struct|union|enum)\s+(\w+)", base)
    if m:
        ref = bt.named.get(f"{m.group(1)} {m.group(2)}")
        if ref is None and m.group(1) != "enum":
            ref = bt.named.get(("union " if m.group(1) == "struct" else "struct ") + m.group(2))
        return ref
    name = _BASE_SPELLINGS.get(base, base)
    ref = bt.named.get(name)
    if ref is None and re.fullmatch(r"\w+", base):
        # stap's @cast(p, "task_struct"): a bare struct/union name
        ref = bt.named.get("struct " + base) or bt.named.get("union " + base)
    return ref


def parse_type(bt: Optional["BtfTypes"], text: str):
    """A TypeRef for a C type name: "struct task_struct *", "char[16]",
    "u_int8_t", "unsigned long", "enum pid_type", "task_struct" (a bare
    struct/union name, as @cast allows); None if unknown."""
    t = re.sub(r"\b(const|volatile|__user|__rcu|__iomem|__percpu|__force|restrict)\b", " ", text or "")
    t = " ".join(t.replace("*", " * ").replace("[", " [").split())
    dims = [int(n) if n else 0 for n in re.findall(r"\[\s*(\d*)\s*\]", t)]
    t = re.sub(r"\s*\[\s*\d*\s*\]", "", t).strip()
    stars = t.count("*")
    base = t.replace("*", "").strip()
    base = " ".join(base.split())
    ref = None
    if bt is not None:
        ref = _lookup_named(bt, base)
        if ref is None and bt is _TYPES and base not in _FALLBACK_INTS and base != "void":
            # a type only a loaded module defines (struct nfs_inode,
            # struct scsi_cmnd ... where nfs / scsi_mod are modules)
            for mname, mt in module_types():
                r = _lookup_named(mt, base)
                if r is not None:
                    ref = _mod_ref(mname, mt, r)
                    break
    if ref is None:
        name = _BASE_SPELLINGS.get(base, base)
        if name in _FALLBACK_INTS:
            ref = ("int",) + _FALLBACK_INTS[name]
        elif base == "void" and stars:
            ref = ("int", 1, False)          # void *: byte steps, as gcc does
    if ref is None:
        return None
    for _ in range(stars):
        ref = ("ptr", ref)
    for n in reversed(dims):
        ref = ("arr", ref, n)
    return ref


def dwarf_type(ref) -> bool:
    """A user program's type (platform.dwarf.DType) rather than BTF's."""
    return not isinstance(ref, (int, tuple))


_DWARF_KINDS = {"base": KIND_INT, "enum": KIND_ENUM, "ptr": KIND_PTR, "array": KIND_ARRAY,
                "struct": KIND_STRUCT, "union": KIND_UNION}


class TypeView:
    """Kind/size/member questions about a TypeRef (see parse_type), or a
    user program's DWARF type (platform.dwarf.DType)."""

    def __init__(self, bt: Optional["BtfTypes"]):
        self.bt = bt

    def _module(self, ref):
        """(module BtfTypes, wrap) for a ("mod", m, tid) ref: the module's
        split BTF answers for it; wrap turns its ids back into TypeRefs."""
        mt = _MODULES[ref[1]]
        return mt, (lambda t: _mod_ref(ref[1], mt, t))

    def strip(self, ref):
        if dwarf_type(ref):
            return ref.strip()
        if _is_mod(ref):
            mt, wrap = self._module(ref)
            return wrap(mt.strip(ref[2]))
        return self.bt.strip(ref) if isinstance(ref, int) else ref

    def kind(self, ref) -> int:
        ref = self.strip(ref)
        if dwarf_type(ref):
            return _DWARF_KINDS.get(ref.kind, KIND_INT)
        if _is_mod(ref):
            return _MODULES[ref[1]].kind(ref[2])
        if isinstance(ref, tuple):
            return {"ptr": KIND_PTR, "arr": KIND_ARRAY, "int": KIND_INT}[ref[0]]
        return self.bt.kind(ref)

    def target(self, ref):
        ref = self.strip(ref)
        if dwarf_type(ref):
            return ref.target.strip() if ref.target is not None else ("int", 1, False)
        if _is_mod(ref):
            mt, wrap = self._module(ref)
            t = mt.target(ref[2])
            return self.strip(wrap(t)) if t else ("int", 1, False)
        if isinstance(ref, tuple):
            return self.strip(ref[1])
        t = self.bt.target(ref)
        return self.strip(t) if t else ("int", 1, False)     # void *: byte steps

    def array_len(self, ref) -> int:
        ref = self.strip(ref)
        if dwarf_type(ref):
            return ref.count if ref.kind == "array" else 0
        if _is_mod(ref):
            return _MODULES[ref[1]].array_len(ref[2])
        if isinstance(ref, tuple):
            return ref[2] if ref[0] == "arr" else 0
        return self.bt.array_len(ref)

    def size(self, ref) -> int:
        ref = self.strip(ref)
        if dwarf_type(ref):
            return ref.byte_size()
        if _is_mod(ref):
            return _MODULES[ref[1]].size(ref[2])
        if isinstance(ref, tuple):
            if ref[0] == "ptr":
                return 8
            if ref[0] == "int":
                return ref[1]
            return self.size(ref[1]) * ref[2]
        return self.bt.size(ref)

    def signed(self, ref) -> bool:
        ref = self.strip(ref)
        if dwarf_type(ref):
            return ref.signed
        if _is_mod(ref):
            return _MODULES[ref[1]].signed(ref[2])
        if isinstance(ref, tuple):
            return ref[0] == "int" and ref[2]
        return self.bt.signed(ref)

    def member(self, ref, name):
        ref = self.strip(ref)
        if dwarf_type(ref):
            for mname, off, mt in ref.members:
                if mname == name:
                    return off, mt
                if not mname and mt.strip().kind in ("struct", "union"):
                    r = self.member(mt, name)
                    if r is not None:
                        return off + r[0], r[1]
            return None
        if _is_mod(ref):
            mt, wrap = self._module(ref)
            r = mt.member(ref[2], name)
            return None if r is None else (r[0], wrap(r[1]))
        return None if isinstance(ref, tuple) else self.bt.member(ref, name)

    def bitfield(self, ref, name):
        """(bit offset, bit size, member TypeRef) of a bit field, else None
        (BTF types only; a user program's DWARF bit fields are not read)."""
        ref = self.strip(ref)
        if _is_mod(ref):
            mt, wrap = self._module(ref)
            r = mt.bitfield(ref[2], name)
            return None if r is None else (r[0], r[1], wrap(r[2]))
        if isinstance(ref, int) and self.bt is not None:
            return self.bt.bitfield(ref, name)
        return None

    def member_names(self, ref) -> List[str]:
        """The member names of a struct/union, those of anonymous members
        spliced in, each once: stap's "(alternatives: ...)" list."""
        ref = self.strip(ref)
        out: List[str] = []
        if dwarf_type(ref):
            for mname, _off, mt in ref.members:
                if mname:
                    out.append(mname)
                elif mt.strip().kind in ("struct", "union"):
                    out += self.member_names(mt)
        elif isinstance(ref, int) or _is_mod(ref):
            tbl, wrap = self._module(ref) if _is_mod(ref) else (self.bt, lambda t: t)
            tid = ref[2] if _is_mod(ref) else ref
            kind, vlen, _k, pos, _st, data = tbl.types[tid]
            if kind in (KIND_STRUCT, KIND_UNION):
                for i in range(vlen):
                    mname, mtype, _moff = struct.unpack_from("<III", data, pos + 12 + 12 * i)
                    if mname:
                        out.append(tbl.name(mname))
                    else:
                        out += self.member_names(wrap(mtype))
        return list(dict.fromkeys(out))

    def no_member_message(self, ref, name: str) -> str:
        """stap's text for a member the type lacks."""
        names = self.member_names(ref)
        alt = f" (alternatives: {' '.join(names)})" if names else ""
        return f"unable to find member '{name}' for {self.spell(self.strip(ref))}{alt}"

    def spell(self, ref) -> str:
        """C spelling for messages: "char[16]", "struct task_struct *"."""
        if dwarf_type(ref):
            return ref.spell()
        if _is_mod(ref):
            tbl, wrap = self._module(ref)
            ref = ref[2]
        elif isinstance(ref, tuple):
            if ref[0] == "ptr":
                return self.spell(ref[1]) + " *"
            if ref[0] == "arr":
                return f"{self.spell(ref[1])}[{ref[2]}]"
            return {(1, True): "char", (1, False): "unsigned char"}.get(ref[1:], f"int{ref[1] * 8}")
        else:
            tbl, wrap = self.bt, (lambda t: t)
        kind, _v, _k, pos, st, data = tbl.types[ref]
        name = tbl.name(struct.unpack_from("<I", data, pos)[0])
        if kind == KIND_PTR:
            return self.spell(wrap(st)) + " *" if st else "void *"
        if kind == KIND_ARRAY:
            return f"{self.spell(wrap(tbl.target(ref)))}[{tbl.array_len(ref)}]"
        if kind in (KIND_CONST, KIND_VOLATILE, KIND_RESTRICT, KIND_TYPE_TAG):
            return self.spell(wrap(st))
        if kind == KIND_STRUCT:
            return f"struct {name or '{...}'}"
        if kind == KIND_UNION:
            return f"union {name or '{...}'}"
        if kind in (KIND_ENUM, KIND_ENUM64):
            return f"enum {name}"
        return name or "?"


def components_resolve(bt: "BtfTypes", ref, components, from_pointer: bool = True) -> bool:
    """Whether ->member / [index] components can be followed from a value
    of type `ref` (a pointer's pointee when from_pointer), as pass 2's
    @defined($p->m) asks; the walk mirrors codegen's follow()."""
    tv = TypeView(bt)
    t = tv.strip(ref)
    is_ptr = from_pointer
    for comp in components:
        if comp.kind == "member":
            if tv.kind(t) == KIND_PTR and not is_ptr:
                t, is_ptr = tv.target(t), True
            if tv.kind(t) not in (KIND_STRUCT, KIND_UNION):
                return False
            r = tv.member(t, comp.name)
            if r is None:
                # a bit field is a value: nothing follows it
                return comp is components[-1] and tv.bitfield(t, comp.name) is not None
            t, is_ptr = tv.strip(r[1]), False
        elif comp.kind == "index":
            if is_ptr:
                is_ptr = False
            elif tv.kind(t) == KIND_ARRAY:
                t = tv.target(t)
            elif tv.kind(t) == KIND_PTR:
                t = tv.target(t)
            else:
                return False
        else:
            return False
    return True


def static_address(tv: "TypeView", ref, base: int, components, index_value) -> int:
    """`&@cast(base, "T")->a[i]->b` computed without reading memory: only
    for a path whose every step stays inside the object (members, and
    indexes of the pointer itself or of arrays), as @cast_sizeof /
    @offsetof use it.  index_value(node) gives a constant index.  Raises
    ValueError when a step would dereference a pointer."""
    t, is_ptr, addr = tv.strip(ref), True, base
    for comp in components:
        if comp.kind == "member":
            if tv.kind(t) not in (KIND_STRUCT, KIND_UNION):
                raise ValueError("not a struct")
            r = tv.member(t, comp.name)
            if r is None:
                raise ValueError(tv.no_member_message(t, comp.name))
            addr += r[0]
            t, is_ptr = tv.strip(r[1]), False
            if tv.kind(t) == KIND_PTR:
                raise ValueError("a pointer member would be read")
        elif comp.kind == "index":
            i = index_value(comp)
            if is_ptr:
                addr += i * tv.size(t)
                is_ptr = False
            elif tv.kind(t) == KIND_ARRAY:
                t = tv.target(t)
                addr += i * tv.size(t)
            else:
                raise ValueError("cannot index")
        else:
            raise ValueError("unsupported")
    return addr
