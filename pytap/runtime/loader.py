"""Pass 4: compile Program.c_source with BCC and load every BPF function into
the verifier, without attaching anything.

`load(program, opts) -> bcc.BPF` is shared by `-p4` (`load_only`) and pass 5
(runtime/lifecycle.py).  Failures raise `PassFailed` with a message that
points at the SCRIPT, never at generated C:

  * clang errors name a line of the generated C; codegen marks the C with
    `/* FILE:LINE:COL */` comments (or `#line` directives, or a
    `Program.line_map` {c_line: Loc} table), and the nearest marker at or
    above that line is the script location we quote;
  * a verifier rejection names a BPF function; we quote the script location
    of the probe that function implements and the verifier's last words.

BCC prints clang and verifier output straight to file descriptor 2, so we
capture fd 2 around the compile and each load.

Warm runs: a program loaded once is recorded in the compiled-object cache
(runtime/objcache.py) and later loads replay it with bpf(2): no clang, no
`import bcc`, no kernel headers.  BCC and the headers are checked only
when we actually compile.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from ..ast import Loc
from ..diagnostics import SOURCES, PassFailed

PASS4_FOOTER = "Pass 4: compilation failed.  [man error::pass4]"

# BCC load types, by the names codegen puts in CompiledProbe.prog_type.
# Uprobes are kprobe-type programs as far as the kernel is concerned.
_PROG_TYPES = {
    "kprobe": "KPROBE", "kretprobe": "KPROBE", "uprobe": "KPROBE",
    "uretprobe": "KPROBE",
    "tracepoint": "TRACEPOINT",
    "raw_tracepoint": "RAW_TRACEPOINT",
    "perf_event": "PERF_EVENT",
    "socket_filter": "SOCKET_FILTER",
}

_MARKER = re.compile(r"/\*\s*@?(?P<file>[^*\s][^*]*?):(?P<line>\d+):(?P<col>\d+)\s*\*/")
# a declaration's comment naming where it came from: /* f: native (t.stp:1:10) */
_DECL_MARKER = re.compile(r"/\*[^*]*\((?P<file>[^()\s]+):(?P<line>\d+):(?P<col>\d+)\)[^*]*\*/")
_LINE_DIRECTIVE = re.compile(r'^\s*#\s*(?:line\s+)?(?P<line>\d+)\s+"(?P<file>[^"]*)"')
_CLANG_DIAG = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|fatal error|warning|note): (?P<msg>.*)$")


def bcc_prog_type(bpf_cls, name: Optional[str]) -> int:
    attr = _PROG_TYPES.get((name or "kprobe").lower())
    if attr is None:
        attr = (name or "").upper()
    try:
        return getattr(bpf_cls, attr)
    except AttributeError:
        raise PassFailed(f"pytap: internal error: unknown BPF program type '{name}'\n{PASS4_FOOTER}")


def cflags_for(program, opts) -> List[str]:
    """Limits (-D NAME=VALUE) as C macros, plus what codegen asked for."""
    flags = list(getattr(program, "cflags", []) or [])
    for name, value in ((getattr(opts, "defines", None) if opts is not None else None) or {}).items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            continue
        flag = f"-D{name}={value}" if value != "" else f"-D{name}"
        if flag not in flags:
            flags.append(flag)
    # clang's warnings about the generated C are noise to a script author
    if "-w" not in flags:
        flags.append("-w")
    return flags


def functions_to_load(program) -> List[Tuple[str, Optional[str]]]:
    """(fn_name, prog_type) for every BPF function, each once: compiled
    probes first (script order), then hidden helpers named only in
    attach_groups (e.g. @entry savers)."""
    seen: Dict[str, Optional[str]] = {}
    for cp in getattr(program, "probes", []) or []:
        fn = getattr(cp, "fn_name", None)
        if fn and fn not in seen:
            seen[fn] = getattr(cp, "prog_type", None)
    for fn, rp in getattr(program, "attach_groups", []) or []:
        if fn and fn not in seen:
            seen[fn] = _prog_type_of_point(rp)
        elif fn and seen.get(fn) is None:
            seen[fn] = _prog_type_of_point(rp)
    return list(seen.items())


def _prog_type_of_point(rp) -> Optional[str]:
    if rp is None:
        return None
    try:
        from .. import probes
        fn = getattr(probes, "bpf_program_type", None)
        if fn is not None:
            return fn(rp)
    except Exception:
        pass
    return None


class FdCapture:
    """Redirect file descriptor 2 into a temporary file for a `with` block:
    BCC (C++) writes clang diagnostics and verifier logs there directly."""

    def __init__(self):
        self.text = ""

    def __enter__(self):
        try:
            sys.stderr.flush()
        except Exception:
            pass
        self._tmp = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        return False


# ---------------------------------------------------------------- C -> script

def script_loc_for_c_line(program, c_line: int) -> Optional[Loc]:
    """The script location a line of the generated C came from: an explicit
    Program.line_map entry, else the nearest `/* FILE:L:C */` marker or
    `#line` directive at or above that line."""
    lines = program.c_source.split("\n")
    table = getattr(program, "line_map", None) or {}
    i = min(c_line, len(lines)) - 1
    while i >= 0:
        if (i + 1) in table:
            return _as_loc(table[i + 1])
        text = lines[i]
        found = list(_MARKER.finditer(text)) or list(_DECL_MARKER.finditer(text))
        if found:
            m = found[-1]
            return Loc(m.group("file"), int(m.group("line")), int(m.group("col")))
        d = _LINE_DIRECTIVE.match(text)
        if d:
            # `#line N "f"` names the line that FOLLOWS it
            return Loc(d.group("file"), int(d.group("line")) + (c_line - i - 2), 1)
        i -= 1
    return None


def _as_loc(x) -> Optional[Loc]:
    if isinstance(x, Loc):
        return x
    if isinstance(x, (tuple, list)) and len(x) >= 2:
        return Loc(str(x[0]), int(x[1]), int(x[2]) if len(x) > 2 else 1)
    return getattr(x, "loc", None)


def _quote(loc: Optional[Loc]) -> str:
    if loc is None:
        return ""
    out = f"  at {loc.file}:{loc.line}:{loc.col}\n"
    src = SOURCES.line(loc)
    if src is not None:
        caret = "".join("\t" if ch == "\t" else " " for ch in src[: max(loc.col - 1, 0)])
        out += f"  source: {src}\n          {caret}^\n"
    return out


def _probe_loc(program, fn_name: str) -> Optional[Loc]:
    for cp in getattr(program, "probes", []) or []:
        if getattr(cp, "fn_name", None) == fn_name:
            probe = getattr(cp, "probe", None)
            for path in ("point", "body"):
                node = getattr(probe, path, None)
                loc = getattr(node, "loc", None)
                if loc is not None:
                    return loc
            # a DerivedProbe may keep its original probe's location
            for path in ("derivation",):
                chain = getattr(probe, path, None) or []
                for pt in chain:
                    loc = getattr(pt, "loc", None)
                    if loc is not None:
                        return loc
    return None


def describe_compile_error(program, clang_text: str) -> str:
    """Turn clang output on the generated C into script-located messages."""
    out: List[str] = []
    for raw in clang_text.splitlines():
        m = _CLANG_DIAG.match(raw)
        if not m or m.group("sev") not in ("error", "fatal error"):
            continue
        msg = m.group("msg")
        if m.group("file").endswith("main.c"):
            loc = script_loc_for_c_line(program, int(m.group("line")))
            where = f"generated C line {m.group('line')}"
        else:
            # a `#line` mapped error already names the script; else a header
            loc = Loc(m.group("file"), int(m.group("line")), int(m.group("col")))
            where = f"{m.group('file')}:{m.group('line')}"
        out.append(f"error: BPF compilation failed: {msg} ({where})\n" + _quote(loc))
    if not out:
        tail = clang_text.strip()
        out.append("error: BPF compilation failed\n" + (tail + "\n" if tail else ""))
    return "".join(out)


def describe_verifier_error(program, fn_name: str, log: str, exc: Exception) -> str:
    """The verifier's reason (its last meaningful log lines) plus the probe."""
    lines = [ln for ln in log.splitlines() if ln.strip()]
    reason = ""
    for ln in reversed(lines):
        if ln.startswith("processed ") or ln.startswith("bpf: Failed") \
                or re.match(r"^\d+: ", ln) or ln.startswith(";"):
            continue
        reason = ln.strip()
        break
    if not reason:
        reason = str(exc)
    if "Argument list too long" in reason or "too complex" in reason:
        # E2BIG: libbcc then claims "Program too large (N insns), at most
        # 4096 insns", which misleads: the verifier ran out of its budget
        # (1M explored instructions / 8192 jumps) walking the handler's paths.
        reason = ("the handler is too complex to verify (the kernel's verifier explores every "
                  "path and iteration: a loop with string operations inside, or a high "
                  "MAXACTION, exceeds its budget); move the loop to begin/end or shorten it")
    loc = (_verifier_loc(program, lines) or _source_loc_by_recompile(program, fn_name, lines)
           or _probe_loc(program, fn_name))
    msg = f"error: the BPF verifier rejected the handler '{fn_name}': {reason}\n" + _quote(loc)
    if os.environ.get("PYTAP_DEBUG") or os.environ.get("PYTAP_VERIFIER_LOG"):
        msg += "verifier log:\n" + log
    return msg


