"""How script globals live in BPF maps (GlobalLayout + their C declarations).

  scalar long/string   1-entry array            value s64 / struct pytap_str
  array                hash (lru_hash with %)   key struct g_<name>_key
                                                 (k0.. : s64 or char[N])
  stats (scalar)       1-entry per-CPU array    struct g_<name>_stat
  stats array          per-CPU hash (lru)       struct g_<name>_stat

A string KEY field is only as wide as the largest string that can reach it
(execname() -> 16 bytes), so hashing a key stays cheap.  Aggregate values
are {count, sum, min, max, sumsq} plus log[128] or linear[B] buckets, only
when the script asks for that histogram (runtime/stats.py bucket rules).
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .. import ast
from .cutil import c_ident, round8, unescape
from .program import GlobalLayout, HistSpec

LOG_BUCKETS = 128
# one u64 counter shared by every array's seq map (element insertion order);
# user space (runtime/bpfstore.py) takes its numbers from it too
SEQ_COUNTER_MAP = "pytap_seq_ctr"


def _native_size(decl) -> Optional[int]:
    """`/* size: N */` in a native function body: its string result fits N bytes."""
    import re
    if isinstance(getattr(decl, "body", None), ast.EmbeddedCode):
        m = re.search(r"/\*\s*size:\s*(\d+)\s*\*/", decl.body.code)
        if m:
            return int(m.group(1))
    return None


# Locals the elaborator introduced for hoisted "stable" calls
# (`__stable_..._value = execname()`), by id(VarDecl) -> the FunctionCall.
STABLE_STRING_CALLS: Dict[int, "ast.FunctionCall"] = {}


def stable_string_call(stmt):
    """The (local, call) of a hoisted stable string call statement, else None."""
    if isinstance(stmt, ast.ExprStatement):
        a = stmt.value
        if isinstance(a, ast.Assignment) and a.op == "=" and isinstance(a.left, ast.Symbol) \
                and a.left.name.startswith("__stable_") and isinstance(a.right, ast.FunctionCall) \
                and not a.right.args and (a.right.type or a.left.type) == "string" \
                and a.left.referent is not None:
            return a.left.referent, a.right
    return None


def string_size(e, msl: int) -> int:
    """Upper bound of the bytes (NUL included) a string expression yields."""
    if isinstance(e, ast.Symbol) and e.referent is not None and id(e.referent) in STABLE_STRING_CALLS:
        e = STABLE_STRING_CALLS[id(e.referent)]
    if isinstance(e, ast.String):
        return min(len(unescape(e.value).encode("latin-1", "replace")) + 1, msl)
    if isinstance(e, ast.FunctionCall) and e.referents:
        n = _native_size(e.referents[0])
        if n:
            return min(n, msl)
    if isinstance(e, ast.Ternary):
        return max(string_size(e.truevalue, msl), string_size(e.falsevalue, msl))
    return msl


def _int_param(p) -> int:
    if isinstance(p, ast.Number):
        return int(p.value)
    if isinstance(p, ast.Unary) and p.op == "-" and isinstance(p.operand, ast.Number):
        return -int(p.operand.value)
    return int(p)


class _IndexScan(ast.Visitor):
    """Collect, per global, every index expression and histogram use."""

    def __init__(self):
        self.indexes: Dict[int, List[List]] = {}
        self.hists: Dict[int, List[ast.HistOp]] = {}
        # id(VarDecl) -> bit shift of the first @variance(x[, N]) on it
        self.variances: Dict[int, int] = {}

    def visit_ExprStatement(self, n):
        sc = stable_string_call(n)
        if sc is not None:
            STABLE_STRING_CALLS[id(sc[0])] = sc[1]
        self.generic_visit(n)

    def visit_ArrayIndex(self, n):
        base = n.base
        if isinstance(base, ast.Symbol) and base.referent is not None:
            self.indexes.setdefault(id(base.referent), []).append(n.indexes)
        self.generic_visit(n)

    def visit_HistOp(self, n):
        s = n.stat
        if isinstance(s, ast.ArrayIndex):
            s = s.base
        if isinstance(s, ast.Symbol) and s.referent is not None:
            self.hists.setdefault(id(s.referent), []).append(n)
        self.generic_visit(n)

    def visit_StatOp(self, n):
        s = n.stat
        if isinstance(s, ast.ArrayIndex):
            s = s.base
        if n.op == "variance" and isinstance(s, ast.Symbol) and s.referent is not None:
            self.variances.setdefault(id(s.referent), _int_param(n.params[0]) if n.params else 0)
        self.generic_visit(n)

    def visit_PrintFormat(self, n):
        if n.hist is not None:
            self.visit(n.hist)
        self.generic_visit(n)

    def visit_ForeachLoop(self, n):
        # foreach keys of a histogram/array base are reads; nothing to size
        self.generic_visit(n)


def scan_session(session) -> _IndexScan:
    sc = _IndexScan()
    for p in session.probes:
        sc.visit(p.body)
        if p.condition is not None:
            sc.visit(p.condition)
    for f in session.functions:
        if isinstance(f.body, ast.Block):
            sc.visit(f.body)
    return sc


def build_layouts(session, msl: int, maxentries: int):
    """-> (list[GlobalLayout], {id(VarDecl): GlobalLayout}, zero_size)"""
    sc = scan_session(session)
    layouts: List[GlobalLayout] = []
    by_decl = {}
    zero_size = 0
    for g in session.globals:
        vtype = g.type or "long"
        arity = g.arity if g.arity and g.arity > 0 else 0
        mname = "g_" + c_ident(g.name)
        if vtype == "stats":
            kind = "stats_array" if arity else "stats"
        else:
            kind = "array" if arity else "scalar"
        key_types = [t or "long" for t in (g.index_types or [])][:arity]
        while len(key_types) < arity:
            key_types.append("long")
        ksize = 0
        for idxs in sc.indexes.get(id(g), []):
            for i, e in enumerate(idxs):
                if e is not None and i < arity and key_types[i] == "string":
                    ksize = max(ksize, string_size(e, msl))
        if ksize == 0:
            ksize = msl
        ksize = round8(ksize)
        hist = None
        hops = sc.hists.get(id(g), [])
        lin = [h for h in hops if h.kind == "linear" and len(h.params) >= 3]
        also_log = False
        if lin:
            st, sp, iv = lin[0].params[:3]
            hist = HistSpec("linear", st, sp, iv)
            also_log = any(h.kind != "linear" for h in hops)
        elif hops:
            hist = HistSpec("log")
        lay = GlobalLayout(name=g.name, map_name=mname, kind=kind, value_type=vtype,
                           key_types=key_types, key_string_size=ksize, value_string_size=msl,
                           maxsize=g.maxsize or 0, wrap=bool(g.wrap), percpu=(vtype == "stats"),
                           hist=hist, also_log=also_log, decl=g)
        if vtype == "stats" and id(g) in sc.variances:
            lay.welford = True
            lay.stat_shift = sc.variances[id(g)]
        lay.c_decl = _c_decl(lay, maxentries)
        if vtype == "stats":
            zero_size = max(zero_size, stat_struct_size(lay))
        layouts.append(lay)
        by_decl[id(g)] = lay
    return layouts, by_decl, zero_size


def linear_buckets(h: HistSpec) -> int:
    return (h.stop - h.start) // h.interval + 3 if h.interval else 3


def linear_pow2(h: HistSpec) -> int:
    n = linear_buckets(h)
    return 1 << (n - 1).bit_length()


def stat_struct_size(lay: GlobalLayout) -> int:
    n = 5 * 8
    if lay.welford:
        n += 3 * 8
    if lay.hist is not None:
        n += 8 * (LOG_BUCKETS if lay.hist.kind == "log" else linear_pow2(lay.hist))
        if lay.hist.kind != "log" and lay.also_log:
            n += 8 * LOG_BUCKETS
    return n


def seq_map_decls(layouts, maxentries: int) -> None:
    """Append the seq map of every array a BPF handler inserts into (known
    only after lowering) to its c_decl, the shared counter before the first."""
    first = True
    for lay in layouts:
        if not lay.seq_map:
            continue
        extra = []
        if first:
            extra.append(f"BPF_ARRAY({SEQ_COUNTER_MAP}, u64, 1);")
            first = False
        size = lay.maxsize or maxentries
        extra.append(f'BPF_TABLE("lru_hash", struct {key_struct_name(lay)}, u64, {lay.seq_map}, {size});')
        lay.c_decl += "\n" + "\n".join(extra)


def key_struct_name(lay: GlobalLayout) -> str:
    return f"{lay.map_name}_key"


def value_c_type(lay: GlobalLayout) -> str:
    if lay.value_type == "stats":
        return f"struct {lay.map_name}_stat"
    if lay.value_type == "string":
        return "struct pytap_str"
    return "s64"


def _c_decl(lay: GlobalLayout, maxentries: int) -> str:
    out = []
    vt = value_c_type(lay)
    if lay.value_type == "stats":
        fields = ["s64 count;", "s64 sum;", "s64 min;", "s64 max;", "s64 sumsq;"]
        if lay.welford:
            fields += ["s64 avg_s;", "s64 m2;", "s64 variance_s;"]
        if lay.hist is not None and (lay.hist.kind == "log" or lay.also_log):
            fields.append(f"s64 log[{LOG_BUCKETS}];")
        if lay.hist is not None and lay.hist.kind == "log":
            pass
        elif lay.hist is not None:
            fields.append(f"s64 linear[{linear_buckets(lay.hist)}];")
            pad = linear_pow2(lay.hist) - linear_buckets(lay.hist)
            if pad:
                fields.append(f"s64 linear_pad[{pad}];")
        out.append(f"{vt} {{ " + " ".join(fields) + " };")
    size = lay.maxsize or maxentries
    if lay.kind in ("scalar", "stats"):
        macro = "BPF_PERCPU_ARRAY" if lay.percpu else "BPF_ARRAY"
        out.append(f"{macro}({lay.map_name}, {vt}, 1);")
        return "\n".join(out)
    fields = []
    for i, t in enumerate(lay.key_types):
        fields.append(f"s64 k{i};" if t == "long" else f"char k{i}[{lay.key_string_size}];")
    kn = key_struct_name(lay)
    out.append(f"struct {kn} {{ " + " ".join(fields) + " };")
    if lay.percpu:
        table = "lru_percpu_hash" if lay.wrap else "percpu_hash"
    else:
        table = "lru_hash" if lay.wrap else "hash"
    out.append(f'BPF_TABLE("{table}", struct {kn}, {vt}, {lay.map_name}, {size});')
    return "\n".join(out)
