"""Reading the BPF ring buffer ourselves, in batches.

libbpf's ring_buffer__poll calls a C callback per record; through ctypes that
costs a Python call, a ctypes.string_at copy and a Record object per record,
which capped printf-heavy scripts at a few hundred thousand lines per second.
Here the ring buffer is mmap'ed into Python (the kernel's layout, see
kernel/bpf/ringbuf.c and libbpf's ringbuf.c):

    page 0              consumer position (u64), written by us
    page 1              producer position (u64), written by the kernel
    pages 2..           the data area, mapped twice in a row so that a
                        record never wraps inside the mapping

    record: u32 length | BUSY (1<<31) | DISCARD (1<<30), u32 page offset,
            then the data, the whole rounded up to 8 bytes

and every record between the two positions is handled in one Python loop:
output records of the common formats render straight from the mapping into
one list, joined and written once per batch; everything else (triggers,
exit, errors, other formats) goes through Dispatcher.handle_bytes exactly as
before.  Waiting is epoll on the map's fd (readable when data is there).

The consumer position is published after each batch (and before a callback
that raised is re-raised), so the kernel reuses space as we go.
"""
from __future__ import annotations

import mmap
import select
import struct
import time
from typing import Callable, Dict, List, Optional

from .ringbuf import Dispatcher, cstring

_BUSY = 1 << 31
_DISCARD = 1 << 30
_LEN = ~(_BUSY | _DISCARD) & 0xFFFFFFFF
_POS = struct.Struct("<Q")
_HDR = struct.Struct("<I4xI")          # length word, (page offset), record kind
_M64 = (1 << 64) - 1

# records handled between two looks at the clock / consumer updates
BATCH = 4096
# after a wakeup with less than this much data, wait COALESCE_S first
COALESCE_BYTES = 16384
COALESCE_S = 0.001


def _fast_renderer(st: struct.Struct, is_str: List[bool], f) -> Optional[Callable]:
    """(mapping, offset) -> text for printf with only bare %d %i %s %u %x %X
    and for print/println, or None (then the Dispatcher renders it)."""
    from .ringbuf import compile_renderer
    if compile_renderer(f) is None:
        return None
    unpack = st.unpack_from
    if f.kind in ("print", "println"):
        nl = "\n" if f.kind == "println" else ""

        def render_print(buf, off):
            vals = unpack(buf, off)[2:]
            return "".join([cstring(v) if s else str(v) for v, s in zip(vals, is_str)]) + nl
        return render_print
    # printf: the same conversions as ringbuf._compile_printf, as %-format
    from .format import parse_format
    pieces = []
    masked = []
    n = 0
    for p in parse_format(f.fmt):
        if p[0] == "lit":
            pieces.append(p[1].replace("%", "%%"))
            continue
        conv = p[4]
        pieces.append({"d": "%d", "i": "%d", "s": "%s", "u": "%d", "x": "%x", "X": "%X"}[conv])
        if conv in "uxX":
            masked.append(n)
        n += 1
    template = "".join(pieces)
    strs = [i for i, s in enumerate(is_str) if s]
    if not strs and not masked:
        def render_longs(buf, off):
            return template % unpack(buf, off)[2:]
        return render_longs

    def render(buf, off):
        vals = list(unpack(buf, off)[2:])
        for i in strs:
            vals[i] = cstring(vals[i])
        for i in masked:
            vals[i] &= _M64
        return template % tuple(vals)
    return render


class _Run:
    """Records of one format back to back (the usual flood: one printf per
    event) are unpacked in one struct.iter_unpack call and rendered by one
    list comprehension: no Python-level work per record but the format."""

    def __init__(self, kind: int, st: struct.Struct, is_str: List[bool], f):
        self.ln = st.size                        # the length word of such a record
        self.stride = (st.size + 8 + 7) & ~7
        pad = self.stride - 8 - st.size
        # (length word, kind, args...): page offset and cpu skipped
        self.st = struct.Struct("<I4xI4x" + st.format[3:].lstrip("<") + f"{pad}x")
        self.hk = struct.Struct(f"<I4xI{self.stride - 12}x")
        self.first = (self.ln, kind)
        self.render = _run_renderer(is_str, f)


def _run_renderer(is_str: List[bool], f) -> Optional[Callable]:
    """vals (list of (len, kind, args...)) -> list of texts, for printf with
    bare conversions; None for anything else."""
    from .format import parse_format
    if f.kind != "printf" or f.fmt is None:
        return None
    pieces = []
    exprs = []
    n = 0
    for p in parse_format(f.fmt):
        if p[0] == "lit":
            pieces.append(p[1].replace("%", "%%"))
            continue
        _, flags, width, prec, conv = p
        if flags or width is not None or prec is not None or n >= len(is_str):
            return None
        if conv == "s" and is_str[n]:
            exprs.append(f"cs(v[{n + 2}])")
        elif conv in "di" and not is_str[n]:
            exprs.append(f"v[{n + 2}]")
        elif conv in "uxX" and not is_str[n]:
            exprs.append(f"(v[{n + 2}] & M)")
        else:
            return None
        pieces.append("%s" if conv == "s" else "%d" if conv in "diu" else "%" + conv)
        n += 1
    if n != len(is_str):
        return None
    arg = "(" + ", ".join(exprs) + ",)" if exprs else "()"
    src = f"lambda vals: [t % {arg} for v in vals]"
    return eval(src, {"t": "".join(pieces), "cs": cstring, "M": _M64})