def _verifier_loc(program, lines: List[str]) -> Optional[Loc]:
    """When the kernel annotated the log with source lines ("; text @ main.c:N"
    from BTF line info), map the last one back to the script."""
    for ln in reversed(lines):
        m = re.search(r"@ main\.c:(\d+)", ln)
        if m:
            return script_loc_for_c_line(program, int(m.group(1)))
        m = _MARKER.search(ln) if ln.startswith(";") else None
        if m:
            return Loc(m.group("file"), int(m.group("line")), int(m.group("col")))
    return None


def _source_loc_by_recompile(program, fn_name: str, log_lines: List[str]) -> Optional[Loc]:
    """Where the verifier stopped, in script terms.  The kernel's log names
    an instruction index; BCC's DEBUG_SOURCE disassembly (printed on a
    second compile, only after a failure) pairs instruction indexes with
    the C source text; that text is found in c_source and its nearest
    marker is the script location."""
    insn = None
    for ln in log_lines:
        m = re.match(r"^(\d+): \(", ln)
        if m:
            insn = int(m.group(1))
    if insn is None:
        return None
    try:
        from .privileges import import_bcc
        BPF = import_bcc()
        cap = FdCapture()
        with cap:
            try:
                b = BPF(text=program.c_source.encode("utf-8", "surrogateescape"),
                        cflags=cflags_for(program, None), debug=0x8)
                b.cleanup()
            except Exception:
                pass
    except Exception:
        return None
    text_at = _disassembly_sources(cap.text, fn_name)
    src = text_at.get(insn)
    if not src:
        return None
    c_lines = program.c_source.split("\n")
    start = 0
    for i, line in enumerate(c_lines):   # search from the function's definition
        if re.search(r"\b%s\s*\(" % re.escape(fn_name), line) and "{" in line + "".join(c_lines[i + 1:i + 2]):
            start = i
    for i in list(range(start, len(c_lines))) + list(range(0, start)):
        if c_lines[i].strip() == src or (len(src) > 8 and src in c_lines[i]):
            return script_loc_for_c_line(program, i + 1)
    return None


