"""Python twins of the native tapset functions, for the interpreter.

Each tapset function implemented with an embedded `%{ /* bpf */ %}` body
has a twin here under the same stap name; the interpreter calls it as
`fn(ctx, *args)` where ctx is the interp.ProbeContext of the handler.
Context functions answer from that snapshot (for begin/end probes: the
pytap process itself).  Behaviour follows the tapset man pages
(function::NAME(3stap)).
"""
from __future__ import annotations

import os
import random
import sys
import time
from typing import Callable, Dict

from .errors import ExitRequested, ScriptRuntimeError
from .format import from_bytes, text_escape, to_bytes, to_s64

BUILTINS: Dict[str, Callable] = {}


def builtin(*names):
    def deco(fn):
        for n in names or (fn.__name__.rstrip("_"),):
            BUILTINS[n] = fn
        return fn
    return deco


# ------------------------------------------------------------- context

@builtin()
def pid(ctx):
    return ctx.pid


@builtin()
def tid(ctx):
    return ctx.tid


@builtin()
def ppid(ctx):
    return ctx.ppid


@builtin()
def uid(ctx):
    return ctx.uid


@builtin()
def gid(ctx):
    return ctx.gid


@builtin()
def euid(ctx):
    return ctx.euid


@builtin()
def egid(ctx):
    return getattr(ctx, "egid", ctx.gid)


@builtin()
def cpu(ctx):
    return ctx.cpu


@builtin()
def execname(ctx):
    return ctx.execname


@builtin()
def pp(ctx):
    return ctx.pp


@builtin()
def ppfunc(ctx):
    return ctx.probefunc


@builtin()
def probefunc(ctx):
    return ctx.probefunc


@builtin()
def target(ctx):
    return ctx.target


@builtin()
def is_return(ctx):
    return 1 if ctx.pp.endswith(".return") else 0


@builtin()
def stp_pid(ctx):
    return os.getpid()


@builtin()
def num_cpus(ctx):
    return os.cpu_count() or 1


# ------------------------------------------------------------- time

@builtin()
def gettimeofday_s(ctx):
    return time.time_ns() // 1_000_000_000


@builtin()
def gettimeofday_ms(ctx):
    return time.time_ns() // 1_000_000


@builtin()
def gettimeofday_us(ctx):
    return time.time_ns() // 1_000


@builtin()
def gettimeofday_ns(ctx):
    return time.time_ns()


def _mono(ctx) -> int:
    return time.monotonic_ns()


@builtin("local_clock_ns", "cpu_clock_ns", "ktime_get_ns")
def local_clock_ns(ctx, *cpu):
    return _mono(ctx)


@builtin("local_clock_us", "cpu_clock_us")
def local_clock_us(ctx, *cpu):
    return _mono(ctx) // 1_000


@builtin("local_clock_ms", "cpu_clock_ms")
def local_clock_ms(ctx, *cpu):
    return _mono(ctx) // 1_000_000


@builtin("local_clock_s", "cpu_clock_s")
def local_clock_s(ctx, *cpu):
    return _mono(ctx) // 1_000_000_000


HZ = 250        # Debian's CONFIG_HZ


@builtin()
def jiffies(ctx):
    return _mono(ctx) * HZ // 1_000_000_000


@builtin()
def get_cycles(ctx):
    return time.perf_counter_ns()


_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
           "Oct", "Nov", "Dec"]


@builtin()
def ctime(ctx, *secs):
    s = secs[0] if secs else time.time_ns() // 1_000_000_000
    if s < -2147483648:
        raise ScriptRuntimeError("Time too far in the past to be converted")
    if s > 2147483647:
        raise ScriptRuntimeError("Time too far in the future to be converted")
    t = time.gmtime(s)
    return "%s %s %2d %02d:%02d:%02d %d" % (_DAYS[t.tm_wday], _MONTHS[t.tm_mon - 1],
                                          t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_year)


# ------------------------------------------------------------- control

@builtin()
def exit(ctx):
    # stap's exit() only marks the session as stopping; the handler goes on
    ctx.exit_requested = True
    return 0


@builtin()
def error(ctx, msg):
    raise ScriptRuntimeError(msg, unlocated=True)


@builtin()
def abort(ctx):
    # like exit(), but the handler stops here and try/catch cannot catch it
    ctx.exit_requested = True
    raise ExitRequested()


@builtin()
def warn(ctx, msg):
    sys.stderr.write("WARNING: " + (msg if msg.endswith("\n") else msg + "\n"))
    return 0


@builtin()
def log(ctx, msg):
    # the tapset prints "%s\n": a newline is always added
    w = ctx.interp.write if ctx.interp is not None else sys.stdout.write
    w(msg + "\n")
    return 0


@builtin()
def printk(ctx, *args):
    return 0


@builtin()
def assert_(ctx, expr, *msg):
    if not expr:
        raise ScriptRuntimeError(msg[0] if msg else "assertion failed")
    return 0


BUILTINS["assert"] = assert_


@builtin()
def randint(ctx, n):
    if n <= 0 or n > (1 << 20):
        raise ScriptRuntimeError("randint: n must be between 1 and 1048576")
    return random.randrange(n)


