"""Where script globals live, seen from user space.

`GlobalStore` is the interface the interpreter and the exit report use;
the BPF-backed store (runtime/bpfstore.py) implements it over BPF maps,
`MemoryStore` over dicts (tests, and sessions with no BPF part).

Keys are tuples of int/str, `()` for scalars.  Reading a missing element
gives 0 or "" (by the global's type) without creating it, as in stap.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

from .errors import ScriptRuntimeError
from .stats import Stat

Key = Tuple


class GlobalStore:
    """Abstract access to globals by name."""

    def get(self, name: str, key: Key = ()):
        raise NotImplementedError

    def set(self, name: str, key: Key, value) -> None:
        raise NotImplementedError

    def exists(self, name: str, key: Key) -> bool:
        raise NotImplementedError

    def delete(self, name: str, key: Optional[Key] = None) -> None:
        raise NotImplementedError

    def items(self, name: str) -> List[Tuple[Key, object]]:
        raise NotImplementedError

    def stat_add(self, name: str, key: Key, value: int) -> None:
        raise NotImplementedError

    def stat(self, name: str, key: Key = ()) -> Stat:
        raise NotImplementedError

    def stat_items(self, name: str) -> List[Tuple[Key, Stat]]:
        raise NotImplementedError


def overflow_message(maxsize: int) -> str:
    """stap's text when an array is full (sized arrays name their limit)."""
    if maxsize:
        return f"Array overflow, check size limit ({maxsize})"
    return "Array overflow, check MAXMAPENTRIES"


class MemoryStore(GlobalStore):
    """Dict-backed globals.

    decls: the session's global VarDecls (for type, maxsize, wrap).
    maxmapentries: MAXMAPENTRIES (opts.define_int("MAXMAPENTRIES", 2048)).
    hist_specs: name -> (start, stop, interval) for globals printed with
    @hist_linear, so their Stats keep linear buckets.
    An error raised here has no location; the interpreter adds the
    identifier's."""

    def __init__(self, decls: Iterable = (), maxmapentries: int = 2048,
                 hist_specs: Optional[Dict[str, tuple]] = None):
        self.maxmapentries = maxmapentries
        self.hist_specs = dict(hist_specs or {})
        # name -> bit shift of @variance(x, N): stap keeps the running
        # mean in that fixed point for the whole aggregate
        self.stat_shifts: Dict[str, int] = {}
        self.types: Dict[str, Optional[str]] = {}
        self.maxsize: Dict[str, int] = {}
        self.wrap: Dict[str, bool] = {}
        self.arity: Dict[str, int] = {}
        self.data: Dict[str, Dict[Key, object]] = {}
        for d in decls:
            self.declare(d.name, d.type, d.maxsize or 0, d.wrap, d.arity)

    def declare(self, name: str, type_: Optional[str] = None, maxsize: int = 0,
                wrap: bool = False, arity: int = -1) -> None:
        self.types[name] = type_
        self.maxsize[name] = maxsize or 0
        self.wrap[name] = wrap
        self.arity[name] = arity
        self.data.setdefault(name, {})

    def _map(self, name: str) -> Dict[Key, object]:
        m = self.data.get(name)
        if m is None:
            m = self.data[name] = {}
        return m

    def default(self, name: str):
        return "" if self.types.get(name) == "string" else 0

    def _limit(self, name: str, key: Key) -> int:
        if key == ():
            return 0
        return self.maxsize.get(name) or self.maxmapentries

    def _make_room(self, name: str, m: Dict[Key, object], key: Key) -> None:
        """Before inserting a new key: evict the oldest (`%` arrays) or
        raise stap's overflow error."""
        limit = self._limit(name, key)
        if not limit or key in m or len(m) < limit:
            return
        if self.wrap.get(name):
            del m[next(iter(m))]
            return
        raise ScriptRuntimeError(overflow_message(self.maxsize.get(name, 0)))

    # -- plain values
    def get(self, name: str, key: Key = ()):
        return self._map(name).get(tuple(key), self.default(name))

    def set(self, name: str, key: Key, value) -> None:
        m = self._map(name)
        key = tuple(key)
        self._make_room(name, m, key)
        m[key] = value

    def exists(self, name: str, key: Key) -> bool:
        return tuple(key) in self._map(name)

    def delete(self, name: str, key: Optional[Key] = None) -> None:
        m = self._map(name)
        if key is None:
            m.clear()
        else:
            m.pop(tuple(key), None)

    def items(self, name: str) -> List[Tuple[Key, object]]:
        return list(self._map(name).items())

    def reorder(self, name: str, keys: List[Key]) -> None:
        """stap sorts a map's element list in place for a sorted foreach,
        so later unsorted walks (and `%` eviction) see that order."""
        m = self._map(name)
        rest = [k for k in m if k not in set(keys)]
        new = {k: m[k] for k in list(keys) + rest if k in m}
        m.clear()
        m.update(new)

    # -- aggregates
    def _new_stat(self, name: str) -> Stat:
        spec = self.hist_specs.get(name)
        s = Stat.with_linear(*spec) if spec else Stat()
        s.shift = self.stat_shifts.get(name, 0)
        return s

    def stat_add(self, name: str, key: Key, value: int) -> None:
        m = self._map(name)
        key = tuple(key)
        s = m.get(key)
        if s is None:
            self._make_room(name, m, key)
            s = m[key] = self._new_stat(name)
        s.add(value)

    def stat(self, name: str, key: Key = ()) -> Stat:
        s = self._map(name).get(tuple(key))
        return s if s is not None else self._new_stat(name)

    def stat_items(self, name: str) -> List[Tuple[Key, Stat]]:
        return [(k, v) for k, v in self._map(name).items() if isinstance(v, Stat)]
