"""Twins of the functions pass 2 synthesizes for procfs `$value`
(elaborate/procfs_value.py): they work on the buffer of the file being
read or written, `ctx.procfs` (runtime/procfs.py's ProcfsBuffer).

Limits are stap's: a read probe's buffer holds maxsize - 1 bytes
(.maxsize(N), else STP_PROCFS_BUFSIZE, which defaults to MAXSTRINGLEN);
going past it copies what fits and stops the handler with stap's error.
"""
from __future__ import annotations

from ..builtins import builtin
from ..errors import ScriptRuntimeError
from ..format import from_bytes, to_bytes


def _buffer(ctx):
    buf = getattr(ctx, "procfs", None) if ctx is not None else None
    if buf is None:
        raise ScriptRuntimeError("procfs $value used outside a procfs probe")
    return buf


def _store(buf, data: bytes) -> None:
    room = buf.bufsize - 1
    buf.data = data[:room]
    if len(data) > room:
        raise ScriptRuntimeError(f"buffer size exceeded, consider .maxsize({len(data) + 1}).")


@builtin("__procfs_value_get")
def procfs_value_get(ctx):
    return from_bytes(_buffer(ctx).data)


@builtin("__procfs_value_set")
def procfs_value_set(ctx, value):
    buf = _buffer(ctx)
    _store(buf, to_bytes(value))
    return value


@builtin("__procfs_value_append")
def procfs_value_append(ctx, value):
    buf = _buffer(ctx)
    _store(buf, buf.data + to_bytes(value))
    return value
