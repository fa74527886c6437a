"""A cache of loaded BPF program images, so a warm run skips BCC's clang.

Key: sha256 of (c_source, cflags, kernel release and build, BCC version,
pytap version, this module's FORMAT).  Entry: one JSON file under
`<opts.cache_dir>/bpf/<key>.json` holding

  * per map (every table BCC created): name, type, key/value size,
    max_entries, flags, and BCC's key/leaf type descriptions (the JSON BCC
    builds its ctypes from, so bpfstore sees the same Key/Leaf layouts);
  * per BPF function: its final instructions (BCC has already turned every
    map reference into `ld_imm64 dst, map_fd` with src_reg
    BPF_PSEUDO_MAP_FD), the positions of those ld_imm64s and the map each
    names, program type, license and kernel version.

On a miss `capture(bpf, ...)` records that after BCC compiled and the
verifier accepted everything.  On a hit `CachedBPF(entry)` recreates the
maps with bpf(2), patches the new fds into the instructions, loads the
programs, and offers the part of bcc.BPF's interface pytap's run time uses
(load_func, tables, ring buffer, perf-event attach, cleanup).

kprobe programs replay too: their kprobes open through the kprobe PMU
(CachedBPF.attach_kprobe); only a .maxactive(N) return probe keeps bcc.BPF.
"""
from __future__ import annotations

import base64
import ctypes as ct
import hashlib
import json
import os
import struct
import sys
from pathlib import Path
from typing import Dict, List, Optional

FORMAT = 1
LD_IMM64 = 0x18                      # BPF_LD | BPF_IMM | BPF_DW
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE = 1, 2


def _debug(msg: str) -> None:
    if os.environ.get("PYTAP_DEBUG") or os.environ.get("PYTAP_OBJCACHE_DEBUG"):
        sys.stderr.write(f"pytap objcache: {msg}\n")


def note(event: str, path) -> None:
    """PYTAP_OBJCACHE_LOG=FILE: one line per lookup (hit / miss / stored /
    replay-failed), so a test suite can check its warm run never compiled."""
    log = os.environ.get("PYTAP_OBJCACHE_LOG")
    if log:
        try:
            with open(log, "a") as f:
                f.write(f"{event} {path}\n")
        except OSError:
            pass


def enabled(opts) -> bool:
    if os.environ.get("PYTAP_NO_OBJCACHE") or os.environ.get("PYTAP_NO_CACHE"):
        return False
    return bool(getattr(opts, "use_cache", True)) if opts is not None else True


def _bcc_version() -> str:
    """BCC's version without importing bcc (the import costs ~0.1 s)."""
    try:
        import importlib.util
        spec = importlib.util.find_spec("bcc")
        if spec is None or not spec.origin:
            return "none"
        path = os.path.join(os.path.dirname(spec.origin), "version.py")
        with open(path) as f:
            return f.read().strip()
    except Exception:
        return "unknown"


def cache_key(c_source: str, cflags: List[str]) -> str:
    from .. import __version__
    u = os.uname()
    h = hashlib.sha256()
    for part in (f"pytap-objcache-{FORMAT}", __version__, u.release, u.version, u.machine,
                 _bcc_version(), json.dumps(list(cflags)), c_source):
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def cache_path(opts, key: str) -> Path:
    from ..options import Options
    base = opts.cache_dir if opts is not None else Options().cache_dir
    return Path(base) / "bpf" / f"{key}.json"


def cacheable(program) -> bool:
    """kprobes replay through the kprobe PMU (CachedBPF.attach_kprobe), which
    has no maxactive: a .maxactive(N) return probe keeps BCC's way."""
    for _fn, rp in getattr(program, "attach_groups", []) or []:
        if getattr(rp, "family", None) == "kprobe" and (getattr(rp, "spec", None) or {}).get("maxactive"):
            return False
    return True


MAX_ENTRIES = 256          # oldest (least recently used) entries go beyond this


def _where(path: Path):
    """(cache root, relative name) of <root>/bpf/<key>.json, for cachefs:
    root loads what an entry says into the kernel, so entries count only
    when they and their directories up to the cache root are ours alone."""
    path = Path(path)
    return path.parent.parent, f"{path.parent.name}/{path.name}"


def lookup(path: Path) -> Optional[dict]:
    from .. import cachefs
    entry = cachefs.load_json(*_where(path), touch=True)   # touch: kept by _evict
    if not isinstance(entry, dict) or entry.get("format") != FORMAT:
        return None
    return entry


