"""Facts about the machine that probe matching (pass 2) and attaching need.

Everything that reads the running system sits behind `Platform`, so the
probe providers can be tested with `FakePlatform` and no root:

    kernel_functions()        {name: module or None}  text symbols from /proc/kallsyms
                              (t/T), minus the kprobe blacklist when the kernel has one
    has_kprobes()             the kernel can take kprobes (CONFIG_KPROBES)
    kernel_hz()               CONFIG_HZ (timer.jiffies), default 250
    guru, target_cmd, target_pid   -g / -c / -x, set by apply_options(opts)
    tracepoints()             [(category, event)] from tracefs available_events
    tracepoint_format(c, e)   [TracepointField] from events/c/e/format
    btf_function(name)        btf.FuncProto (param names/types) from /sys/kernel/btf/vmlinux
    tracepoint_prototype(c, e)  btf.FuncProto of the event's TP_PROTO (its own or its
                              template's __bpf_trace_ wrapper), None if unknown
    pid_exists(n)             /proc/n is there
    find_executable(p)        stap's process("p") path lookup (cwd if it has a "/", else $PATH)
    elf_info(path)            elf.ElfInfo: FUNC symbols of a user binary
    ensure_kernel_headers()   what BCC needs to compile (see that function)

`current()` returns the host Platform, created once per process (the
elaborator finds it by that name).
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..diagnostics import StapError
from . import btf as _btf
from . import elf as _elf
from .. import cachefs

KALLSYMS = "/proc/kallsyms"
KPROBE_BLACKLIST = "/sys/kernel/debug/kprobes/blacklist"
BTF_VMLINUX = "/sys/kernel/btf/vmlinux"
TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


@dataclass(frozen=True)
class TracepointField:
    """One field of a tracepoint record, from its tracefs format file."""
    name: str
    c_type: str          # "pid_t", "char[16]", "__data_loc char[]", "const char *"
    offset: int
    size: int
    signed: bool
    is_string: bool      # char[N], __data_loc char[], or char *
    data_loc: bool       # __data_loc: u32 = (len << 16) | offset-in-record
    is_pointer: bool
    array_len: int = 0   # N of type[N] (0: not an array)
    common: bool = False # common_* header fields


_FIELD_RE = re.compile(r"^\s*field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);(?:\s*signed:(?P<signed>\d+);)?")
_DECL_RE = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(?P<n>[^\]]*)\])?\s*$")


def parse_format(text: str) -> List[TracepointField]:
    """Fields of a tracefs `format` file, in record order."""
    out = []
    for line in text.splitlines():
        m = _FIELD_RE.match(line)
        if not m:
            continue
        decl = m.group("decl").strip()
        d = _DECL_RE.match(decl)
        if not d:
            continue
        ctype, name, n = d.group("type").strip(), d.group("name"), d.group("n")
        data_loc = ctype.startswith("__data_loc")
        base = ctype.replace("__data_loc", "").strip()
        array_len = 0
        if n is not None:
            try:
                array_len = int(n, 0)
            except ValueError:
                array_len = 0
            ctype = f"{ctype}[{n}]"
        is_pointer = base.endswith("*") and not data_loc
        charish = re.sub(r"\b(const|volatile|unsigned|signed)\b", "", base).replace("[]", "").strip()
        is_string = (data_loc and charish == "char") or \
            (n is not None and charish == "char") or \
            (is_pointer and charish.rstrip("* ").strip() == "char" and charish.count("*") == 1)
        out.append(TracepointField(
            name=name, c_type=ctype, offset=int(m.group("off")), size=int(m.group("size")),
            signed=m.group("signed") == "1", is_string=is_string, data_loc=data_loc,
            is_pointer=is_pointer, array_len=array_len, common=name.startswith("common_")))
    return out


def _is_root() -> bool:
    return os.geteuid() == 0


def _levels_up_cache_dir() -> Path:
    from ..options import Options
    return Options().cache_dir


class Platform:
    """The running system.  Every fact is read lazily, once."""

    def __init__(self, cache_dir: Optional[Path] = None):
        self._cache_dir = Path(cache_dir) if cache_dir else None
        # Set from the command line (apply_options): -g allows guru-only
        # points (kprobe.statement(A).absolute); -c CMD / -x PID give
        # unspecified process probes (process.function("f")) their target.
        self.guru = False
        self.target_cmd: Optional[str] = None
        self.target_pid: int = 0
        self._ksyms: Optional[Dict[str, Optional[str]]] = None
        self._tracefs: Optional[str] = None
        self._tracepoints: Optional[List[Tuple[str, str]]] = None
        self._formats: Dict[Tuple[str, str], List[TracepointField]] = {}
        self._btf: Optional[Dict[str, _btf.FuncProto]] = None
        self._tp_templates: Optional[tuple] = None
        self._elf: Dict[str, _elf.ElfInfo] = {}

    @property
    def cache_dir(self) -> Path:
        return self._cache_dir or _levels_up_cache_dir()

    # ---------------------------------------------------------- kernel symbols
    def kernel_functions(self) -> Dict[str, Optional[str]]:
        """Kernel text symbols: name -> module name (None for vmlinux), in
        kallsyms order, each name once."""
        if self._ksyms is None:
            self._ksyms = self._cached_kernel_functions()
        return self._ksyms

    def _cached_kernel_functions(self) -> Dict[str, Optional[str]]:
        """kallsyms takes the kernel ~0.1 s to produce; the symbol set only
        changes across boots and module loads, so keep it (JSON) under the
        cache dir keyed by boot id and /proc/modules."""
        key = None
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                boot = f.read().strip()
            try:
                with open("/proc/modules") as f:
                    mods = f.read()
            except OSError:         # a kernel without module support
                mods = ""
            import hashlib
            key = hashlib.sha256((boot + "\0" + mods).encode()).hexdigest()[:24]
        except OSError:
            pass
        name = f"ksyms-{key}.json" if key else None
        if name is not None:
            got = cachefs.load_json(self.cache_dir, name)
            if isinstance(got, dict):
                return got
        syms = self._read_kernel_functions()
        if name is not None and syms:
            for old, _st in cachefs.entries(self.cache_dir):
                if old.startswith("ksyms-") and old != name:
                    cachefs.remove(self.cache_dir, old)
            cachefs.store_json(self.cache_dir, name, syms)
        return syms

    def _read_kernel_functions(self) -> Dict[str, Optional[str]]:
        syms: Dict[str, Optional[str]] = {}
        # System.map only when kallsyms is unreadable (no modules in it)
        for path in (KALLSYMS, f"/boot/System.map-{os.uname().release}"):
            try:
                with open(path, errors="replace") as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) < 3 or parts[1] not in ("t", "T"):
                            continue
                        name = parts[2]
                        mod = parts[3].strip("[]") if len(parts) > 3 else None
                        if name not in syms:
                            syms[name] = mod
            except OSError:
                pass
            if syms:
                break
        for name in self.kprobe_blacklist():
            syms.pop(name, None)
        return syms

    def kprobe_blacklist(self) -> set:
        """Symbols the kernel refuses kprobes on (only known when debugfs
        shows kprobes/blacklist, i.e. a kernel with kprobes)."""
        out = set()
        try:
            with open(KPROBE_BLACKLIST) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 2:
                        out.add(parts[1])
        except OSError:
            pass
        return out

    def kernel_hz(self) -> int:
        """CONFIG_HZ (for timer.jiffies): from /boot/config-$(uname -r) or
        /proc/config.gz, else Debian's 250."""
        if getattr(self, "_hz", None) is None:
            self._hz = 250
            text = ""
            try:
                with open(f"/boot/config-{os.uname().release}") as f:
                    text = f.read()
            except OSError:
                try:
                    import gzip
                    with gzip.open("/proc/config.gz", "rt") as f:
                        text = f.read()
                except OSError:
                    pass
            m = re.search(r"^CONFIG_HZ=(\d+)$", text, re.M)
            if m:
                self._hz = int(m.group(1))
        return self._hz

    def has_kprobes(self) -> bool:
        if os.path.exists("/sys/bus/event_source/devices/kprobe"):
            return True
        d = self.tracefs_dir()
        return bool(d and os.path.exists(os.path.join(d, "kprobe_events")))

    # ------------------------------------------------------------------ tracefs
    def tracefs_dir(self) -> Optional[str]:
        """Where tracefs is, mounting it (root only) when nothing is."""
        if self._tracefs is not None:
            return self._tracefs or None
        for d in TRACEFS_CANDIDATES:
            if os.path.exists(os.path.join(d, "available_events")):
                self._tracefs = d
                return d
        if _is_root():
            # A fresh machine mounts neither tracefs nor debugfs.
            attempts = [("tracefs", "/sys/kernel/tracing", "/sys/kernel/tracing"),
                        ("debugfs", "/sys/kernel/debug", "/sys/kernel/debug/tracing")]
            for fstype, where, result in attempts:
                if _mount(fstype, where) and os.path.exists(os.path.join(result, "available_events")):
                    self._tracefs = result
                    return result
        self._tracefs = ""
        return None

    def tracepoints(self) -> List[Tuple[str, str]]:
        """(category, event) for every kernel tracepoint, in the kernel's order."""
        if self._tracepoints is None:
            out: List[Tuple[str, str]] = []
            d = self.tracefs_dir()
            if d:
                try:
                    with open(os.path.join(d, "available_events")) as f:
                        for line in f:
                            cat, sep, name = line.strip().partition(":")
                            if sep:
                                out.append((cat, name))
                except OSError:
                    for fmt in sorted(glob.glob(os.path.join(d, "events", "*", "*", "format"))):
                        parts = fmt.split(os.sep)
                        out.append((parts[-3], parts[-2]))
            self._tracepoints = out
        return self._tracepoints

    def tracepoint_format(self, category: str, event: str) -> List[TracepointField]:
        key = (category, event)
        if key not in self._formats:
            d = self.tracefs_dir()
            fields: List[TracepointField] = []
            if d:
                try:
                    with open(os.path.join(d, "events", category, event, "format")) as f:
                        fields = parse_format(f.read())
                except OSError:
                    pass
            self._formats[key] = fields
        return self._formats[key]

    # ---------------------------------------------------------------------- BTF
    def btf_functions(self) -> Dict[str, _btf.FuncProto]:
        """All BTF function prototypes (see btf_function)."""
        table = self._btf_table()
        return {name: self.btf_function(name) for name in table[0]}

    def _btf_table(self):
        """(funcs, types): funcs maps name -> (ret type index or -1,
        ((param name, type index), ...)); types is a list of CType tuples.
        Parsed once, then pickled under cache_dir keyed by the BTF file's
        size and mtime; plain tuples load several times faster than
        dataclass instances."""
        if self._btf is None:
            self._btf = ({}, [])
            try:
                st = os.stat(BTF_VMLINUX)
            except OSError:
                return self._btf
            self._btf = self._btf_cached(
                f"btf-funcs-v2-{st.st_size}-{int(st.st_mtime)}.pickle",
                lambda: _compact_protos(_btf.parse_file(BTF_VMLINUX))) or self._btf
        return self._btf

    def _btf_cached(self, name: str, build):
        """A pair of tables derived from this kernel's BTF: from the cache
        file `name` (pickle, for speed; cachefs checks ownership before
        loading), else build() and store it; None when BTF cannot be read."""
        got = cachefs.load_pickle(self.cache_dir, name)
        if isinstance(got, tuple) and len(got) == 2:
            return got
        try:
            got = build()
        except (OSError, _btf.BTFError):
            return None
        cachefs.store_pickle(self.cache_dir, name, got)
        return got

    def btf_function(self, name: str) -> Optional[_btf.FuncProto]:
        funcs, types = self._btf_table()
        got = funcs.get(name)
        if got is None:
            return None
        ret, params = got
        return _btf.FuncProto(name, tuple((pn, _btf.CType(*types[ti])) for pn, ti in params),
                              _btf.CType(*types[ret]) if ret >= 0 else None)

    def tracepoint_prototype(self, category: str, event: str) -> Optional[_btf.FuncProto]:
        """The TP_PROTO of an event as BTF names it: the kernel's
        `__bpf_trace_<event>` wrapper, or for an event defined from a
        template (DEFINE_EVENT) its template's wrapper, picked among those
        with the event's argument types by the record's field names."""
        own = self.btf_function(f"__bpf_trace_{event}")
        if own is not None:
            return own
        templates, fields = self._tracepoint_templates()
        cands = templates.get(event, ())
        if len(cands) > 1:
            mine = tuple(f.name for f in self.tracepoint_format(category, event) if not f.common)
            cands = tuple(t for t in cands if fields.get(t) == mine) or cands
        protos = [p for p in (self.btf_function(f"__bpf_trace_{t}") for t in cands) if p is not None]
        if not protos or len({tuple(n for n, _ in p.params) for p in protos}) != 1:
            return None         # unknown, or templates that disagree on names
        return protos[0]

    def _tracepoint_templates(self):
        """btf.parse_tracepoint_templates of this kernel, pickled like
        _btf_table."""
        if self._tp_templates is None:
            self._tp_templates = ({}, {})
            try:
                st = os.stat(BTF_VMLINUX)
            except OSError:
                return self._tp_templates
            def build():
                with open(BTF_VMLINUX, "rb") as f:
                    return _btf.parse_tracepoint_templates(f.read())
            self._tp_templates = self._btf_cached(
                f"btf-tp-v1-{st.st_size}-{int(st.st_mtime)}.pickle", build) or self._tp_templates
        return self._tp_templates

    # ---------------------------------------------------------- user binaries
    def find_executable(self, name: str, cwd: Optional[str] = None) -> Optional[str]:
        """stap's lookup for process("NAME"): with a "/" relative to the
        working directory, else the working directory's file of that name,
        else $PATH; symlinks resolved.  None if nothing is there."""
        cwd = cwd or os.getcwd()
        cands = []
        if "/" in name:
            cands.append(os.path.join(cwd, name))
        else:
            for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
                cands.append(os.path.join(d or cwd, name))
            cands.append(os.path.join(cwd, name))
        for c in cands:
            if os.path.isfile(c):
                return os.path.realpath(c)
        return None

    def pid_exists(self, pid: int) -> bool:
        return os.path.isdir(f"/proc/{pid}")

    def elf_info(self, path: str) -> Optional[_elf.ElfInfo]:
        if path not in self._elf:
            try:
                self._elf[path] = _elf.read(path)
            except (OSError, _elf.ELFError, Exception):
                self._elf[path] = None
        return self._elf[path]

    def ensure_kernel_headers(self) -> str:
        return ensure_kernel_headers()

    def dwarf_info(self, path: str):
        """platform.dwarf.DwarfInfo of a user binary built with -g, else None."""
        if not hasattr(self, "_dwarf"):
            self._dwarf = {}
        if path not in self._dwarf:
            from . import dwarf as _dwarf
            try:
                self._dwarf[path] = _dwarf.read(path)
            except Exception:
                self._dwarf[path] = None
        return self._dwarf[path]


