"""Ring-buffer record decoding (pytap/runtime/ringbuf.py) against the
layout in pytap/codegen/program.py, with hand-packed bytes: no BPF needed."""
import struct

import pytest

from pytap.codegen.program import (KIND_ERROR, KIND_EXIT, KIND_TRIGGER, Program,
                                   RecordFormat)
from pytap.runtime.ringbuf import DecodeError, Decoder, Dispatcher, render_output


def _prog():
    return Program(c_source="", formats=[
        RecordFormat(id=16, kind="printf", fmt="%s is %d years, %x\n",
                     arg_types=["string", "long", "long"], string_size=16),
        RecordFormat(id=17, kind="println", arg_types=["long", "string"], string_size=8),
        RecordFormat(id=18, kind="printdln", fmt=", ", arg_types=["long", "long", "string"], string_size=8),
        RecordFormat(id=19, kind="print", arg_types=["long"]),
    ])


def _s(text, size):
    return text.encode().ljust(size, b"\0")


def test_printf_record():
    data = struct.pack("<II16sqq", 16, 1, _s("bob", 16), 42, 255)
    rec = Decoder(_prog()).decode(data)
    assert rec.kind == 16 and rec.cpu == 1
    assert rec.args == ["bob", 42, 255]
    assert render_output(rec) == "bob is 42 years, ff\n"


def test_negative_long_and_string_fill():
    data = struct.pack("<IIq8s", 17, 0, -5, b"abcdefg\0")
    rec = Decoder(_prog()).decode(data)
    assert render_output(rec) == "-5abcdefg\n"


def test_string_stops_at_nul_ignores_garbage():
    data = struct.pack("<IIq8s", 17, 0, 7, b"ab\0zzzzz")
    assert render_output(Decoder(_prog()).decode(data)) == "7ab\n"


def test_printd_and_print():
    d = Decoder(_prog())
    assert render_output(d.decode(struct.pack("<IIqq8s", 18, 0, 1, 2, _s("x", 8)))) == "1, 2, x\n"
    assert render_output(d.decode(struct.pack("<IIq", 19, 0, 12))) == "12"


def test_reserved_kinds():
    d = Decoder(_prog())
    assert d.decode(struct.pack("<II", KIND_EXIT, 0)).kind == KIND_EXIT
    err = d.decode(struct.pack("<IIq", KIND_ERROR, 1, 3))
    assert err.kind == KIND_ERROR and err.args == [3, ""]
    err = d.decode(struct.pack("<IIq16s", KIND_ERROR, 1, 0, _s("custom msg", 16)))
    assert err.args == [0, "custom msg"]
    trig = d.decode(struct.pack("<II9q16s", KIND_TRIGGER, 1, 2, 100, 101, 1, 0, 0, 0, 1, 123456,
                                _s("bash", 16)))
    assert trig.trigger == {"probe_index": 2, "pid": 100, "tid": 101, "ppid": 1, "uid": 0,
                            "gid": 0, "euid": 0, "cpu": 1, "ktime_ns": 123456,
                            "execname": "bash"}


def test_bad_records():
    d = Decoder(_prog())
    with pytest.raises(DecodeError):
        d.decode(b"\x01\x00")
    with pytest.raises(DecodeError):
        d.decode(struct.pack("<II", 99, 0))
    with pytest.raises(DecodeError):
        d.decode(struct.pack("<IIq", 16, 0, 1))   # truncated printf record


def test_dispatch_order_and_stashed_exceptions():
    out, events = [], []

    class Boom(Exception):
        pass

    def trig(i, ctx):
        events.append(("trigger", i, ctx["execname"]))
        raise Boom()

    disp = Dispatcher(_prog(), out.append, trig, lambda: events.append("exit"),
                      lambda i, m: events.append(("error", i)))
    disp.handle_bytes(struct.pack("<IIq", 19, 0, 1))
    disp.handle_bytes(struct.pack("<IIq", KIND_ERROR, 0, 0))
    disp.handle_bytes(struct.pack("<II", KIND_EXIT, 0))
    assert out == ["1"] and events == [("error", 0), "exit"]
    # an exception in a callback is stashed; the C callback returns -1 so
    # libbpf stops the batch after this record
    import ctypes
    raw = struct.pack("<II9q16s", KIND_TRIGGER, 0, 5, 1, 1, 1, 0, 0, 0, 0, 0, _s("sh", 16))
    buf = ctypes.create_string_buffer(raw, len(raw))
    assert disp.callback(None, ctypes.addressof(buf), len(raw)) == -1
    assert disp.callback(None, ctypes.addressof(buf), len(raw)) == -1   # held until checked
    with pytest.raises(Boom):
        disp.check()
    assert events[-1] == ("trigger", 5, "sh")


@pytest.mark.parametrize("fmt,types,args", [
    ("%d %s\n", ["long", "string"], [-5, "bash"]),
    ("a{b}c %x %X %u %%\n", ["long", "long", "long"], [-1, 255, -2]),
    ("%i|%s|%d", ["long", "string", "long"], [0, "", 9223372036854775807]),
    ("%5d|%-3s|%c", ["long", "string", "long"], [1, "x", 65]),       # falls back
    ("plain text\n", [], []),
])
def test_fast_renderer_matches_stap_sprintf(fmt, types, args):
    from pytap.runtime.format import stap_sprintf
    from pytap.runtime.ringbuf import Record, compile_renderer
    f = RecordFormat(id=20, kind="printf", fmt=fmt, arg_types=types)
    fast = compile_renderer(f)
    assert render_output(Record(20, 0, args, fmt=f, fast=fast)) == stap_sprintf(fmt, args)
    if "%5d" in fmt:
        assert fast is None


def test_callback_yields_when_budget_spent():
    import ctypes
    disp = Dispatcher(_prog(), lambda t: None, None, None, None)
    raw = struct.pack("<IIq", 19, 0, 1)
    buf = ctypes.create_string_buffer(raw, len(raw))
    assert disp.callback(None, ctypes.addressof(buf), len(raw)) == 0
    disp.budget_end = 0.0          # spent: libbpf must return after this record
    assert disp.callback(None, ctypes.addressof(buf), len(raw)) == -1
    assert disp.records == 2 and disp.pending is None


def test_trigger_record_with_captured_target_values():
    from pytap.codegen.program import CompiledProbe
    prog = Program(c_source="", probes=[CompiledProbe(4, None, "user", captures=[(11, "long", 8), (22, "string", 16)])])
    d = Decoder(prog)
    raw = struct.pack("<II9q16s", KIND_TRIGGER, 0, 4, 1, 1, 1, 0, 0, 0, 0, 0, b"sh") \
        + struct.pack("<q16s", -5, b"abc")
    rec = d.decode(raw)
    assert rec.trigger["probe_index"] == 4
    assert rec.trigger["target_values"] == {11: -5, 22: "abc"}