def save(path: Path, entry: dict) -> None:
    """Atomic: a concurrent reader sees the old file or the whole new one."""
    from .. import cachefs
    root, rel = _where(path)
    if not cachefs.store_json(root, rel, entry):
        _debug(f"cannot write {path}")
        return
    _evict(root, rel.split("/")[0])


def _evict(root: Path, sub: str) -> None:
    from .. import cachefs
    files = sorted((st.st_mtime, name) for name, st in cachefs.entries(root, sub)
                   if name.endswith(".json"))
    if len(files) <= MAX_ENTRIES:
        return
    for _, name in files[: len(files) - MAX_ENTRIES]:
        cachefs.remove(root, f"{sub}/{name}")


def forget(path: Path) -> None:
    from .. import cachefs
    cachefs.remove(*_where(path))


# ------------------------------------------------------------------ capture

def _map_refs(insns: bytes, fd_to_map: Dict[int, int]) -> Optional[List[list]]:
    """[[insn index, map index, src_reg], ...] for every map-fd ld_imm64;
    None when an ld_imm64 names an fd we do not know (uncacheable)."""
    refs = []
    n = len(insns) // 8
    i = 0
    while i < n:
        code = insns[i * 8]
        if code == LD_IMM64:
            src = insns[i * 8 + 1] >> 4
            if src in (PSEUDO_MAP_FD, PSEUDO_MAP_VALUE):
                fd = struct.unpack_from("<i", insns, i * 8 + 4)[0]
                if fd not in fd_to_map:
                    return None
                refs.append([i, fd_to_map[fd], src])
            elif src != 0:
                return None            # BTF ids, functions...: not ours to patch
            i += 2
            continue
        i += 1
    return refs


def capture(bpf, program, functions: List[tuple]) -> Optional[dict]:
    """The cache entry for a BCC-loaded program, or None if it cannot be
    replayed.  `functions`: [(fn_name, numeric prog type)] as loaded."""
    try:
        from bcc.libbcc import lib
        from . import bpfsys
        mod = bpf.module
        lib.bpf_num_tables.restype = ct.c_size_t
        lib.bpf_num_tables.argtypes = [ct.c_void_p]
        lib.bpf_table_name.restype = ct.c_char_p
        lib.bpf_table_name.argtypes = [ct.c_void_p, ct.c_size_t]
        lib.bpf_table_fd_id.restype = ct.c_int
        lib.bpf_table_fd_id.argtypes = [ct.c_void_p, ct.c_size_t]
        for f in ("bpf_table_key_desc_id", "bpf_table_leaf_desc_id"):
            getattr(lib, f).restype = ct.c_char_p
            getattr(lib, f).argtypes = [ct.c_void_p, ct.c_size_t]
        maps = []
        fd_to_map: Dict[int, int] = {}
        for i in range(lib.bpf_num_tables(mod)):
            name = lib.bpf_table_name(mod, i).decode()
            fd = lib.bpf_table_fd_id(mod, i)
            if fd < 0:
                return None
            info = bpfsys.map_info(fd)
            info["name"] = name
            info["key_desc"] = (lib.bpf_table_key_desc_id(mod, i) or b"").decode()
            info["leaf_desc"] = (lib.bpf_table_leaf_desc_id(mod, i) or b"").decode()
            fd_to_map[fd] = len(maps)
            maps.append(info)
        license = (lib.bpf_module_license(mod) or b"GPL").decode()
        kern_version = int(lib.bpf_module_kern_version(mod))
        progs = []
        for fn_name, ptype in functions:
            insns = bytes(bpf.dump_func(fn_name.encode()))
            refs = _map_refs(insns, fd_to_map)
            if refs is None:
                _debug(f"{fn_name}: an ld_imm64 names no known map; not cached")
                return None
            progs.append({"name": fn_name, "type": int(ptype), "refs": refs,
                          "insns": base64.b64encode(insns).decode()})
        return {"format": FORMAT, "license": license, "kern_version": kern_version,
                "maps": maps, "progs": progs}
    except Exception as e:   # the cache must never break a run
        _debug(f"capture failed: {e!r}")
        return None


# ------------------------------------------------------------------ replay