def _compact_protos(protos: Dict[str, _btf.FuncProto]):
    types: List[tuple] = []
    index: Dict[tuple, int] = {}

    def idx(ct) -> int:
        if ct is None:
            return -1
        t = (ct.text, ct.size, ct.signed, ct.is_pointer, ct.is_string)
        if t not in index:
            index[t] = len(types)
            types.append(t)
        return index[t]

    funcs = {name: (idx(p.ret), tuple((pn, idx(ct)) for pn, ct in p.params))
             for name, p in protos.items()}
    return funcs, types


def _mount(fstype: str, where: str) -> bool:
    """mount -t fstype none where, through libc (no util-linux needed)."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        rc = libc.mount(b"none", where.encode(), fstype.encode(), 0, None)
        return rc == 0
    except Exception:
        return False


class FakePlatform(Platform):
    """Hand-fed facts for tests: nothing is read from the machine."""

    def __init__(self, kernel_functions=None, tracepoints=None, btf=None,
                 executables=None, elfs=None, kprobes=True, pids=(1, 42)):
        super().__init__(cache_dir=Path("/nonexistent"))
        # kernel_functions: list of names or {name: module}
        kf = kernel_functions or {}
        self._ksyms = dict(kf) if isinstance(kf, dict) else {n: None for n in kf}
        # tracepoints: {"cat:name": format text or [TracepointField]}
        self._tracepoints = []
        for key, fmt in (tracepoints or {}).items():
            cat, _, name = key.partition(":")
            self._tracepoints.append((cat, name))
            self._formats[(cat, name)] = parse_format(fmt) if isinstance(fmt, str) else list(fmt or [])
        self._btf = _compact_protos(dict(btf or {}))
        self._tp_templates = ({}, {})
        self._executables = dict(executables or {})   # name as written -> path
        self._elf = dict(elfs or {})                   # path -> ElfInfo
        self._kprobes = kprobes
        self._tracefs = ""
        self.pids = set(pids)

    def has_kprobes(self) -> bool:
        return self._kprobes

    def kernel_hz(self) -> int:
        return 250

    def find_executable(self, name, cwd=None):
        return self._executables.get(name)

    def pid_exists(self, pid):
        return pid in self.pids

    def elf_info(self, path):
        return self._elf.get(path)


_CURRENT: Optional[Platform] = None


def apply_options(opts, platform: Optional[Platform] = None) -> Platform:
    """Copy what probe matching needs from Options (-g, -c, -x) onto the
    platform (the host one by default) and return it."""
    plat = platform or current()
    plat.guru = bool(getattr(opts, "guru", False))
    plat.target_cmd = getattr(opts, "target_cmd", None)
    plat.target_pid = int(getattr(opts, "target_pid", 0) or 0)
    return plat


def target_executable(platform: Platform) -> Optional[str]:
    """The program -c CMD runs (its first word, looked up like a shell) or
    -x PID's /proc/PID/exe; None without a target."""
    if platform.target_cmd:
        import shlex
        try:
            words = shlex.split(platform.target_cmd)
        except ValueError:
            words = platform.target_cmd.split()
        if words:
            return platform.find_executable(words[0]) or words[0]
    if platform.target_pid:
        try:
            return os.readlink(f"/proc/{platform.target_pid}/exe")
        except OSError:
            return None
    return None


