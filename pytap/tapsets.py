"""The tapset library: where tapset files are, which file defines what, and
their parsed trees.

stap parses every library file on every run (484 of them here).  We only
parse the files a script needs.  A cheap textual scan (`LibraryIndex`)
records which file defines which probe-alias head, function and global;
elaboration asks the index for a name and parses just those files.  Both the
index and the parsed trees are cached on disk under `options.cache_dir`:
the index keyed by (path, size, mtime), a parsed file keyed by a hash of
its content and of everything that changes preprocessing (runtime, arch,
kernel release, -D defines), so repeated runs neither rescan nor reparse.
"""
from __future__ import annotations

import hashlib
import os
import platform as _pyplatform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set

from . import ast, cachefs
from .options import Options

# Bump when the AST layout or the parser changes in a way that makes old
# pickles wrong.
CACHE_VERSION = "2"

_ALIAS_RE = re.compile(r"^[ \t]*probe[ \t]+([^{}\n]*?)[ \t]*\+?=(?!=)", re.M)
_FUNC_RE = re.compile(r"^[ \t]*(?:private[ \t]+)?function[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.M)
_GLOBAL_RE = re.compile(r"^[ \t]*(?:private[ \t]+)?global[ \t]+([^;\n]*)", re.M)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROBE_RE = re.compile(r"^[ \t]*probe[ \t]+[^=\n]*\{", re.M)


def search_dirs(base_dirs: List[str], options: Optional[Options] = None) -> List[str]:
    """stap's tapset directories for a list of base dirs: each base, then
    its ARCH, RUNTIME and RUNTIME/ARCH subdirectories (RUNTIME is `linux`
    for the kernel runtime, else the runtime's name: `bpf`)."""
    from .preprocess import Facts
    facts = Facts(options)
    rtdir = "linux" if facts.runtime == "kernel" else facts.runtime
    out: List[str] = []
    for base in base_dirs:
        if not base:
            continue
        for sub in ("", facts.arch, rtdir, os.path.join(rtdir, facts.arch)):
            d = os.path.join(base, sub) if sub else base
            if os.path.isdir(d) and d not in out:
                out.append(d)
    return out


def tapset_files(dirs: List[str]) -> List[str]:
    """Every .stp file of the given directories (not recursive), in order."""
    out: List[str] = []
    seen: Set[str] = set()
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for fn in names:
            p = os.path.join(d, fn)
            if fn.endswith(".stp") and os.path.isfile(p):
                rp = os.path.realpath(p)
                if rp not in seen:
                    seen.add(rp)
                    out.append(p)
    return out


def alias_head(name_text: str) -> str:
    """First functor of an alias name as written (`syscall.open` -> syscall)."""
    m = _IDENT_RE.match(name_text.strip())
    return m.group(0) if m else ""


_ARGS_RE = re.compile(r"\((?:\"(?:[^\"\\]|\\.)*\"|[^()\"])*\)")


def alias_functors(name_text: str) -> tuple:
    """`kernel.function("x").call` -> ("kernel", "function", "call")."""
    bare = _ARGS_RE.sub("", name_text.strip())
    return tuple(p.strip() for p in bare.split(".") if p.strip())


@dataclass
class FileEntry:
    """What a cheap scan of one tapset file found."""
    path: str
    alias_heads: Set[str] = field(default_factory=set)
    # alias names as functor tuples, args dropped: ("nd_syscall", "read")
    alias_names: Set[tuple] = field(default_factory=set)
    functions: Set[str] = field(default_factory=set)
    globals: Set[str] = field(default_factory=set)


def scan_file(path: str, text: str) -> FileEntry:
    e = FileEntry(path)
    for m in _ALIAS_RE.finditer(text):
        for part in m.group(1).split(","):
            h = alias_head(part)
            if h:
                e.alias_heads.add(h)
                e.alias_names.add(alias_functors(part))
    for m in _FUNC_RE.finditer(text):
        e.functions.add(m.group(1))
    for m in _GLOBAL_RE.finditer(text):
        for part in m.group(1).split(","):
            im = _IDENT_RE.match(part.strip())
            if im:
                e.globals.add(im.group(0))
    return e


class LibraryIndex:
    """name -> files, over all tapset files of the search path."""

    def __init__(self, files: List[str], cache_dir: Optional[Path] = None):
        self.files = files
        self.entries: List[FileEntry] = []
        cached: Dict[str, tuple] = {}
        cache_name = f"index-v{CACHE_VERSION}.json" if cache_dir is not None else None
        if cache_name is not None:
            cached = _index_from_json(cachefs.load_json(cache_dir, cache_name))
        changed = False
        fresh: Dict[str, tuple] = {}
        for p in files:
            try:
                st = os.stat(p)
            except OSError:
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            hit = cached.get(p)
            if hit is not None and hit[0] == stamp:
                entry = hit[1]
            else:
                try:
                    with open(p, encoding="utf-8", errors="surrogateescape") as f:
                        entry = scan_file(p, f.read())
                except OSError:
                    continue
                changed = True
            fresh[p] = (stamp, entry)
            self.entries.append(entry)
        if cache_name is not None and (changed or not set(fresh) <= set(cached)):
            # keep the entries of other search paths (-I dirs, other
            # installs): dropping them made runs alternating between two
            # paths rescan every file every time
            merged = {p: v for p, v in cached.items()
                      if p not in fresh and os.path.exists(p)}
            if len(merged) > 4096:
                merged = {}
            merged.update(fresh)
            cachefs.store_json(cache_dir, cache_name, _index_to_json(merged))
        self._by_alias: Dict[str, List[str]] = {}
        self._alias_names: Dict[str, List[tuple]] = {}   # head -> [(functors, path)]
        self._by_func: Dict[str, List[str]] = {}
        self._by_global: Dict[str, List[str]] = {}
        for e in self.entries:
            for h in e.alias_heads:
                self._by_alias.setdefault(h, []).append(e.path)
            for n in e.alias_names:
                self._alias_names.setdefault(n[0], []).append((n, e.path))
            for n in e.functions:
                self._by_func.setdefault(n, []).append(e.path)
            for n in e.globals:
                self._by_global.setdefault(n, []).append(e.path)

    def files_for_alias_head(self, head: str) -> List[str]:
        return self._by_alias.get(head, [])

    def files_for_alias_point(self, functors: List[str]) -> List[str]:
        """Files defining an alias whose name could match a point with these
        functors (user functors may hold wildcards), as a prefix (suffixes)."""
        import fnmatch
        heads = [functors[0]] if not _wild(functors[0]) else \
            [h for h in self._alias_names if fnmatch.fnmatchcase(h, functors[0])]
        out: List[str] = []
        for h in heads:
            for names, path in self._alias_names.get(h, []):
                if len(names) > len(functors) or path in out:
                    continue
                if all(n == u or (_wild(u) and fnmatch.fnmatchcase(n, u))
                       for n, u in zip(names, functors)):
                    out.append(path)
        order = {p: i for i, p in enumerate(self.files)}
        return sorted(out, key=lambda p: order.get(p, 0))

    def files_for_function(self, name: str) -> List[str]:
        return self._by_func.get(name, [])

    def files_for_global(self, name: str) -> List[str]:
        return self._by_global.get(name, [])

    def alias_heads(self) -> List[str]:
        return sorted(self._by_alias)

    def function_names(self) -> List[str]:
        return sorted(self._by_func)


def _wild(s: str) -> bool:
    return any(ch in s for ch in "*?[")


def _index_to_json(fresh: Dict[str, tuple]) -> dict:
    return {p: [list(stamp), [sorted(e.alias_heads), sorted(list(n) for n in e.alias_names),
                              sorted(e.functions), sorted(e.globals)]]
            for p, (stamp, e) in fresh.items()}


def _index_from_json(data) -> Dict[str, tuple]:
    """The cached index (plain JSON, so loading it runs no code); {} when
    absent or not of the expected shape."""
    out: Dict[str, tuple] = {}
    if not isinstance(data, dict):
        return out
    try:
        for p, (stamp, (heads, names, funcs, globs)) in data.items():
            out[p] = (tuple(stamp), FileEntry(p, set(heads), {tuple(n) for n in names},
                                              set(funcs), set(globs)))
    except (TypeError, ValueError):
        return {}
    return out


def library_options(opts: Options) -> Options:
    """The options tapset files are read with.  SystemTap's own library
    (PYTAP_TAPSET=/usr/share/systemtap/tapset: a tree with linux/ and bpf/
    variants) is read as `stap -p2` reads it, for the kernel runtime, unless
    PYTAP_TAPSET_RUNTIME says otherwise: its bpf/ variant covers only a few
    functions and no syscall aliases."""
    want = os.environ.get("PYTAP_TAPSET_RUNTIME")
    if want is None and opts.runtime == "bpf":
        main = opts.tapset_dirs()[-1]
        if os.path.isdir(os.path.join(main, "linux")) and os.path.isdir(os.path.join(main, "bpf")):
            want = "kernel"
    if not want or want == opts.runtime:
        return opts
    import copy
    o = copy.copy(opts)
    o.runtime = want
    return o


class TapsetLibrary:
    """Lazy access to the parsed tapset files of one search path."""

    def __init__(self, options: Optional[Options] = None, dirs: Optional[List[str]] = None):
        self.options = library_options(options or Options())
        self.dirs = list(dirs) if dirs is not None else self.options.tapset_dirs()
        self.use_cache = self.options.use_cache and os.environ.get("PYTAP_NO_CACHE") is None
        self.cache_dir = self.options.cache_dir if self.use_cache else None
        self.files = tapset_files(search_dirs(self.dirs, self.options))
        self.index = LibraryIndex(self.files, self.cache_dir)
        self._parsed: Dict[str, Optional[ast.StapFile]] = {}
        self.parse_count = 0       # files actually parsed this run (tests, bench)
        self.failed: Dict[str, str] = {}   # path -> first error text

    # -- parsing ----------------------------------------------------------
    def _cache_key(self, text: str, path: str = "") -> str:
        # the path too: the tree's locations (messages, stap's
        # __private_<path>_NAME names) are the file's own, not those of a
        # copy of the same text in another checkout
        o = self.options
        h = hashlib.sha256()
        for part in (CACHE_VERSION, o.runtime, o.compatible, _pyplatform.machine(),
                     os.uname().release, repr(sorted(o.defines.items())),
                     repr(o.guru), os.path.abspath(path), text):
            h.update(part.encode("utf-8", "surrogateescape"))
            h.update(b"\0")
        return h.hexdigest()

    def parse(self, path: str) -> Optional[ast.StapFile]:
        """The parsed file (None when it does not parse: stap would have
        failed too, and a library file we cannot read must not stop a
        script that does not need it)."""
        if path in self._parsed:
            return self._parsed[path]
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            self.failed[path] = str(e)
            self._parsed[path] = None
            return None
        from .diagnostics import SOURCES
        SOURCES.add(path, text)
        tree = None
        cpath = None
        if self.cache_dir is not None:
            # pickled trees: cachefs loads them only from a cache that is
            # ours alone (unpickling runs code)
            cpath = "tapsets/" + self._cache_key(text, path) + ".pickle"
            tree = cachefs.load_pickle(self.cache_dir, cpath)
            if not isinstance(tree, ast.StapFile):
                tree = None
        if tree is None:
            tree = self._parse_text(text, path)
            if tree is not None and cpath is not None:
                cachefs.store_pickle(self.cache_dir, cpath, tree)
        if tree is not None:
            _mark_privileged(tree)
        self._parsed[path] = tree
        return tree

    def _parse_text(self, text: str, path: str) -> Optional[ast.StapFile]:
        from .parser import parse as parse_text
        self.parse_count += 1
        try:
            return parse_text(text, path, self.options, privileged=True) \
                if _parser_takes_privileged() else parse_text(text, path, self.options)
        except Exception as e:  # PassFailed / StapError / parser bugs
            self.failed[path] = str(e)
            _warn_own_tapset(path, e)
            return None

    def parsed(self, path: str) -> Optional[ast.StapFile]:
        """The tree of a file parse() already read, else None."""
        return self._parsed.get(path)

    # -- lookups ----------------------------------------------------------
    def files_defining_alias(self, head: str) -> List[ast.StapFile]:
        return [t for t in (self.parse(p) for p in self.index.files_for_alias_head(head)) if t]

    def files_defining_alias_point(self, functors: List[str]) -> List[ast.StapFile]:
        return [t for t in (self.parse(p) for p in self.index.files_for_alias_point(functors)) if t]

    def file_order(self, path: str) -> int:
        if not hasattr(self, "_order"):
            self._order = {p: i for i, p in enumerate(self.files)}
        return self._order.get(path, -1)

    def files_defining_function(self, name: str) -> List[ast.StapFile]:
        return [t for t in (self.parse(p) for p in self.index.files_for_function(name)) if t]

    def files_defining_global(self, name: str) -> List[ast.StapFile]:
        return [t for t in (self.parse(p) for p in self.index.files_for_global(name)) if t]

    def parse_all(self) -> List[ast.StapFile]:
        return [t for t in (self.parse(p) for p in self.files) if t]


def _mark_privileged(tree: ast.StapFile) -> None:
    tree.privileged = True
    for p in tree.probes:
        p.privileged = True
    for a in tree.aliases:
        a.privileged = True


_PRIV = None


def _parser_takes_privileged() -> bool:
    global _PRIV
    if _PRIV is None:
        import inspect
        from .parser import parse as parse_text
        try:
            _PRIV = "privileged" in inspect.signature(parse_text).parameters
        except (TypeError, ValueError):
            _PRIV = False
    return _PRIV


def _warn_own_tapset(path: str, err: Exception) -> None:
    """A file of pytap's own library that does not parse is a bug in the
    library: say so instead of leaving the script with an unresolved name.
    (Other libraries, e.g. PYTAP_TAPSET=stap's, may hold files written for
    another runtime; those are skipped quietly, as before.)"""
    import sys
    from . import DEFAULT_TAPSET_DIR
    try:
        own = os.path.commonpath([os.path.realpath(path), os.path.realpath(DEFAULT_TAPSET_DIR)]) \
            == os.path.realpath(DEFAULT_TAPSET_DIR)
    except ValueError:
        own = False
    if own:
        diags = getattr(err, "diagnostics", None)
        text = diags.render() if diags is not None and hasattr(diags, "render") else str(err)
        first = (text.strip().splitlines() or ["parse error"])[0]
        sys.stderr.write(f"WARNING: tapset file {path} does not parse and is skipped: {first}\n")
