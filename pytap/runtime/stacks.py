"""Stack tokens and symbolic formats (the user-space half of tapsets/stacks.stp).

A string that leaves BPF may carry
  "\\x01K" + 8 hex (stack id in pytap_kstacks)               a kernel stack
  "\\x01U" + 8 hex (id in pytap_ustacks) + 8 hex (tgid)       a user stack
  "\\x02" KIND PAYLOAD "\\x03"                                 deferred formatting
`expand(text)` replaces them with stap's text: a stack becomes hex
addresses each followed by a space (stap's _STP_SYM_NONE), a deferred form
the lines print_stack()/symdata()/... print (stap's _stp_snprint_addr).
Expansion is done where strings are decoded (ringbuf records, map keys and
values); `contract(text)` gives back the token of an expanded stack so a
key read by the interpreter finds its BPF map entry again.

Kernel KINDs (payload: hex stack text, or 16 hex digits of an address):
  F print_backtrace  S print_syms/print_stack  s sprint_syms  b sprint_backtrace
  n symname  d symdata  m modname  c caller  l callers ("N:" + stack)
User KINDs (payload "tgid:" + the same):
  G print_ubacktrace  B print_ubacktrace_brief  T print_usyms  t sprint_usyms
  a sprint_ubacktrace  N usymname  D usymdata  M umodname  L ucallers
"""
from __future__ import annotations

import ctypes as ct
import os
import re
import threading
from typing import Dict, List, Optional

from .symbols import KERNEL, USER, SymInfo

MAXBACKTRACE = 20           # stap's default frame limit
MSL = 128                   # MAXSTRINGLEN, for sprint_* clipping

_TOKEN = re.compile("\x01K([0-9a-f]{8})|\x01U([0-9a-f]{8})([0-9a-f]{8})([0-9a-f]{8})")
_LAZY = re.compile("\x02(.)([^\x02\x03]*)\x03?", re.S)


class _State:
    bpf = None
    kfd: Optional[int] = None
    ufd: Optional[int] = None
    bfd: Optional[int] = None
    expanded: Dict[str, str] = {}       # token -> hex text
    reverse: Dict[str, str] = {}        # hex text -> token
    hex_pid: Dict[str, int] = {}        # user hex text -> tgid
    watcher: Optional[threading.Thread] = None
    stop = threading.Event()


S = _State()


def configure(maxbacktrace: int = MAXBACKTRACE, msl: int = MSL) -> None:
    global MAXBACKTRACE, MSL
    MAXBACKTRACE, MSL = maxbacktrace, msl


def use_bpf(bpf) -> None:
    """The loaded program whose stack maps tokens name (set by BpfStore)."""
    S.bpf = bpf
    S.kfd = _map_fd(bpf, "pytap_kstacks")
    S.ufd = _map_fd(bpf, "pytap_ustacks")
    S.bfd = _map_fd(bpf, "pytap_ubuildids")
    S.expanded.clear()
    S.reverse.clear()
    S.hex_pid.clear()
    if S.kfd is not None or S.ufd is not None:
        # read kallsyms now, not in the first ring-buffer callback
        KERNEL.lookup(0)
    pfd = _map_fd(bpf, "pytap_upids")
    if pfd is not None and S.watcher is None:
        S.stop.clear()
        S.watcher = threading.Thread(target=_watch_pids, args=(pfd,), daemon=True,
                                     name="pytap-upids")
        S.watcher.start()


def candidate_files(program, opts) -> None:
    """Files whose build ids may name frames of exited processes: the
    probed programs, the -c command's program, -d FILE."""
    import shutil
    paths = []
    for cp in getattr(program, "probes", None) or []:
        spec = getattr(getattr(cp, "rp", None) or getattr(cp, "resolved", None), "spec", None) or {}
        if spec.get("path"):
            paths.append(spec["path"])
    cmd = getattr(opts, "target_cmd", None)
    if cmd:
        word = cmd.split()[0] if cmd.split() else ""
        found = shutil.which(word) if "/" not in word else word
        if found:
            paths.append(os.path.realpath(found))
    paths.extend(getattr(opts, "symbol_files", None) or [])
    # and the libraries pytap itself maps (libc, libm ... the common ones)
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and "x" in parts[1] and parts[5].startswith("/"):
                    paths.append(parts[5].strip())
    except OSError:
        pass
    USER.candidates = list(dict.fromkeys(paths))


def release() -> None:
    S.stop.set()
    S.watcher = None


def _map_fd(bpf, name: str) -> Optional[int]:
    """The fd of map `name`, None when the program has none (BCC's `in`
    does not see maps not yet opened, so ask for it)."""
    for key in (name.encode(), name):
        try:
            return bpf[key].map_fd
        except Exception:
            continue
    return None


