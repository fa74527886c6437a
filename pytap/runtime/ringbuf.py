"""Decoding ring-buffer records (layout in pytap/codegen/program.py) and
turning them into output / actions, in the order the kernel wrote them.

    u32 kind, u32 cpu, then per argument: long -> s64, string -> char[size]

`Decoder.decode(bytes) -> Record` is pure (unit-tested without BPF);
`Dispatcher` applies records: text to the output, triggers to the
interpreter, exit/error to the session state.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..codegen.program import (FIRST_FORMAT_ID, KIND_ERROR, KIND_EXIT,
                               KIND_TRIGGER, Program, RecordFormat)

_HEADER = struct.Struct("<II")
# KIND_TRIGGER: probe index, pid, tid, ppid, uid, gid, euid, cpu, ktime ns, execname[16]
TRIGGER_FIELDS = ("probe_index", "pid", "tid", "ppid", "uid", "gid", "euid", "cpu", "ktime_ns")
_TRIGGER = struct.Struct("<II" + "q" * len(TRIGGER_FIELDS) + "16s")
_ERROR = struct.Struct("<IIq")


def cstring(raw: bytes) -> str:
    """A NUL-terminated char[] as text.  Invalid UTF-8 survives as
    surrogate escapes so the bytes come back out unchanged."""
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    if b"\x01" in raw or b"\x02" in raw:      # stack tokens (runtime/stacks.py)
        from .stacks import expand
        return expand(raw.decode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "surrogateescape")


@dataclass
class Record:
    kind: int
    cpu: int
    args: List[Any] = field(default_factory=list)
    fmt: Optional[RecordFormat] = None       # for output records
    trigger: Optional[Dict[str, Any]] = None  # for KIND_TRIGGER
    fast: Optional[Callable[[List[Any]], str]] = None  # precompiled renderer


def compile_renderer(f: RecordFormat) -> Optional[Callable[[List[Any]], str]]:
    """A fast renderer for the common formats, built once per format:
    printf with only bare %d %i %s %u %x %X %% conversions, and
    print/println.  Anything else (flags, widths, precision, %c %p %b
    %m...) returns None and goes through format.stap_sprintf."""
    if f.kind in ("print", "println"):
        nl = "\n" if f.kind == "println" else ""
        return lambda args: "".join([a if isinstance(a, str) else str(a) for a in args]) + nl
    if f.kind != "printf" or f.fmt is None:
        return None
    try:
        from .format import parse_format
        parts = parse_format(f.fmt)
    except Exception:
        return None
    return _compile_printf(f, parts)


_M64 = (1 << 64) - 1


def _compile_printf(f: RecordFormat, parts) -> Optional[Callable[[List[Any]], str]]:
    """str.format template for the bare conversions; %u/%x/%X mask to u64."""
    pieces: List[str] = []
    masked: List[int] = []
    n = 0
    for p in parts:
        if p[0] == "lit":
            pieces.append(p[1].replace("{", "{{").replace("}", "}}"))
            continue
        _, flags, width, prec, conv = p
        if flags or width is not None or prec is not None or n >= len(f.arg_types):
            return None
        t = f.arg_types[n]
        if conv in "di" and t == "long":
            pieces.append("{%d}" % n)
        elif conv == "s" and t == "string":
            pieces.append("{%d}" % n)
        elif conv in "uxX" and t == "long":
            pieces.append("{%d:%s}" % (n, {"u": "d", "x": "x", "X": "X"}[conv]))
            masked.append(n)
        else:
            return None
        n += 1
    if n != len(f.arg_types):
        return None
    template = "".join(pieces)
    if not masked:
        return lambda args: template.format(*args)

    def render(args):
        args = list(args)
        for i in masked:
            args[i] &= _M64
        return template.format(*args)
    return render


class DecodeError(Exception):
    pass


class Decoder:
    """Pre-builds one struct.Struct per record format, so decoding a record
    is a dict lookup and one unpack."""

    def __init__(self, program: Program):
        self.program = program
        self._structs: Dict[int, Tuple[struct.Struct, List[bool], RecordFormat, Any]] = {}
        for f in program.formats:
            self._structs[f.id] = self._build(f)
        # user-mode probes whose trigger records carry target values
        self._captures: Dict[int, Tuple[struct.Struct, List[Tuple[int, bool]]]] = {}
        for cp in getattr(program, "probes", []) or []:
            caps = getattr(cp, "captures", None)
            if caps:
                msz = getattr(cp, "capture_msg_size", 0) or 0
                head = f"{len(caps)}qq{msz}s" if msz else ""
                fmt = "<" + head + "".join("q" if t == "long" else f"{size}s" for _k, t, size in caps)
                self._captures[cp.index] = (struct.Struct(fmt),
                                            [(k, t == "string") for k, t, _s in caps], bool(msz))

    def _capture_error(self, code: int, message: str):
        """A value the BPF stub failed to evaluate: the error the
        interpreter raises where the handler reads it."""
        from .errors import CapturedError, ScriptRuntimeError
        errors = getattr(self.program, "errors", None) or []
        idx = code - 1
        if 0 <= idx < len(errors):
            site = errors[idx]
            return CapturedError(ScriptRuntimeError(message or site.message, site.loc, site.tok_desc))
        return CapturedError(ScriptRuntimeError(message or f"unknown run-time error #{idx}"))

    @staticmethod
    def _build(f: RecordFormat):
        parts = ["<II"]
        is_str = []
        for t in f.arg_types:
            if t == "string":
                parts.append(f"{f.string_size}s")
                is_str.append(True)
            else:
                parts.append("q")
                is_str.append(False)
        return struct.Struct("".join(parts)), is_str, f, compile_renderer(f)

    def decode(self, data: bytes) -> Record:
        if len(data) < 8:
            raise DecodeError(f"short ring-buffer record ({len(data)} bytes)")
        kind, cpu = _HEADER.unpack_from(data)
        entry = self._structs.get(kind)
        if entry is not None:
            st, is_str, f, fast = entry
            if len(data) < st.size:
                raise DecodeError(f"record kind {kind}: {len(data)} bytes, expected {st.size}")
            vals = st.unpack_from(data)
            args = [cstring(v) if s else v for v, s in zip(vals[2:], is_str)]
            return Record(kind, cpu, args, fmt=f, fast=fast)
        if kind == KIND_TRIGGER:
            if len(data) < _TRIGGER.size:
                raise DecodeError(f"short trigger record ({len(data)} bytes)")
            vals = _TRIGGER.unpack_from(data)
            trig = dict(zip(TRIGGER_FIELDS, vals[2:-1]))
            trig["execname"] = cstring(vals[-1])
            cap = self._captures.get(trig["probe_index"])
            if cap is not None:
                st, keys, with_status = cap
                if len(data) < _TRIGGER.size + st.size:
                    raise DecodeError(f"short trigger record ({len(data)} bytes)")
                tv = st.unpack_from(data, _TRIGGER.size)
                status = ()
                if with_status:
                    n = len(keys)
                    status, emsg_status, emsg = tv[:n], tv[n], cstring(tv[n + 1])
                    tv = tv[n + 2:]
                values = {k: (cstring(v) if is_s else v) for (k, is_s), v in zip(keys, tv)}
                for (k, _s), code in zip(keys, status):
                    if code:
                        values[k] = self._capture_error(code, emsg if code == emsg_status else "")
                trig["target_values"] = values
            return Record(kind, cpu, [], trigger=trig)
        if kind == KIND_ERROR:
            # site index, then (optionally) char msg[]: a message built at
            # run time (error(msg), messages with values); "" = the site's
            idx = _ERROR.unpack_from(data)[2] if len(data) >= _ERROR.size else -1
            msg = cstring(data[_ERROR.size:]) if len(data) > _ERROR.size else ""
            return Record(kind, cpu, [idx, msg])
        if kind == KIND_EXIT:
            return Record(kind, cpu, [])
        raise DecodeError(f"unknown ring-buffer record kind {kind}")


def render_output(rec: Record) -> str:
    """The text a print-family record prints."""
    if rec.fast is not None:
        return rec.fast(rec.args)
    f = rec.fmt
    kind = f.kind
    if kind == "printf":
        from .format import stap_sprintf
        return stap_sprintf(f.fmt or "", rec.args)
    if kind in ("print", "println"):
        text = "".join(_print_value(a) for a in rec.args)
        return text + "\n" if kind == "println" else text
    if kind in ("printd", "printdln"):
        text = (f.fmt or "").join(_print_value(a) for a in rec.args)
        return text + "\n" if kind == "printdln" else text
    if kind in ("text", "literal"):
        return f.fmt or ""
    # an unknown output kind with a format: treat as printf
    from .format import stap_sprintf
    return stap_sprintf(f.fmt or "", rec.args)


def _print_value(v) -> str:
    if isinstance(v, str):
        return v
    try:
        from .format import print_value
    except ImportError:
        return str(v)
    return print_value(v)


def _now() -> float:
    import time
    return time.monotonic()


def _string_at(data, size) -> bytes:
    import ctypes
    return ctypes.string_at(data, size)


class Dispatcher:
    """Applies decoded records.  Callbacks:
        write(text)                  output, in record order
        on_trigger(probe_index, ctx_dict)
        on_exit()
        on_error(error_index, message)   message "" = the site's own
    Output is collected per poll batch by the caller's writer; exceptions
    raised by callbacks (ExitRequested, ScriptRuntimeError) are stashed and
    re-raised by `check()` because they cannot cross BCC's C callback."""

    def __init__(self, program: Program, write: Callable[[str], None],
                 on_trigger: Callable[[int, Dict[str, Any]], None],
                 on_exit: Callable[[], None], on_error: Callable[[int, str], None]):
        self.decoder = Decoder(program)
        self.write = write
        self.on_trigger = on_trigger
        self.on_exit = on_exit
        self.on_error = on_error
        self.pending: Optional[BaseException] = None
        self.records = 0
        # After exit/error, further records are still decoded (BPF handlers
        # that were already running) but triggers no longer run.
        self.stopped = False
        # monotonic time after which callback() ends the current poll
        self.budget_end: Optional[float] = None

    def handle_bytes(self, data: bytes) -> None:
        rec = self.decoder.decode(data)
        self.records += 1
        if rec.fmt is not None:
            self.write(render_output(rec))
        elif rec.kind == KIND_TRIGGER:
            if not self.stopped:
                self.on_trigger(rec.trigger["probe_index"], rec.trigger)
        elif rec.kind == KIND_EXIT:
            self.on_exit()
        elif rec.kind == KIND_ERROR:
            self.on_error(rec.args[0], rec.args[1])

    def callback(self, _ctx, data, size) -> int:
        """BCC ring-buffer callback (C calls it; an exception raised through
        it would be printed and lost).  On an exception we stash it and
        return -1: libbpf then stops this poll right after the current
        record, so later records stay queued, in order, for the next poll."""
        if self.pending is not None:
            return -1
        try:
            self.handle_bytes(_string_at(data, size))
        except BaseException as e:  # re-raised by check() in Python land
            self.pending = e
            return -1
        # Under a flood libbpf would keep calling us without ever returning
        # from the poll: give control back when the batch's time is up or
        # the session is stopping, so signals, -T and exit() are seen.
        if self.budget_end is not None and _now() > self.budget_end:
            return -1
        return 0

    def check(self) -> None:
        e, self.pending = self.pending, None
        if e is not None:
            raise e
