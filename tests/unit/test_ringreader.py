"""The batch ring-buffer reader (pytap/runtime/ringreader.py) over a
hand-built buffer in the kernel's layout (length word with BUSY/DISCARD
bits, page offset, record rounded to 8 bytes): no BPF needed.  Its output
must be exactly what the per-record Dispatcher path prints."""
import struct

from pytap.codegen.program import KIND_EXIT, Program, RecordFormat
from pytap.runtime.ringbuf import Dispatcher
from pytap.runtime.ringreader import _BUSY, _DISCARD, RingReader


def _prog():
    return Program(c_source="", formats=[
        RecordFormat(id=16, kind="printf", fmt="%s is %d, %x %% %u\n",
                     arg_types=["string", "long", "long", "long"], string_size=16),
        RecordFormat(id=17, kind="printf", fmt="n=%d\n", arg_types=["long"]),
        RecordFormat(id=18, kind="println", arg_types=["long", "string"], string_size=8),
        RecordFormat(id=19, kind="printf", fmt="%5d|\n", arg_types=["long"]),
    ])


def _rec(payload, flags=0):
    size = len(payload)
    data = struct.pack("<II", size | flags, 0) + payload
    return data + b"\0" * (-len(data) % 8)


def _r16(name, a, b, c):
    return _rec(struct.pack("<II16sqqq", 16, 0, name.encode().ljust(16, b"\0"), a, b, c))


def _r17(n, flags=0):
    return _rec(struct.pack("<IIq", 17, 1, n), flags)


class _Reader(RingReader):
    """RingReader over a bytearray instead of the mmap'ed map."""

    def __init__(self, buf, dispatcher, prod=None):
        self.size = 1 << 20
        self.mask = self.size - 1
        self.d = dispatcher
        self.data = memoryview(buf)
        self.cons = bytearray(8)
        self.prod = bytearray(struct.pack("<Q", len(buf) if prod is None else prod))
        self.fast, self.runs = {}, {}
        RingReader._build_renderers(self)


def _read(buf, prod=None):
    out, events = [], []
    d = Dispatcher(_prog(), out.append, lambda i, c: events.append(("trigger", i)),
                   lambda: events.append("exit"), lambda i, m: events.append(("error", i)))
    r = _Reader(bytearray(buf), d, prod)
    n = r.consume()
    return "".join(out), events, n, struct.unpack("<Q", r.cons)[0]


def test_runs_and_single_records_render_like_the_dispatcher():
    buf = _r16("bob", 42, 255, -1) + b"".join(_r17(i) for i in range(5)) \
        + _rec(struct.pack("<IIq8s", 18, 0, -5, b"abcdefg\0")) + _r16("al", -3, 16, 7)
    text, events, n, cons = _read(buf)
    assert text == ("bob is 42, ff % 18446744073709551615\n"
                    + "".join(f"n={i}\n" for i in range(5))
                    + "-5abcdefg\nal is -3, 10 % 7\n")
    assert n == 8 and cons == len(buf) and events == []


def test_formats_without_fast_path_and_reserved_kinds_keep_order():
    buf = _r17(1) + _rec(struct.pack("<IIq", 19, 0, 42)) + _r17(2) \
        + _rec(struct.pack("<II", KIND_EXIT, 0)) + _r17(3)
    text, events, n, _ = _read(buf)
    assert text == "n=1\n   42|\nn=2\nn=3\n"
    assert events == ["exit"] and n == 5


def test_discarded_records_are_skipped_and_busy_ones_wait():
    buf = _r17(1) + _r17(2, _DISCARD) + _r17(3) + _r17(4, _BUSY) + _r17(5)
    text, _, _, cons = _read(buf)
    assert text == "n=1\nn=3\n"
    assert cons == 3 * 24          # the busy record is read at the next poll


def test_stops_at_the_producer_position():
    buf = b"".join(_r17(i) for i in range(10))
    text, _, n, cons = _read(buf, prod=4 * 24)
    assert text == "n=0\nn=1\nn=2\nn=3\n" and n == 4 and cons == 96