def current() -> Platform:
    """The host platform (one per process)."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = Platform()
    return _CURRENT


# -------------------------------------------------------------- kernel headers

HEADERS_HELP = (
    "pytap needs the kernel headers that BCC compiles against at {build}. "
    "Install Debian's headers (apt-get install linux-headers-amd64, which "
    "provides /usr/src/linux-headers-<version>-amd64 and -common) and link "
    "them: ln -s /usr/src/linux-headers-<version>-amd64 {build} and "
    "ln -s /usr/src/linux-headers-<version>-common {source} (as root)."
)


def ensure_kernel_headers(release: Optional[str] = None, modules_root: str = "/lib/modules",
                          src_root: str = "/usr/src") -> str:
    """Return /lib/modules/$(uname -r)/build, creating it when missing: as
    root, link it (and `source`) to the newest /usr/src/linux-headers-*-amd64
    (and its -common twin).  Otherwise raise StapError with what to do."""
    release = release or os.uname().release
    mdir = os.path.join(modules_root, release)
    build = os.path.join(mdir, "build")
    source = os.path.join(mdir, "source")
    if os.path.isdir(os.path.join(build, "include")) or os.path.isfile(os.path.join(build, "Makefile")):
        return build
    amd64 = sorted(glob.glob(os.path.join(src_root, "linux-headers-*-amd64")), key=_version_key)
    if amd64 and _is_root_or_writable(modules_root):
        target = amd64[-1]
        common = target[: -len("-amd64")] + "-common"
        try:
            os.makedirs(mdir, exist_ok=True)
            if os.path.islink(build):
                os.unlink(build)
            os.symlink(target, build)
            if os.path.isdir(common) and not os.path.exists(source):
                if os.path.islink(source):
                    os.unlink(source)
                os.symlink(common, source)
            return build
        except OSError as e:
            raise StapError(HEADERS_HELP.format(build=build, source=source)
                            + f" (linking {target} failed: {e.strerror})", kind="")
    raise StapError(HEADERS_HELP.format(build=build, source=source), kind="")


def _version_key(path: str):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


def _is_root_or_writable(path: str) -> bool:
    return _is_root() or os.access(path, os.W_OK)
