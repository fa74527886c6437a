"""GlobalStore backed by the BPF maps named in Program.globals, read and
written through BCC tables, so user-mode handlers (begin/end, the
interpreter) and BPF handlers share one state.

Map shapes (GlobalLayout.kind, chosen by codegen):
    scalar       1-entry array; value s64 or char[N] (bare or in a struct)
    array        hash (LRU hash when `%` wrap); key: s64 / char[N] / a struct
                 of them in index order
    stats        per-CPU 1-entry array of the stats struct
    stats_array  per-CPU hash of the stats struct
Stats struct: count, sum, min, max, sumsq (s64 each, by name or in that
order) then the bucket array (log[128] or linear[B]).  We merge the CPUs
into one runtime.stats.Stat, skipping empty CPUs (their min/max mean
nothing).

Element order: stap walks a map (unsorted foreach, ties of a sorted one,
the globals printed at exit) in insertion order, and a sorted foreach
leaves the list in that order.  A BPF hash has no order, so we remember
the order of the keys that user space inserts (or meets first) and sort
items() by it.  When BPF handlers insert into an array, codegen gives it a
seq map (GlobalLayout.seq_map: key -> u64 insertion number, taken
atomically from one shared counter map, layout.SEQ_COUNTER_MAP, on the
insert path only); user space then numbers its own inserts from that same
counter, and an element's place is the larger of the two numbers it has
(a re-insert or a sorted foreach renumbers it).  Keys without any number
keep the hash order, ahead of the others.

BCC inserts `__pad_*` members into key/leaf structs for alignment; they
are skipped.
"""
from __future__ import annotations

import ctypes as ct
from typing import Any, Dict, List, Optional, Tuple

from . import stacks

try:
    from .store import GlobalStore
except ImportError:  # the user-space helper's module may not have landed yet
    class GlobalStore:  # type: ignore[no-redef]
        pass

_STAT_FIELDS = ("count", "sum", "min", "max", "sumsq")
# Optional per-CPU Welford state, by these names, when codegen keeps it:
# then @variance is stap's integer one (runtime.stats), not the exact one
# from sumsq.
_WELFORD_FIELDS = ("avg_s", "m2", "variance_s")


def _real_fields(cls) -> List[Tuple[str, Any]]:
    return [(n, t) for n, t, *_ in getattr(cls, "_fields_", []) if not n.startswith("__pad")]


def _is_char_array(t) -> bool:
    return isinstance(t, type) and issubclass(t, ct.Array) and t._type_ in (ct.c_char, ct.c_byte, ct.c_ubyte)


def _decode_str(raw) -> str:
    b = bytes(raw)
    end = b.find(b"\0")
    if end >= 0:
        b = b[:end]
    if b"\x01" in b or b"\x02" in b:          # stack tokens (runtime/stacks.py)
        return stacks.expand(b.decode("utf-8", "surrogateescape"))
    return b.decode("utf-8", "surrogateescape")


def _encode_str(s, size: int) -> bytes:
    if isinstance(s, str) and stacks.S.reverse:
        s = stacks.contract(s)
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)
    return b[: max(size - 1, 0)]


def to_python(v) -> Any:
    """A ctypes key/leaf value -> int / str / tuple (struct with many fields)."""
    if isinstance(v, (int, str)):
        return v
    if isinstance(v, bytes):
        return _decode_str(v)
    if isinstance(v, ct.Array):
        if _is_char_array(type(v)):
            return _decode_str(v)
        return [to_python(x) for x in v]
    if isinstance(v, ct.Structure):
        fields = _real_fields(type(v))
        vals = tuple(to_python(getattr(v, n)) for n, _ in fields)
        return vals[0] if len(vals) == 1 else vals
    if hasattr(v, "value"):
        return v.value
    return v


def _fill(cls, values: List[Any]):
    """Build a ctypes value of `cls` from python values in field order."""
    if isinstance(cls, type) and issubclass(cls, ct.Structure):
        obj = cls()
        fields = _real_fields(cls)
        for (n, t), val in zip(fields, values):
            if _is_char_array(t):
                setattr(obj, n, _encode_str(val, ct.sizeof(t)))
            elif isinstance(t, type) and issubclass(t, ct.Structure):
                setattr(obj, n, _fill(t, [val]))
            else:
                setattr(obj, n, int(val))
        return obj
    if _is_char_array(cls):
        obj = cls()
        data = _encode_str(values[0], ct.sizeof(cls))
        ct.memmove(obj, data, len(data))
        return obj
    return cls(int(values[0]))