def _disassembly_sources(text: str, fn_name: str) -> Dict[int, str]:
    """{instruction index: C source text} from BCC's DEBUG_SOURCE dump of one function."""
    out: Dict[int, str] = {}
    inside = False
    current = ""
    for ln in text.splitlines():
        if ln.startswith("Disassembly of function "):
            inside = ln.split()[-1] == fn_name
            current = ""
            continue
        if not inside:
            continue
        if ln.startswith(";"):
            current = re.sub(r"\s*// Line\s+\d+\s*$", "", ln[1:]).strip()
            continue
        m = re.match(r"^\s*(\d+):\t", ln)
        if m:
            out[int(m.group(1))] = current
    return out


# ---------------------------------------------------------------- loading

def load(program, opts, on_loaded: Optional[Callable] = None):
    """Compile and verifier-load every BPF function; return the bcc.BPF.
    The caller owns the returned object and must `cleanup()` it."""
    from . import objcache
    clock = PassClock()
    text = program.c_source
    flags = cflags_for(program, opts)
    debug = int(os.environ.get("PYTAP_BCC_DEBUG", "0") or 0)
    cache_path = None
    if not debug and objcache.enabled(opts) and objcache.cacheable(program):
        cache_path = objcache.cache_path(opts, objcache.cache_key(text, flags))
        bpf = _load_cached(program, opts, cache_path, clock)
        if bpf is not None:
            return bpf
        # A first run compiles in a child process that stores the object,
        # then replays it like a warm run: BCC, clang and their ~120 MiB
        # never enter this process, which may trace for hours.
        if not os.environ.get("PYTAP_COMPILE_INPROCESS") and \
                _compile_in_child(program, opts, cache_path, text, flags):
            bpf = _load_cached(program, opts, cache_path, PassClock(), quiet=True)
            if bpf is not None:
                if opts is not None and getattr(opts, "verbose", 0):
                    n = len(functions_to_load(program))
                    sys.stderr.write(f"Pass 4: compiled and verified {n} BPF function(s) "
                                     f"in {clock}.\n")
                return bpf
    return _compile_here(program, opts, text, flags, debug, cache_path, clock)