_STR2CTYPE = {
    "_Bool": ct.c_bool, "char": ct.c_char, "wchar_t": ct.c_wchar,
    "unsigned char": ct.c_ubyte, "short": ct.c_short, "unsigned short": ct.c_ushort,
    "int": ct.c_int, "unsigned int": ct.c_uint, "long": ct.c_long,
    "unsigned long": ct.c_ulong, "long long": ct.c_longlong,
    "unsigned long long": ct.c_ulonglong, "float": ct.c_float, "double": ct.c_double,
    "long double": ct.c_longdouble, "__int128": ct.c_int64 * 2,
    "unsigned __int128": ct.c_uint64 * 2,
}


def ctype_from_desc(desc):
    """BCC's JSON type description -> the ctypes type BCC itself builds
    (same field names, arrays, bitfields, padding members, unions)."""
    if isinstance(desc, str):
        return _STR2CTYPE[desc]
    anon, fields = [], []
    for t in desc[1]:
        if len(t) == 2:
            fields.append((t[0], ctype_from_desc(t[1])))
        elif len(t) == 3 and isinstance(t[2], list):
            fields.append((t[0], ctype_from_desc(t[1]) * t[2][0]))
        elif len(t) == 3 and isinstance(t[2], int):
            fields.append((t[0], ctype_from_desc(t[1]), t[2]))
        elif len(t) == 3 and t[2] in ("union", "struct", "struct_packed"):
            name = t[0] or f"__anon{len(anon)}"
            if not t[0]:
                anon.append(name)
            fields.append((name, ctype_from_desc(t)))
        else:
            raise ValueError(f"cannot decode BPF type {t!r}")
    kind = desc[2] if len(desc) > 2 else "struct"
    base = ct.Union if kind == "union" else ct.Structure
    ns = {"_anonymous_": anon, "_fields_": fields}
    if kind == "struct_packed":
        ns["_pack_"] = 1
    return type(str(desc[0]), (base,), ns)


class CachedFunction:
    def __init__(self, name: bytes, fd: int):
        self.name = name
        self.fd = fd


class BpfTable:
    """One map, with the dict-like face of BCC's tables that bpfstore and
    the lifecycle use: Key/Leaf types, [k], [k] = v, del, keys(), items()."""

    def __init__(self, owner, name: str, fd: int, info: dict):
        from . import bpfsys
        self.owner = owner
        self.name = name.encode()
        self.map_fd = fd
        self.map_type = info["type"]
        self.max_entries = info["max_entries"]
        self._types_from(info)
        self.is_array = self.map_type in bpfsys.ARRAY_MAP_TYPES
        if self.map_type in bpfsys.PERCPU_MAP_TYPES:
            self.sLeaf = self.Leaf
            self.total_cpu = bpfsys.possible_cpus()
            if ct.sizeof(self.sLeaf) % 8 == 0:
                self.Leaf = self.sLeaf * self.total_cpu
            elif self.sLeaf in (ct.c_uint, ct.c_int):
                self.Leaf = (ct.c_uint64 if self.sLeaf == ct.c_uint else ct.c_int64) * self.total_cpu
            else:
                # BCC refuses such a table only when it is used; the kernel
                # spaces per-CPU values 8 bytes apart, so pad each slot
                pad = -ct.sizeof(self.sLeaf) % 8
                slot = type("padded_leaf", (ct.Structure,),
                            {"_fields_": [("v", self.sLeaf), ("__pad", ct.c_char * pad)]})
                self.Leaf = slot * self.total_cpu

    def _types_from(self, info):
        kd, ld = info.get("key_desc"), info.get("leaf_desc")
        try:
            self.Key = ctype_from_desc(json.loads(kd)) if kd else ct.c_int
        except Exception:
            self.Key = ct.c_int
        try:
            self.Leaf = ctype_from_desc(json.loads(ld)) if ld else ct.c_int
        except Exception:
            self.Leaf = ct.c_int

    def __getitem__(self, key):
        from . import bpfsys
        if self.is_array and isinstance(key, int):
            key = self.Key(key)
        leaf = self.Leaf()
        if not bpfsys.lookup(self.map_fd, key, leaf):
            raise KeyError(key)
        return leaf

    def __setitem__(self, key, leaf):
        from . import bpfsys
        if self.is_array and isinstance(key, int):
            key = self.Key(key)
        try:
            bpfsys.update(self.map_fd, key, leaf)
        except bpfsys.BpfError as e:
            raise Exception(f"Could not update table: {e.strerror}") from None

    def __delitem__(self, key):
        from . import bpfsys
        if self.is_array:      # array slots cannot be removed: zero them, as BCC does
            self[key] = self.Leaf()
            return
        if not bpfsys.delete(self.map_fd, key):
            raise KeyError(key)

    def keys(self):
        from . import bpfsys
        if self.is_array:
            return [self.Key(i) for i in range(self.max_entries)]
        out = []
        cur = None
        while True:
            nxt = self.Key()
            if not bpfsys.next_key(self.map_fd, cur, nxt):
                break
            out.append(nxt)
            cur = nxt
            if len(out) > self.max_entries + 1:    # a map changing under us
                break
        return out

    def __iter__(self):
        return iter(self.keys())

    def items(self):
        out = []
        for k in self.keys():
            try:
                out.append((k, self[k]))
            except KeyError:
                pass
        return out

    def values(self):
        return [v for _, v in self.items()]

    def clear(self):
        for k in self.keys():
            try:
                del self[k]
            except KeyError:
                pass

    def open_ring_buffer(self, callback, ctx=None):
        self.owner._open_ring_buffer(self, callback)