class BpfStore(GlobalStore):
    def __init__(self, bpf, program, session=None):
        self.bpf = bpf
        self.program = program
        stacks.use_bpf(bpf)
        opts = getattr(session, "options", None)
        if opts is not None and hasattr(opts, "define_int"):
            stacks.configure(opts.define_int("MAXBACKTRACE", 20), opts.define_int("MAXSTRINGLEN", 128))
            stacks.candidate_files(program, opts)
        self.session = session
        self.layouts: Dict[str, Any] = {g.name: g for g in program.globals}
        self._tables: Dict[str, Any] = {}
        # name -> {python key: sequence number}; see "Element order"
        self._order: Dict[str, Dict[tuple, int]] = {}
        # name -> {python key: [BPF keys]}: keys holding stack/symbol tokens
        # (runtime/stacks.py), several of which can expand to one string
        # (probefunc() at two addresses of one function): read as one element
        self._aliases: Dict[str, Dict[tuple, list]] = {}
        self._seq = 0

    # ------------------------------------------------------------ plumbing
    def _layout(self, name):
        try:
            return self.layouts[name]
        except KeyError:
            raise KeyError(f"pytap: no BPF map for global '{name}'") from None

    def _table(self, name):
        t = self._tables.get(name)
        if t is None:
            t = self.bpf[self._layout(name).map_name.encode()]
            self._tables[name] = t
        return t

    def _default(self, layout):
        return "" if layout.value_type == "string" else 0

    def _key(self, t, layout, key: tuple):
        if layout.kind in ("scalar", "stats"):
            return t.Key(0)
        return _fill(t.Key, list(key))

    def _pykey(self, layout, k) -> tuple:
        if layout.kind in ("scalar", "stats"):
            return ()
        v = to_python(k)
        return v if isinstance(v, tuple) else (v,)

    def _next_seq(self, name, n: int = 1) -> int:
        """The first of n new insertion numbers for array `name`: from the
        shared BPF counter when BPF handlers also number its keys."""
        layout = self.layouts.get(name)
        if layout is not None and getattr(layout, "seq_map", ""):
            try:
                from ..codegen.layout import SEQ_COUNTER_MAP
                ctr = self.bpf[SEQ_COUNTER_MAP.encode()]
                k = ctr.Key(0)
                cur = int(to_python(ctr[k]))
                ctr[k] = ctr.Leaf(cur + n)
                # the local counter follows so both kinds stay comparable
                self._seq = max(self._seq, cur + n)
                return cur + 1
            except Exception:
                pass
        first = self._seq + 1
        self._seq += n
        return first

    def _bpf_seqs(self, name) -> Dict[tuple, int]:
        layout = self.layouts.get(name)
        sm = getattr(layout, "seq_map", "") if layout is not None else ""
        if not sm:
            return {}
        try:
            t = self.bpf[sm.encode()]
            return {self._pykey(layout, k): int(to_python(v)) for k, v in t.items()}
        except Exception:
            return {}

    def _note(self, name, pykey, t, ckey, existed=None) -> None:
        """Give a key its place in the element order when we first meet it;
        `existed` (else one lookup) tells whether BPF inserted it earlier."""
        order = self._order.setdefault(name, {})
        if pykey in order:
            return
        if existed is None:
            try:
                t[ckey]
                existed = True
            except KeyError:
                existed = False
        if existed:
            order[pykey] = -1        # BPF inserted it: its seq map number, if any
        else:
            order[pykey] = self._next_seq(name)

    def _ordered(self, name, rows):
        order = self._order.get(name) or {}
        bseq = self._bpf_seqs(name)
        if not order and not bseq:
            return rows
        return sorted(rows, key=lambda r: max(order.get(r[0], -1), bseq.get(r[0], -1)))

    def reorder(self, name, keys) -> None:
        """A sorted foreach leaves stap's element list in the sorted order."""
        order = self._order[name] = {}     # every element: stale keys go
        keys = [tuple(k) for k in keys]
        first = self._next_seq(name, len(keys)) if keys else 0
        for i, k in enumerate(keys):
            order[k] = first + i

    def _leaf(self, t, value):
        return _fill(t.Leaf, [value])

    def _overflow(self, layout):
        from .errors import ScriptRuntimeError
        from .store import overflow_message
        return ScriptRuntimeError(overflow_message(layout.maxsize))

    # ------------------------------------------------------------ values
    def _aliased(self, name, key):
        al = self._aliases.get(name)
        return al.get(tuple(key)) if al else None

    def _note_aliases(self, name, t, pk, k, al) -> None:
        raw = ct.string_at(ct.addressof(k), ct.sizeof(k))
        if b"\x01" in raw or b"\x02" in raw:
            al.setdefault(pk, []).append(t.Key.from_buffer_copy(raw))

    def get(self, name, key=()):
        layout = self._layout(name)
        t = self._table(name)
        al = self._aliased(name, key)
        if al:
            vals = []
            for ck in al:
                try:
                    vals.append(to_python(t[ck]))
                except KeyError:
                    pass
            if not vals:
                return self._default(layout)
            return sum(vals) if all(isinstance(v, int) for v in vals) else vals[0]
        try:
            v = t[self._key(t, layout, tuple(key))]
        except KeyError:
            return self._default(layout)
        return to_python(v)

    def set(self, name, key, value):
        layout = self._layout(name)
        t = self._table(name)
        ckey = self._key(t, layout, tuple(key))
        al = self._aliased(name, key)
        if al:
            ckey = al[0]
            for extra in al[1:]:
                try:
                    del t[extra]
                except KeyError:
                    pass
            del al[1:]
        if layout.kind not in ("scalar", "stats"):
            self._note(name, self._pykey(layout, ckey), t, ckey)
        try:
            t[ckey] = self._leaf(t, value)
        except KeyError:
            raise
        except Exception:
            raise self._overflow(layout) from None

    def exists(self, name, key):
        layout = self._layout(name)
        t = self._table(name)
        if layout.kind in ("scalar", "stats"):
            return True
        for ck in self._aliased(name, key) or [self._key(t, layout, tuple(key))]:
            try:
                t[ck]
                return True
            except KeyError:
                pass
        return False

    def delete(self, name, key=None):
        layout = self._layout(name)
        t = self._table(name)
        if layout.kind in ("scalar", "stats"):
            # a scalar "delete" resets it; arrays are zeroed, not removed
            t[t.Key(0)] = t.Leaf()
            return
        if key is None:
            self._order.pop(name, None)
            self._aliases.pop(name, None)
            for k in list(t.keys()):
                try:
                    del t[k]
                except KeyError:
                    pass
            return
        ckey = self._key(t, layout, tuple(key))
        self._order.get(name, {}).pop(self._pykey(layout, ckey), None)
        al = self._aliases.get(name, {}).pop(tuple(key), None)
        for ck in al or [ckey]:
            try:
                del t[ck]
            except KeyError:
                pass

    def items(self, name):
        layout = self._layout(name)
        t = self._table(name)
        if layout.kind in ("scalar", "stats"):
            return [((), self.get(name, ()))]
        rows, al = [], {}
        for k, v in t.items():
            pk = self._pykey(layout, k)
            self._note_aliases(name, t, pk, k, al)
            rows.append((pk, to_python(v)))
        if al:
            self._aliases[name] = al
            merged: Dict[tuple, Any] = {}
            for pk, v in rows:
                if pk in merged and isinstance(v, int) and isinstance(merged[pk], int):
                    merged[pk] += v
                else:
                    merged.setdefault(pk, v)
            rows = list(merged.items())
        return self._ordered(name, rows)

    # ------------------------------------------------------------ stats
    def _merge(self, layout, per_cpu) -> Any:
        from .stats import Stat
        total = _new_stat(Stat, layout)
        # the merged stat keeps the partials' fixed-point shift, else
        # Stat.variance would see a mismatch and fall back to the sums
        total.shift = int(getattr(layout, "stat_shift", 0) or 0)
        for leaf in per_cpu:
            s = _stat_from_leaf(Stat, layout, leaf)
            if s.count:
                total.merge(s)
        return total

    def _per_cpu(self, t, k):
        v = t[k]
        return list(v) if isinstance(v, ct.Array) else [v]

    def stat(self, name, key=()):
        layout = self._layout(name)
        t = self._table(name)
        al = self._aliased(name, key)
        if al:
            from .stats import Stat
            total = None
            for ck in al:
                try:
                    s = self._merge(layout, self._per_cpu(t, ck))
                except KeyError:
                    continue
                if total is None:
                    total = s
                elif s.count:
                    total.merge(s)
            return total if total is not None else _new_stat(Stat, layout)
        try:
            return self._merge(layout, self._per_cpu(t, self._key(t, layout, tuple(key))))
        except KeyError:
            from .stats import Stat
            return _new_stat(Stat, layout)

    def stat_items(self, name):
        layout = self._layout(name)
        t = self._table(name)
        if layout.kind == "stats":
            return [((), self.stat(name, ()))]
        out, al = [], {}
        for k, v in t.items():
            per = list(v) if isinstance(v, ct.Array) else [v]
            s = self._merge(layout, per)
            if s.count:
                pk = self._pykey(layout, k)
                self._note_aliases(name, t, pk, k, al)
                out.append((pk, s))
        if al:
            self._aliases[name] = al
            merged: Dict[tuple, Any] = {}
            for pk, s in out:
                if pk in merged:
                    merged[pk].merge(s)
                else:
                    merged[pk] = s
            out = list(merged.items())
        return self._ordered(name, out)

    def stat_add(self, name, key, value):
        """A `<<<` from user space: folded into CPU 0's slot."""
        from .stats import Stat
        layout = self._layout(name)
        t = self._table(name)
        k = self._key(t, layout, tuple(key))
        al = self._aliased(name, key)
        if al:
            k = al[0]
        try:
            cur = t[k]
            existed = True
        except KeyError:
            cur = t.Leaf()
            existed = False
        if layout.kind != "stats":
            self._note(name, self._pykey(layout, k), t, k, existed)
        slots = cur if isinstance(cur, ct.Array) else None
        leaf = slots[0] if slots is not None else cur
        _add_to_leaf(Stat, layout, leaf, int(value))
        try:
            t[k] = cur
        except Exception:
            raise self._overflow(layout) from None


