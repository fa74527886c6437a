"""Codegen shapes for stap's element order (seq maps written on the insert
path only) and @variance (per-CPU Welford fields only when it is read)."""
from __future__ import annotations

import re

from pytap.codegen import generate
from pytap.codegen.layout import SEQ_COUNTER_MAP
from pytap.elaborate import elaborate_source
from pytap.options import Options


def gen(text):
    opts = Options()
    return generate(elaborate_source(text, options=opts), opts)


def handler(prog, fn):
    src = prog.c_source
    start = src.index(f"int {fn}(")
    return src[start:src.index("\n}\n", start)]


def test_hot_increment_has_one_lookup_and_numbers_only_inserts():
    p = gen('global c; probe kernel.trace("raw_syscalls:sys_enter") { c[execname()]++ }')
    lay = p.globals[0]
    assert lay.seq_map == "g_c_seq"
    assert f"BPF_ARRAY({SEQ_COUNTER_MAP}, u64, 1);" in p.c_source
    assert 'BPF_TABLE("lru_hash", struct g_c_key, u64, g_c_seq,' in p.c_source
    body = handler(p, p.probes[0].fn_name)
    # existing element: lookup + atomic add; the seq counter and the seq
    # map are touched only after a successful insert
    hot = body[:body.index("} else {")]
    assert hot.count("g_c.lookup(") == 1 and "g_c_seq" not in hot and SEQ_COUNTER_MAP not in hot
    ins = body[body.index("} else {"):]
    assert re.search(r"\.insert\([^;]*\);\s*if \(rc\w+ == 0\) \{\s*\{ u32 sz\w+ = 0; u64 \*sc\w+ = "
                     + SEQ_COUNTER_MAP, ins)


def test_no_seq_map_when_only_user_space_inserts():
    p = gen("global a; probe begin { a[1] = 2; foreach (k in a) println(k) }")
    assert p.globals[0].seq_map == "" and SEQ_COUNTER_MAP not in p.c_source


def test_welford_fields_only_with_variance():
    p = gen("global s, t; probe timer.ms(1) { s <<< 1; t <<< 2 } "
            "probe end { println(@variance(s, 3), @avg(t)) }")
    s, t = p.globals
    assert (s.welford, s.stat_shift, t.welford) == (True, 3, False)
    assert "struct g_s_stat { s64 count; s64 sum; s64 min; s64 max; s64 sumsq; " \
           "s64 avg_s; s64 m2; s64 variance_s; };" in p.c_source
    assert "avg_s" not in p.c_source.split("struct g_t_stat")[1].split("};")[0]
    body = handler(p, p.probes[0].fn_name)
    assert "(s64)(s32)(vs - sp->avg_s)" in body and "<< 3)" in body