_RB_CB = ct.CFUNCTYPE(ct.c_int, ct.c_void_p, ct.c_void_p, ct.c_size_t)
_libbpf = None


def _lib_bpf():
    global _libbpf
    if _libbpf is None:
        lib = ct.CDLL("libbpf.so.1", use_errno=True)
        lib.ring_buffer__new.restype = ct.c_void_p
        lib.ring_buffer__new.argtypes = [ct.c_int, _RB_CB, ct.c_void_p, ct.c_void_p]
        lib.ring_buffer__add.restype = ct.c_int
        lib.ring_buffer__add.argtypes = [ct.c_void_p, ct.c_int, _RB_CB, ct.c_void_p]
        lib.ring_buffer__poll.restype = ct.c_int
        lib.ring_buffer__poll.argtypes = [ct.c_void_p, ct.c_int]
        lib.ring_buffer__consume.restype = ct.c_int
        lib.ring_buffer__consume.argtypes = [ct.c_void_p]
        lib.ring_buffer__free.restype = None
        lib.ring_buffer__free.argtypes = [ct.c_void_p]
        _libbpf = lib
    return _libbpf


class ReplayFailed(Exception):
    pass


class CachedBPF:
    """A cache entry made live: maps created, programs loaded."""

    def __init__(self, entry: dict):
        from . import bpfsys
        self.entry = entry
        self.tables: Dict[bytes, BpfTable] = {}
        self.funcs: Dict[bytes, CachedFunction] = {}
        self._map_fds: List[int] = []
        self._rb = None
        self._rb_cbs = []
        self._perf_fds: Dict[tuple, List[int]] = {}
        self._attach_lib = None
        try:
            for m in entry["maps"]:
                fd = bpfsys.map_create(m["type"], m["key_size"], m["value_size"],
                                       m["max_entries"], m["flags"], m["name"])
                self._map_fds.append(fd)
                self.tables[m["name"].encode()] = BpfTable(self, m["name"], fd, m)
            for p in entry["progs"]:
                insns = bytearray(base64.b64decode(p["insns"]))
                for idx, map_idx, _src in p["refs"]:
                    struct.pack_into("<i", insns, idx * 8 + 4, self._map_fds[map_idx])
                fd, log = bpfsys.prog_load(p["type"], bytes(insns), entry["license"],
                                           entry["kern_version"], p["name"])
                if fd < 0:
                    raise ReplayFailed(f"{p['name']}: load refused ({os.strerror(-fd)})")
                self.funcs[p["name"].encode()] = CachedFunction(p["name"].encode(), fd)
        except BaseException:
            self.cleanup()
            raise

    # ---------------------------------------------------------- bcc.BPF face
    @property
    def attach_lib(self):
        """probes attach through this (runtime/attachsys.lib_for): syscalls, no libbcc."""
        if self._attach_lib is None:
            from .attachsys import AttachLib
            self._attach_lib = AttachLib()
        return self._attach_lib

    def __getitem__(self, name):
        key = name.encode() if isinstance(name, str) else name
        return self.tables[key]

    def __contains__(self, name):
        key = name.encode() if isinstance(name, str) else name
        return key in self.tables

    def get_table(self, name, *_a, **_k):
        return self[name]

    def load_func(self, func_name, prog_type=None, *_a, **_k):
        key = func_name.encode() if isinstance(func_name, str) else func_name
        try:
            return self.funcs[key]
        except KeyError:
            raise Exception(f"Unknown program {key.decode()}") from None

    def _open_ring_buffer(self, table: BpfTable, callback):
        lib = _lib_bpf()
        cb = _RB_CB(lambda ctx, data, size: callback(ctx, data, size))
        self._rb_cbs.append(cb)          # keep the C thunk alive
        if self._rb is None:
            rb = lib.ring_buffer__new(table.map_fd, cb, None, None)
            if not rb:
                raise Exception(f"Could not open ring buffer {table.name.decode()}")
            self._rb = rb
        elif lib.ring_buffer__add(self._rb, table.map_fd, cb, None) < 0:
            raise Exception(f"Could not open ring buffer {table.name.decode()}")

    def ring_buffer_poll(self, timeout=-1):
        if self._rb is None:
            raise Exception("No ring buffers to poll")
        return _lib_bpf().ring_buffer__poll(self._rb, int(timeout))

    def ring_buffer_consume(self):
        if self._rb is None:
            raise Exception("No ring buffers to poll")
        return _lib_bpf().ring_buffer__consume(self._rb)

    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"", sample_period=0,
                          sample_freq=0, pid=-1, cpu=-1, group_fd=-1):
        """BCC's attach_perf_event, for callers that use it directly."""
        from . import bpfsys
        lib = self.attach_lib
        fn = self.load_func(fn_name)
        cpus = [cpu] if cpu >= 0 else list(range(bpfsys.possible_cpus()))
        fds = self._perf_fds.setdefault((ev_type, ev_config), [])
        for c in cpus:
            fd = lib.bpf_attach_perf_event(fn.fd, ev_type, ev_config, sample_period,
                                           sample_freq, pid, c, group_fd)
            if fd < 0:
                raise Exception("Failed to attach BPF to perf event")
            fds.append(fd)

    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", **_k):
        """BCC's attach_kprobe for one symbol (pytap resolves patterns itself)."""
        self._attach_kprobe(event, fn_name, False, event_off)

    def attach_kretprobe(self, event=b"", fn_name=b"", maxactive=0, **_k):
        if maxactive:
            raise Exception("maxactive needs BCC's tracefs kprobes")   # cacheable() excludes it
        self._attach_kprobe(event, fn_name, True, 0)

    def _attach_kprobe(self, event, fn_name, is_return, offset):
        fn = self.load_func(fn_name)
        fd = self.attach_lib.kprobe_open(fn.fd, is_return, event, offset)
        if fd < 0:
            ev = event.decode() if isinstance(event, bytes) else event
            raise Exception(f"Failed to attach BPF program {fn.name!r} to "
                            f"{'kretprobe' if is_return else 'kprobe'} {ev!r}: {os.strerror(-fd)}")
        self._perf_fds.setdefault(("kprobe", is_return, event, fn.name), []).append(fd)

    def detach_kprobe(self, event=b"", fn_name=None):
        self._detach_kprobe(event, fn_name, False)

    def detach_kretprobe(self, event=b"", fn_name=None):
        self._detach_kprobe(event, fn_name, True)

    def _detach_kprobe(self, event, fn_name, is_return):
        for key in [k for k in self._perf_fds if k[:3] == ("kprobe", is_return, event)
                    and (fn_name is None or k[3] == (fn_name if isinstance(fn_name, bytes)
                                                     else fn_name.encode()))]:
            for fd in self._perf_fds.pop(key):
                self.attach_lib.bpf_close_perf_event_fd(fd)

    def detach_perf_event(self, ev_type=-1, ev_config=-1):
        fds = self._perf_fds.pop((ev_type, ev_config), None)
        if fds is None:
            raise Exception("Perf event type {} config {} not attached".format(ev_type, ev_config))
        for fd in fds:
            self.attach_lib.bpf_close_perf_event_fd(fd)

    def cleanup(self):
        for key in list(self._perf_fds):
            try:
                if key[0] == "kprobe":
                    for fd in self._perf_fds.pop(key):
                        self.attach_lib.bpf_close_perf_event_fd(fd)
                else:
                    self.detach_perf_event(*key)
            except Exception:
                pass
        if self._rb is not None:
            _lib_bpf().ring_buffer__free(self._rb)
            self._rb = None
        for fn in self.funcs.values():
            _close(fn.fd)
        self.funcs.clear()
        for fd in self._map_fds:
            _close(fd)
        self._map_fds = []
        self.tables.clear()

    def close(self):
        self.cleanup()


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