def _new_stat(Stat, layout):
    h = getattr(layout, "hist", None)
    if h is not None and h.kind == "linear" and h.interval:
        return Stat.with_linear(h.start, h.stop, h.interval)
    return Stat()


def _stat_parts(leaf):
    """(scalar values by name, bucket ctypes array or None)"""
    fields = _real_fields(type(leaf))
    named = {n: getattr(leaf, n) for n, _ in fields}
    scalars = {}
    if all(f in named for f in _STAT_FIELDS):
        for f in _STAT_FIELDS:
            scalars[f] = named[f]
    else:
        ints = [n for n, t in fields if not (isinstance(t, type) and issubclass(t, ct.Array))]
        for f, n in zip(_STAT_FIELDS, ints):
            scalars[f] = named[n]
    buckets = None
    for n, t in fields:
        if isinstance(t, type) and issubclass(t, ct.Array):
            buckets = (n, getattr(leaf, n))
            break
    return scalars, buckets


def _welford_names(leaf) -> bool:
    names = {n for n, _ in _real_fields(type(leaf))}
    return all(f in names for f in _WELFORD_FIELDS)


def _stat_from_leaf(Stat, layout, leaf):
    s = _new_stat(Stat, layout)
    scalars, buckets = _stat_parts(leaf)
    for f in _STAT_FIELDS:
        if f in scalars:
            setattr(s, f, int(scalars[f]))
    s.shift = int(getattr(layout, "stat_shift", 0) or 0)
    if s.count and _welford_names(leaf):
        from .stats import _Part
        s.parts = [_Part(s.count, int(leaf.avg_s), int(leaf.m2), int(leaf.variance_s))]
    if getattr(layout, "also_log", False):
        # both histograms (codegen's layout): the arrays are named log/linear
        for n, t in _real_fields(type(leaf)):
            if n in ("log", "linear") and isinstance(t, type) and issubclass(t, ct.Array):
                setattr(s, n, list(getattr(leaf, n)))
        return s
    if buckets is not None:
        vals = list(buckets[1])
        h = getattr(layout, "hist", None)
        if h is not None and h.kind == "linear":
            s.linear = vals
            s.linear_spec = (h.start, h.stop, h.interval)
        else:
            s.log = vals
    return s