class RingReader:
    """The ring buffer `fd` of `pages` data pages, read in batches through
    `dispatcher` (whose write() receives one string per batch)."""

    def __init__(self, fd: int, pages: int, dispatcher: Dispatcher):
        self.fd = fd
        self.size = pages * mmap.PAGESIZE
        self.mask = self.size - 1
        self.d = dispatcher
        pg = mmap.PAGESIZE
        self.cons = mmap.mmap(fd, pg, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self.prod = mmap.mmap(fd, pg + 2 * self.size, mmap.MAP_SHARED, mmap.PROT_READ, offset=pg)
        self.data = memoryview(self.prod)[pg:]
        self.ep = select.epoll()
        self.ep.register(fd, select.EPOLLIN)
        self._build_renderers()

    def _build_renderers(self) -> None:
        self.fast: Dict[int, Callable] = {}
        self.runs: Dict[int, _Run] = {}
        for kind, (st, is_str, f, _r) in self.d.decoder._structs.items():
            r = _fast_renderer(st, is_str, f)
            if r is not None:
                self.fast[kind] = r
                run = _Run(kind, st, is_str, f)
                if run.render is not None:
                    self.runs[kind] = run

    def poll(self, timeout_ms: int) -> int:
        """Wait up to timeout_ms for data (unless some is there), then read."""
        if self._available() == 0:
            try:
                if not self.ep.poll(max(timeout_ms, 0) / 1000.0):
                    return 0
            except InterruptedError:
                return 0
            # woken by the first record after a quiet spell: let a few
            # more arrive, so a flood is read in batches, not one wakeup
            # (and one write) per record; a millisecond is unnoticeable
            # on a terminal and far from filling the buffer
            if self._available() < COALESCE_BYTES:
                time.sleep(COALESCE_S)
        return self.consume()

    def _available(self) -> int:
        return _POS.unpack_from(self.prod, 0)[0] - _POS.unpack_from(self.cons, 0)[0]

    def consume(self) -> int:
        """Every record there now (or until the dispatcher's time budget
        ends, or a callback raises: then the rest stays queued, in order)."""
        d = self.d
        data = self.data
        mask = self.mask
        fast = self.fast
        runs = self.runs
        hdr = _HDR.unpack_from
        pos_unpack = _POS.unpack_from
        cons = pos_unpack(self.cons, 0)[0]
        total = 0
        while d.pending is None:
            prod = pos_unpack(self.prod, 0)[0]
            if cons >= prod:
                break
            out: List[str] = []
            n = nfast = 0
            stop = False
            while cons < prod and n < BATCH:
                off = cons & mask
                ln, kind = hdr(data, off)
                if ln & _BUSY:
                    stop = True          # being written: its turn comes next poll
                    break
                run = runs.get(kind)
                if run is not None and ln == run.ln:
                    k = min((prod - cons) // run.stride, BATCH - n)
                    if k > 1:
                        view = data[off:off + k * run.stride]
                        hk = list(run.hk.iter_unpack(view))
                        if hk.count(run.first) != k:
                            # the run ends at the first other record
                            k = next(i for i, x in enumerate(hk) if x != run.first)
                            view = data[off:off + k * run.stride]
                        if k > 1:
                            out.extend(run.render(list(run.st.iter_unpack(view))))
                            view.release()
                            n += k
                            nfast += k
                            cons += k * run.stride
                            continue
                        view.release()
                size = ln & _LEN
                nxt = cons + ((size + 8 + 7) & ~7)
                n += 1
                if not ln & _DISCARD:
                    r = fast.get(kind)
                    if r is not None:
                        out.append(r(data, off + 8))
                        nfast += 1
                    else:
                        # in-order output before a record with side effects
                        if out:
                            d.write("".join(out))
                            out = []
                        try:
                            d.handle_bytes(bytes(data[off + 8:off + 8 + size]))
                        except BaseException as e:
                            d.pending = e
                            cons = nxt
                            break
                cons = nxt
            if out:
                d.write("".join(out))
            d.records += nfast          # handle_bytes counts the others
            total += n
            _POS.pack_into(self.cons, 0, cons)
            if stop or (d.budget_end is not None and time.monotonic() > d.budget_end):
                break
        return total

    def close(self) -> None:
        try:
            self.ep.close()
            self.data.release()
            self.prod.close()
            self.cons.close()
        except Exception:
            pass


def open_reader(bpf, program, dispatcher) -> Optional[RingReader]:
    """A RingReader on the program's ring buffer, or None (no such map,
    or mmap refused): the caller keeps libbpf's callback path then."""
    try:
        table = bpf[program.ringbuf_name.encode()]
        fd = table.map_fd
        pages = int(getattr(program, "ringbuf_pages", 64))
        size = getattr(table, "max_entries", None)     # bytes, for a ring buffer
        if isinstance(size, int) and size >= mmap.PAGESIZE and size & (size - 1) == 0:
            pages = size // mmap.PAGESIZE               # what the kernel really made
        return RingReader(fd, pages, dispatcher)
    except Exception:
        return None