def _compile_here(program, opts, text, flags, debug, cache_path, clock, verbose=True):
    # Only a compile needs BCC and the kernel headers (a cache hit needs
    # neither, and skipping `import bcc` is a good part of a warm start).
    from . import objcache
    from .privileges import check_headers, import_bcc
    BPF = import_bcc()
    check_headers(4 if getattr(opts, "last_pass", 5) == 4 else 5)
    cap = FdCapture()
    try:
        with cap:
            bpf = BPF(text=text.encode("utf-8", "surrogateescape"), cflags=flags, debug=debug)
    except Exception as e:
        raise PassFailed(describe_compile_error(program, cap.text) + PASS4_FOOTER) from e
    try:
        for fn_name, ptype in functions_to_load(program):
            cap = FdCapture()
            try:
                with cap:
                    bpf.load_func(fn_name.encode(), bcc_prog_type(BPF, ptype))
            except PassFailed:
                raise
            except Exception as e:
                raise PassFailed(describe_verifier_error(program, fn_name, cap.text, e)
                                 + PASS4_FOOTER) from e
    except BaseException:
        try:
            bpf.cleanup()
        except Exception:
            pass
        raise
    if cache_path is not None:
        loaded = [(fn, bcc_prog_type(BPF, ptype)) for fn, ptype in functions_to_load(program)]
        entry = objcache.capture(bpf, program, loaded)
        if entry is not None:
            objcache.save(cache_path, entry)
            objcache.note("stored", cache_path)
        else:
            objcache.note("uncacheable", cache_path)
    if verbose and opts is not None and getattr(opts, "verbose", 0):
        n = len(functions_to_load(program))
        sys.stderr.write(f"Pass 4: compiled and verified {n} BPF function(s) in {clock}.\n")
    return bpf


def _render_failure(e) -> str:
    """A PassFailed with diagnostics as one text (its messages, then the
    footer), for the parent to raise again."""
    try:
        body = e.diagnostics.render() if hasattr(e.diagnostics, "render") else str(e.diagnostics)
    except Exception:
        body = ""
    return (body.rstrip("\n") + "\n" + e.footer) if body.strip() else e.footer