def _add_to_leaf(Stat, layout, leaf, v: int) -> None:
    from . import stats as stats_mod
    scalars, buckets = _stat_parts(leaf)
    fields = _real_fields(type(leaf))
    names = {f: f for f in _STAT_FIELDS} if all(
        f in dict(fields) for f in _STAT_FIELDS) else dict(
        zip(_STAT_FIELDS, [n for n, t in fields if not (isinstance(t, type) and issubclass(t, ct.Array))]))
    count = int(scalars.get("count", 0))
    setattr(leaf, names["count"], count + 1)
    setattr(leaf, names["sum"], int(scalars.get("sum", 0)) + v)
    setattr(leaf, names["min"], v if count == 0 else min(int(scalars.get("min", v)), v))
    setattr(leaf, names["max"], v if count == 0 else max(int(scalars.get("max", v)), v))
    setattr(leaf, names["sumsq"], int(scalars.get("sumsq", 0)) + v * v)
    if _welford_names(leaf):
        from .stats import _Part
        st = Stat()
        st.shift = int(getattr(layout, "stat_shift", 0) or 0)
        p = _Part(count, int(leaf.avg_s), int(leaf.m2), int(leaf.variance_s))
        st._welford(p, v)
        leaf.avg_s, leaf.m2, leaf.variance_s = p.avg_s, p.m2, p.variance_s
    if getattr(layout, "also_log", False):
        # both histograms (codegen's layout): the arrays are named log/linear
        h = layout.hist
        for n, i in (("log", stats_mod.log_bucket(v)),
                     ("linear", stats_mod.linear_bucket(v, h.start, h.stop, h.interval))):
            arr = getattr(leaf, n)
            if 0 <= i < len(arr):
                arr[i] += 1
        return
    if buckets is not None:
        arr = buckets[1]
        h = getattr(layout, "hist", None)
        if h is not None and h.kind == "linear":
            i = stats_mod.linear_bucket(v, h.start, h.stop, h.interval)
        else:
            i = stats_mod.log_bucket(v)
        if 0 <= i < len(arr):
            arr[i] += 1