def _watch_pids(fd: int) -> None:
    """Snapshot the mappings of each process whose user stack BPF took,
    while it still lives, so it can be symbolized after it exits."""
    from . import bpfsys
    key, nxt = ct.c_uint32(0), ct.c_uint32(0)
    while not S.stop.wait(0.01):
        try:
            first = True
            while bpfsys.next_key(fd, None if first else key, nxt):
                first = False
                key.value = nxt.value
                if not USER.known(nxt.value):
                    USER.remember(nxt.value)
        except Exception:
            pass


def _read_stack(fd: Optional[int], sid: int) -> List[int]:
    if fd is None or sid >= 0x80000000:
        return []
    from . import bpfsys
    k = ct.c_uint32(sid)
    v = (ct.c_uint64 * 127)()
    if not bpfsys.lookup(fd, k, v):
        return []
    out = []
    for a in v:
        if a == 0:
            break
        out.append(a)
    return out[:MAXBACKTRACE]


def _note_build_ids(pid: int, addrs: List[int], bid: int) -> None:
    """The process is gone: keep each frame's (build id, file offset) from
    the build-id form of the stack taken with it."""
    if S.bfd is None or bid >= 0x80000000:
        return
    from . import bpfsys
    k = ct.c_uint32(bid)
    v = (ct.c_ubyte * (127 * 32))()
    if not bpfsys.lookup(S.bfd, k, v):
        return
    raw = bytes(v)
    for i, a in enumerate(addrs):
        status = int.from_bytes(raw[i * 32: i * 32 + 4], "little", signed=True)
        if status == 1:         # BPF_STACK_BUILD_ID_VALID
            USER.frames[(pid, a)] = (raw[i * 32 + 4: i * 32 + 24].hex(),
                                     int.from_bytes(raw[i * 32 + 24: i * 32 + 32], "little"))


def _hex_stack(addrs: List[int]) -> str:
    return "".join(f"{a:#x} " for a in addrs)


def _expand_token(m: re.Match) -> str:
    tok = m.group(0)
    got = S.expanded.get(tok)
    if got is not None:
        return got
    if m.group(1) is not None:
        addrs = _read_stack(S.kfd, int(m.group(1), 16))
        # the first frames are pytap's own BPF program (bpf_get_stackid
        # starts where it is called): stap's stacks start at the probe
        while addrs and KERNEL.lookup(addrs[0]).module == "bpf":
            addrs.pop(0)
        text = _hex_stack(addrs)
    else:
        pid = int(m.group(3), 16)
        USER.remember(pid)
        addrs = _read_stack(S.ufd, int(m.group(2), 16))
        if not USER.known(pid):
            _note_build_ids(pid, addrs, int(m.group(4), 16))
        text = _hex_stack(addrs)
        S.hex_pid.setdefault(text, pid)
    S.expanded[tok] = text
    S.reverse.setdefault(text, tok)
    return text


def _expand_lazy(m: re.Match) -> str:
    kind, payload = m.group(1), m.group(2)
    pid = None
    if kind in USER_KINDS:
        head, _, payload = payload.partition(":")
        try:
            pid = int(head, 16)
        except ValueError:
            pid = 0
    return format_kind(kind, payload, pid)


def expand(text: str) -> str:
    if "\x01" in text:
        text = _TOKEN.sub(_expand_token, text)
    if "\x02" in text:
        text = _LAZY.sub(_expand_lazy, text)
    return text


def contract(text: str) -> str:
    """The BPF token for an expanded stack string (else the string)."""
    return S.reverse.get(text, text) if S.reverse else text


# ------------------------------------------------------------------ formats

def _addrs_of(stk: str) -> List[int]:
    out = []
    for w in stk.split():
        try:
            out.append(int(w, 16) & 0xFFFFFFFFFFFFFFFF)
        except ValueError:
            break
    return out


def _ksym(a: int) -> SymInfo:
    return KERNEL.lookup(a)


def _usym_fn(pid: Optional[int], stk_text: str = ""):
    """A lookup for the user addresses of one process: the tgid in the
    token, else the one a stack text came from, else a remembered process
    mapping the address."""
    p = pid if pid else S.hex_pid.get(stk_text)

    def look(a: int) -> SymInfo:
        q = p
        if not q or USER.mapping(q, a) is None:
            q = USER.find_pid(a) or q
        return USER.lookup(q, a) if q else SymInfo(None, 0, 0, None)
    return look