@builtin()
def env_var(ctx, name):
    return os.environ.get(name, "")


# ------------------------------------------------------------- strings

# Strings are byte strings in stap: lengths and positions count bytes.

@builtin()
def strlen(ctx, s):
    return len(s) if s.isascii() else len(to_bytes(s))


@builtin()
def substr(ctx, s, start, length):
    b = to_bytes(s)
    if 0 <= start < len(b):
        return from_bytes(b[start:start + max(0, length)])
    return ""


@builtin()
def stringat(ctx, s, pos):
    b = to_bytes(s)
    if 0 <= pos < len(b):
        v = b[pos]
        return v - 256 if v >= 128 else v      # C char is signed here
    raise ScriptRuntimeError("Position out of bounds")


@builtin()
def isinstr(ctx, s1, s2):
    return 1 if s2 in s1 else 0


@builtin()
def strpos(ctx, s1, s2):
    if s1.isascii():
        return s1.find(s2)
    return to_bytes(s1).find(to_bytes(s2))


@builtin()
def str_replace(ctx, prnt, srch, rplc):
    if srch == "":
        return prnt
    return prnt.replace(srch, rplc)


@builtin()
def strtol(ctx, s, base):
    """C strtol: leading space, sign, optional 0x for base 16, stops at
    the first invalid digit; saturates at the s64 range."""
    s = s.lstrip(" \t\n\r\f\v")
    neg = False
    if s[:1] in "+-" and s[:1]:
        neg = s[0] == "-"
        s = s[1:]
    if base == 0:
        if s[:2].lower() == "0x":
            base, s = 16, s[2:]
        elif s[:1] == "0":
            base = 8
        else:
            base = 10
    elif base == 16 and s[:2].lower() == "0x":
        s = s[2:]
    if not (2 <= base <= 36):
        return 0
    val = 0
    for ch in s:
        d = int(ch, 36) if ch.isalnum() and ch.isascii() else 99
        if d >= base:
            break
        val = val * base + d
    if (1 << 63) <= val < (1 << 64):
        val -= 1 << 64      # kernel addresses ("0xffffffff81000000"): stap's simple_strtol wraps
    val = -val if neg else val
    return max(-(1 << 63), min((1 << 63) - 1, val))


@builtin()
def isdigit(ctx, s):
    return 1 if s[:1].isdigit() and s[:1].isascii() else 0


def _text_strn(ctx, s: str, length: int, quoted: int) -> str:
    """_stp_text_str: escape, limit the output to `length` characters
    (0: MAXSTRINGLEN-1); quoted output that had to be cut ends in '"...'
    and never splits an escape sequence."""
    maxlen = 127
    if ctx is not None and ctx.interp is not None:
        maxlen = ctx.interp.maxstringlen - 1
    remaining = length if 0 < length <= maxlen else maxlen
    if quoted:
        remaining = max(remaining, 5) - 2
    pieces = []
    used = 0
    esc = None                  # (offset, length) of the first escape near the end
    truncated = False
    for ch in s[:maxlen]:
        if remaining <= 0:
            truncated = True
            break
        piece = text_escape(ch)
        num = len(piece)
        if num > 1 and esc is None and remaining - 3 < num:
            esc = (used, num)
        if remaining < num:
            truncated = True
            break
        pieces.append(piece)
        used += num
        remaining -= num
    body = "".join(pieces)
    if not quoted:
        return body
    if truncated:
        cut = used - 3 + remaining
        if esc is not None and esc[0] < cut < esc[0] + esc[1]:
            cut = esc[0]
        return '"' + body[:cut] + '"...'
    return '"' + body + '"'


@builtin()
def text_str(ctx, s):
    return _text_strn(ctx, s, 0, 0)


@builtin()
def text_strn(ctx, s, length, quoted):
    return _text_strn(ctx, s, length, quoted)


@builtin()
def string_quoted(ctx, s):
    return _text_strn(ctx, s, 0, 1)


_TOKENIZE_STATE: Dict[int, str] = {}


@builtin()
def tokenize(ctx, *args):
    """tokenize(input, delim) / tokenize(delim): like strsep, skipping
    empty tokens; state is kept per interpreter."""
    key = id(ctx.interp)
    if len(args) == 2:
        text, delim = args
        if text != "":
            _TOKENIZE_STATE[key] = text
    else:
        (delim,) = args
    rest = _TOKENIZE_STATE.get(key, "")
    while True:
        if rest == "":
            _TOKENIZE_STATE[key] = ""
            return ""
        idx = [i for i, ch in enumerate(rest) if ch in delim]
        if idx:
            tok, rest = rest[:idx[0]], rest[idx[0] + 1:]
        else:
            tok, rest = rest, ""
        if tok != "":
            _TOKENIZE_STATE[key] = rest
            return tok


# ------------------------------------------------------------- numbers

@builtin()
def abs_(ctx, v):
    return to_s64(-v) if v < 0 else v


BUILTINS["abs"] = abs_


@builtin()
def min_(ctx, a, b):
    return a if a < b else b


