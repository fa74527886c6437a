"""Byte offsets of a few kernel struct members, read from this kernel's BTF.

BCC compiles against whatever kernel headers are installed (here older than
the running kernel), so `task->real_parent` through its headers may use the
wrong layout.  ppid()/euid()/egid() read task_struct and cred through the
offsets found here instead; they become -D style #defines in the prelude.
The scan result is cached on disk keyed by the BTF file's size and mtime.
"""
from __future__ import annotations

import json
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


def _cache_file() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pytap", "btf_offsets.json")


def offsets(path: str = BTF_PATH) -> List[Tuple[str, int]]:
    """[(define, byte offset)] for the members found; [] without BTF.
    All task/cred members must be found, else none are used."""
    try:
        stt = os.stat(path)
    except OSError:
        return []
    key = f"{path}:{stt.st_size}:{int(stt.st_mtime)}:{sorted(WANTED.values())}"
    cf = _cache_file()
    try:
        with open(cf) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return [tuple(x) for x in cached["offsets"]]
    except (OSError, ValueError, KeyError):
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
    try:
        os.makedirs(os.path.dirname(cf), exist_ok=True)
        with open(cf, "w") as f:
            json.dump({"key": key, "offsets": result}, f)
    except OSError:
        pass
    return result


# ---------------------------------------------------------------- type walk
# For $var->member chains: the kernel's own struct layouts from BTF.

KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 7, 8, 9, 10, 11
KIND_TYPE_TAG, KIND_ENUM64 = 18, 19


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
        pos = hdr_len + type_off
        end = pos + type_len
        self.structs: Dict[str, int] = {}
        while pos < end:
            name_off, info, st = struct.unpack_from("<III", data, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            self.types.append((kind, vlen, info >> 31, pos, st, data))
            if kind in (KIND_STRUCT, KIND_UNION) and vlen and name_off:
                self.structs.setdefault(self.name(name_off), len(self.types) - 1)
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
    btf_dir = os.path.dirname(path)
    try:
        mods = sorted(m for m in os.listdir(btf_dir) if m != "vmlinux")
    except OSError:
        return None, None
    for m in mods:
        if m not in _MODULES:
            try:
                with open(os.path.join(btf_dir, m), "rb") as f:
                    _MODULES[m] = BtfTypes(f.read(), base=bt)
            except (OSError, ValueError, struct.error):
                _MODULES[m] = None
        mt = _MODULES[m]
        if mt is not None and name in mt.structs:
            return mt, mt.structs[name]
    return None, None