def sym_full(a: int, si: SymInfo) -> str:
    """_STP_SYM_FULL: ' 0xADDR : name+0xoff/0xsize [module]' + newline."""
    if si.name and si.module:
        return f" {a:#x} : {si.name}+{si.offset:#x}/{si.size:#x} [{si.module}]\n"
    if si.name:
        return f" {a:#x} : {si.name}+{si.offset:#x}/{si.size:#x}\n"
    if si.module:
        return f" {a:#x} [{si.module}+{si.offset:#x}/{si.size:#x}]\n"
    return f" {a:#x}\n"


def sym_data(a: int, si: SymInfo) -> str:
    """_STP_SYM_DATA: 'name+0xoff/0xsize [module]'."""
    if si.name and si.module:
        return f"{si.name}+{si.offset:#x}/{si.size:#x} [{si.module}]"
    if si.name:
        return f"{si.name}+{si.offset:#x}/{si.size:#x}"
    if si.module:
        return f"{a:#x} [{si.module}+{si.offset:#x}/{si.size:#x}]"
    return f"{a:#x}"


def sym_simple(a: int, si: SymInfo) -> str:
    """_STP_SYM_SIMPLE: 'name+0xoff [module basename]' + newline."""
    mod = si.module.rsplit("/", 1)[-1] if si.module else None
    if si.name and mod:
        return f"{si.name}+{si.offset:#x} [{mod}]\n"
    if si.name:
        return f"{si.name}+{si.offset:#x}\n"
    if mod:
        return f"{a:#x} [{mod}+{si.offset:#x}]\n"
    return f"{a:#x}\n"


def sym_brief(a: int, si: SymInfo) -> str:
    """_STP_SYM_BRIEF: 'name+0xoff' + newline."""
    return f"{si.name}+{si.offset:#x}\n" if si.name else f"{a:#x}\n"


def _clip(text: str, limit: int) -> str:
    b = text.encode("utf-8", "surrogateescape")
    return b[:limit].decode("utf-8", "surrogateescape") if len(b) > limit else text


def _clip_lines(lines: List[str]) -> str:
    """sprint_syms: whole lines while they fit MAXSTRINGLEN (as the tapset)."""
    out, n = [], 0
    for ln in lines:
        n += len(ln)
        if n > MSL:
            break
        out.append(ln)
    return "".join(out)


def _callers(payload: str) -> str:
    n_text, _, stk = payload.partition(":")
    try:
        n = int(n_text)
    except ValueError:
        n = 0
    addrs = _addrs_of(stk)
    if n >= 0:
        addrs = addrs[: n + 1]
    out, total = [], 0
    for i, a in enumerate(addrs):
        piece = (" " if i else "") + f"{a:#x}"
        total += len(piece)
        if total > MSL:
            break
        out.append(piece)
    return "".join(out)


USER_KINDS = set("GBTtaNDML")
_USER_AS_KERNEL = {"G": "F", "B": "B", "T": "S", "t": "s", "a": "b", "N": "n", "D": "d",
                   "M": "m", "L": "l"}


def format_kind(kind: str, payload: str, pid: Optional[int] = None) -> str:
    user = kind in USER_KINDS
    look = _usym_fn(pid, payload) if user else _ksym
    k = _USER_AS_KERNEL.get(kind, kind) if user else kind
    if k in ("n", "d", "m", "c"):
        try:
            a = int(payload, 16)
        except ValueError:
            a = 0
        si = look(a)
        if k == "n":
            return si.name or f"{a:#x}"
        if k == "d":
            return sym_data(a, si)
        if k == "m":
            if not si.module:
                return "<unknown>"
            return si.module
        return f"{si.name or hex(a)} {a:#x}"           # caller()
    if k == "l":
        return _callers(payload)
    addrs = _addrs_of(payload)
    if k == "F":
        return "".join(sym_full(a, look(a)) for a in addrs)
    if k == "B":
        return "".join(sym_brief(a, look(a)) for a in addrs)
    if k in ("S", "s"):
        lines = [f" {a:#x} : {sym_data(a, look(a))}\n" for a in addrs]
        return "".join(lines) if k == "S" else _clip_lines(lines)
    if k == "b":
        return _clip("".join(sym_simple(a, look(a)) for a in addrs), MSL - 1)
    return payload


def folded(stk: str, user: bool = False, pid: Optional[int] = None) -> str:
    """'outer;...;inner' function names (flame-graph tools' folded form)."""
    look = _usym_fn(pid, stk) if user else _ksym
    names = []
    for a in _addrs_of(stk):
        si = look(a)
        names.append(si.name or f"{a:#x}")
    return ";".join(reversed(names))