@builtin()
def max_(ctx, a, b):
    return a if a > b else b


BUILTINS["min"] = min_
BUILTINS["max"] = max_


# ------------------------------------------------------------- regex

def _last_match(ctx, what: str, n=None):
    m = ctx.last_match
    if m is None:
        if n is None:
            raise ScriptRuntimeError("Attempted to get matched string from failed match")
        raise ScriptRuntimeError(f"Attempted to get subexpression {n} from failed match")
    return m


@builtin()
def matched(ctx, n):
    m = _last_match(ctx, "matched", n)
    if n < 0 or n > m.re.groups:
        raise ScriptRuntimeError(f"Attempted to get nonexistent subexpression {n}")
    g = m.group(n)
    return g if g is not None else ""


@builtin()
def matched_str(ctx):
    return _last_match(ctx, "matched_str").group(0)


@builtin()
def ngroups(ctx):
    return _last_match(ctx, "ngroups", 0).re.groups + 1


# ------------------------------------------------------------- more context

@builtin()
def pn(ctx):
    # the probe point as written; the context only keeps the resolved one
    return getattr(ctx, "pn", "") or ctx.pp


@builtin()
def cpuid(ctx):
    return ctx.cpu


@builtin()
def sid(ctx):
    try:
        return os.getsid(ctx.pid) if ctx.pid else os.getsid(0)
    except OSError:
        return 0


@builtin()
def pgrp(ctx):
    try:
        return os.getpgid(ctx.pid) if ctx.pid else os.getpgid(0)
    except OSError:
        return 0


@builtin()
def pid2execname(ctx, p):
    try:
        with open(f"/proc/{int(p)}/comm") as f:
            return f.read().rstrip("\n")
    except (OSError, ValueError):
        return ""


@builtin()
def is_myproc(ctx):
    return 1 if ctx.uid == os.getuid() else 0


@builtin()
def user_mode(ctx):
    return 1 if getattr(ctx, "user_mode", 0) else 0


# ------------------------------------------------------------- memory
# User memory is read from /proc/PID/mem of the process the event came
# from (it may have changed since the event; codegen keeps handlers that
# read memory in BPF when it can).  Kernel memory cannot be read here.

def _fault(kind: str, addr: int) -> ScriptRuntimeError:
    return ScriptRuntimeError("%s copy fault at 0x%x [man error::fault]" % (kind, addr & (2 ** 64 - 1)))


def _read_user(ctx, addr: int, n: int):
    pid = ctx.pid or os.getpid()
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
            f.seek(addr)
            return f.read(n)
    except (OSError, ValueError, OverflowError):
        return None


def _maxlen(ctx) -> int:
    return (ctx.interp.maxstringlen if ctx is not None and ctx.interp is not None else 128) - 1


def _user_str(ctx, addr, n, kind, err=None):
    data = _read_user(ctx, addr, n) if addr else None
    if not data:
        if err is not None:
            return err
        raise _fault(kind, addr)
    nul = data.find(b"\0")
    return from_bytes(data if nul < 0 else data[:nul])


@builtin()
def user_string(ctx, addr, *err):
    return _user_str(ctx, addr, _maxlen(ctx), "user string", err[0] if err else None)


@builtin()
def user_string_n(ctx, addr, n, *err):
    n = max(0, min(n, _maxlen(ctx)))
    if n == 0:
        return ""
    return _user_str(ctx, addr, n, "user string", err[0] if err else None)


def _user_num(ctx, addr, size, kind):
    data = _read_user(ctx, addr, size) if addr else None
    if not data or len(data) < size:
        raise _fault(kind, addr)
    return int.from_bytes(data, "little", signed=True)


@builtin()
def user_long(ctx, addr):
    return _user_num(ctx, addr, 8, "user long")


@builtin()
def user_int(ctx, addr):
    return _user_num(ctx, addr, 4, "user int")


# kernel_string / kernel_string_n / kernel_long / kernel_int: natives/kernel_memory.py


# ------------------------------------------------ kernel-context only
# tapsets/bpf/kernel_context.stp: these read the current task_struct or the
# probe's registers, which exist only while a BPF handler runs.  Pass 3
# refuses them in user-mode handlers; the twins keep the interpreter honest
# if one is reached anyway (a clear run-time error, not a wrong value).

def _kernel_only(name):
    def twin(ctx, *args):
        raise ScriptRuntimeError(
            f"{name}() needs the kernel context of a probe handler running in BPF; "
            "it is not available in user space (begin/end/error, or a handler that must run there)")
    twin.__name__ = name
    return twin


for _name in ("task_current", "returnval"):
    BUILTINS[_name] = _kernel_only(_name)
for _name in ("task_parent", "task_pid", "task_tid", "task_execname", "ulong_arg", "task_state",
              "task_cpu"):
    BUILTINS[_name] = (lambda n: (lambda ctx, arg: _kernel_only(n)(ctx, arg)))(_name)


# Family twins live in runtime/natives/<family>.py (they import `builtin`
# from here), so that each tapset family keeps its Python side in one file.
from . import natives as _natives  # noqa: E402

_natives.load_all()