def _set_pdeathsig() -> None:
    """The compile child dies with us (an interrupted pass, a crash)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)          # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass


def _compile_in_child(program, opts, cache_path, text, flags) -> bool:
    """Compile, verify and store the object in a forked child.  True: it is
    in the cache now.  False: it could not be stored (the caller compiles
    here).  A compile or verifier error is the child's PassFailed, raised
    here with the same text."""
    from ..diagnostics import PassFailed as _PF
    r, w = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return False
    if pid == 0:                                    # the child
        code = 70
        try:
            os.close(r)
            _set_pdeathsig()
            if os.getppid() != parent:
                os._exit(code)
            msg = b""
            try:
                bpf = _compile_here(program, opts, text, flags, 0, cache_path, None,
                                    verbose=False)
                code = 0 if os.path.exists(cache_path) else 2
                try:
                    bpf.cleanup()
                except Exception:
                    pass
            except _PF as e:
                text = f"{getattr(e, 'exit_code', 1)}\n{e.footer}"
                if e.diagnostics is not None:      # keep its rendered messages
                    text = f"{getattr(e, 'exit_code', 1)}\n{_render_failure(e)}"
                msg, code = text.encode("utf-8", "surrogateescape"), 1
            except BaseException as e:              # noqa: BLE001 (reported by the parent)
                msg, code = f"{type(e).__name__}: {e}".encode("utf-8", "surrogateescape"), 3
            while msg:
                msg = msg[os.write(w, msg):]
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    try:
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return True
    if code == 1:
        rc, _, text = b"".join(chunks).decode("utf-8", "surrogateescape").partition("\n")
        raise _PF(text, exit_code=int(rc) if rc.isdigit() else 1)
    return False        # not stored, or the child failed oddly: compile here


def _load_cached(program, opts, path, clock, quiet=False):
    """A warm run: the programs BCC compiled last time, replayed without
    clang (runtime/objcache.py).  None when there is no usable entry; a
    broken one is forgotten and the caller compiles afresh."""
    from . import objcache
    entry = objcache.lookup(path)
    want = [fn for fn, _ in functions_to_load(program)]
    if entry is None or [p["name"] for p in entry.get("progs", [])] != want:
        objcache.note("miss", path)
        return None
    try:
        bpf = objcache.CachedBPF(entry)
    except Exception as e:
        objcache._debug(f"replay of {path} failed ({e}); compiling")
        objcache.note(f"replay-failed({e})", path)
        objcache.forget(path)
        return None
    objcache.note("hit", path)
    if not quiet and opts is not None and getattr(opts, "verbose", 0):
        sys.stderr.write(f"Pass 4: using cached {path}\n")
        sys.stderr.write(f"Pass 4: loaded {len(want)} cached BPF function(s) in {clock}.\n")
    return bpf


class PassClock:
    """stap -v's `in Nusr/Nsys/Nreal ms` timing of a pass."""

    def __init__(self):
        import time
        self._t = os.times()
        self._r = time.monotonic()

    def __str__(self) -> str:
        import time
        t = os.times()
        usr = int((t.user - self._t.user) * 1000)
        sys_ = int((t.system - self._t.system) * 1000)
        real = int((time.monotonic() - self._r) * 1000)
        return f"{usr}usr/{sys_}sys/{real}real ms"


def load_only(program, opts) -> int:
    """`pytap -p4`: everything loads and verifies; nothing is attached."""
    from .privileges import check_root
    check_root(4)          # BCC and headers are checked by load(), only if it compiles
    from ..interrupts import call_interruptibly
    bpf = call_interruptibly(load, program, opts)
    try:
        if opts.verbose > 1:
            names = [fn for fn, _ in functions_to_load(program)]
            sys.stderr.write(f"Pass 4: BPF functions: {', '.join(names) or '(none)'}\n")
    finally:
        bpf.cleanup()
    return 0
