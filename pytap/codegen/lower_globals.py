"""Lowering of global arrays, assignments, increments and aggregates (a Lowerer mixin).

Map keys are built in a struct on the stack (or in frame slots when big);
`c[k]++` is one lookup plus an atomic add, an insert on a miss."""
from __future__ import annotations

import re

from .. import ast
from ..diagnostics import StapError
from .cutil import c_long, c_string, printf_escape, round8, unescape
from .layout import (LOG_BUCKETS, SEQ_COUNTER_MAP, STABLE_STRING_CALLS, key_struct_name, linear_buckets, linear_pow2,
                     string_size, value_c_type)
from .lower_common import Unsupported, _tok, is_native, native_code, native_kind


class GlobalsMixin:
    # --- arrays
    def key(self, lay, indexes) -> str:
        """Emit `{ struct K k; ...fill...` (block left OPEN) and return k."""
        if len(indexes) != len(lay.key_types):
            raise Unsupported("index count", None)
        vals = []
        for i, (e, t) in enumerate(zip(indexes, lay.key_types)):
            if t == "long":
                vals.append(self.expr(e))
            else:
                vals.append(e)
        k = f"k{self.nlabels + 1}"
        self.nlabels += 1
        kt = f"struct {key_struct_name(lay)}"
        ksize = sum(8 if t == "long" else lay.key_string_size for t in lay.key_types)
        self.emit("{")
        if ksize <= 128:
            self.emit(f"{kt} {k}_s;")
            self.emit(f"{kt} *{k} = &{k}_s;")
        else:
            # big keys live in frame slots: the BPF stack has only 512 bytes
            first = self.slot()
            for _ in range(1, -(-ksize // self.gen.msl)):
                self.slot()
            self.emit(f"{kt} *{k} = ({kt} *){first};")
        self.emit(f"__builtin_memset({k}, 0, sizeof(*{k}));")
        for i, (v, t) in enumerate(zip(vals, lay.key_types)):
            if t == "long":
                self.emit(f"{k}->k{i} = {v};")
            else:
                self.str_into(v, f"{k}->k{i}", str(lay.key_string_size))
        return k

    def note_insert(self, lay, k):
        """After a BPF insert of key *k: give it the next insertion sequence
        number (shared counter, atomic) in the array's parallel seq map, so
        user space can list elements in stap's insertion order.  Only the
        insert path pays for it, never an update of an existing element."""
        lay.seq_map = f"{lay.map_name}_seq"
        self.emit(f"{{ u32 sz{k} = 0; u64 *sc{k} = {SEQ_COUNTER_MAP}.lookup(&sz{k}); if (sc{k}) {{")
        self.emit(f"\tu64 sn{k} = __sync_fetch_and_add(sc{k}, 1) + 1; {lay.seq_map}.update(&(*{k}), &sn{k}); }} }}")

    def insert_new(self, lay, k, call, node):
        """Emit the insert of a new element (`call` returns the map helper's
        rc): number it for the element order on success, raise stap's
        overflow error when the map is full (-E2BIG)."""
        self.emit(f"int rc{k} = {call};")
        self.emit(f"if (rc{k} == 0) {{")
        self.note_insert(lay, k)
        self.emit(f"}} else if (rc{k} == -7) {{")
        self.ind += 1
        self.overflow(lay, node)
        self.ind -= 1
        self.emit("}")

    def overflow(self, lay, node):
        msg = (f"Array overflow, check size limit ({lay.maxsize})" if lay.maxsize
               else "Array overflow, check MAXMAPENTRIES")
        self.raise_error(msg, node, _tok(node, f"identifier '{lay.name}'"))

    def e_ArrayIndex(self, e):
        if not isinstance(e.base, ast.Symbol):
            raise Unsupported("histogram bucket", e)
        kind = self.var_of(e.base)
        if kind[0] != "global":
            raise Unsupported("local array", e)
        lay = kind[1]
        if lay.value_type == "stats":
            raise Unsupported("reading an aggregate", e)
        if lay.value_type == "string":
            s = self.slot()
            k = self.key(lay, e.indexes)
            self.emit(f"struct pytap_str *p{k} = {lay.map_name}.lookup(&(*{k}));")
            self.emit(f"{s}[0] = 0; if (p{k}) pytap_strcpy({s}, PYTAP_MSL, p{k}->s);")
            self.emit("}")
            return s
        t = self.tmp()
        k = self.key(lay, e.indexes)
        self.emit(f"s64 *p{k} = {lay.map_name}.lookup(&(*{k}));")
        self.emit(f"{t} = p{k} ? *p{k} : 0;")
        self.emit("}")
        return t

    def e_ArrayIn(self, e):
        op = e.operand
        if not isinstance(op.base, ast.Symbol):
            raise Unsupported("in", e)
        kind = self.var_of(op.base)
        if kind[0] != "global" or any(i is None for i in op.indexes):
            raise Unsupported("in", e)
        lay = kind[1]
        t = self.tmp()
        k = self.key(lay, op.indexes)
        self.emit(f"{t} = {lay.map_name}.lookup(&(*{k})) != 0;")
        self.emit("}")
        return t

    # --- assignment and increments
    def e_Assignment(self, e, want=True):
        self.mark(e)
        op = e.op
        lhs = e.left
        if op == "<<<":
            return self.stat_add(e)
        if isinstance(lhs, ast.Symbol):
            kind = self.var_of(lhs)
            if kind[0] == "local":
                return self.assign_local(e, kind[1], kind[2])
            return self.assign_global(e, kind[1], None, want)
        if isinstance(lhs, ast.ArrayIndex) and isinstance(lhs.base, ast.Symbol):
            kind = self.var_of(lhs.base)
            if kind[0] != "global":
                raise Unsupported("local array", e)
            return self.assign_global(e, kind[1], lhs.indexes, want)
        if isinstance(lhs, ast.TargetSymbol):
            raise StapError("writing target variables is not supported by the BPF runtime",
                            lhs.loc, _tok(lhs, f"identifier '{lhs.name}'"))
        raise Unsupported("assignment target", e)

    def combine(self, op: str, cur: str, val: str, node) -> str:
        """cur OP= val for longs (OP without '=')."""
        b = ast.Binary(op, ast.Symbol("_"), ast.Symbol("_"), loc=node.loc, tok_desc=node.tok_desc)
        # reuse e_Binary's checks with already-evaluated operands
        t = self.tmp()
        if op in ("/", "%"):
            self.emit(f"if ({val} == 0) {{")
            self.ind += 1
            self.raise_error("division by 0", b, _tok(node, f"operator '{op}='"))
            self.ind -= 1
            self.emit("}")
            self.emit(f"{t} = {'pytap_sdiv' if op == '/' else 'pytap_smod'}({cur}, {val});")
        elif op in ("+", "-", "*"):
            self.emit(f"{t} = (s64)((u64){cur} {op} (u64){val});")
        elif op == "<<":
            self.emit(f"{t} = (s64)((u64){cur} << ({val} & 63));")
        elif op == ">>":
            self.emit(f"{t} = {cur} >> ({val} & 63);")
        elif op == ">>>":
            self.emit(f"{t} = (s64)((u64){cur} >> ({val} & 63));")
        elif op in ("&", "|", "^"):
            self.emit(f"{t} = {cur} {op} {val};")
        else:
            raise Unsupported(f"operator {op}=", node)
        return t

    def assign_local(self, e, vtype, cname):
        op = e.op
        if vtype == "string":
            if op == "=":
                self.str_into(e.right, cname, "PYTAP_MSL")
            elif op == ".=":
                r = self.expr(e.right)
                s = self.slot()
                self.emit(f"pytap_strcat({s}, {cname}, {r});")
                self.emit(f"pytap_strcpy({cname}, PYTAP_MSL, {s});")
            else:
                raise Unsupported(f"string {op}", e)
            return cname
        v = self.expr(e.right)
        if op == "=":
            self.emit(f"{cname} = {v};")
        else:
            r = self.combine(op[:-1], cname, v, e)
            self.emit(f"{cname} = {r};")
        return cname

    def assign_global(self, e, lay, indexes, want):
        op = e.op
        if lay.value_type == "stats":
            raise Unsupported("assignment to an aggregate", e)
        if lay.value_type == "string":
            if indexes is None:
                if op == "=":
                    val = None if isinstance(e.right, ast.String) else self.expr(e.right)
                else:
                    r = self.expr(e.right)
                    cur = self.e_Symbol(e.left)
                    val = self.slot()
                    self.emit(f"pytap_strcat({val}, {cur}, {r});")
                p = self.scalar_ptr(lay)
                self.emit(f"if ({p}) {{")
                if val is None:
                    self.emit(f"\tPYTAP_LIT({p}->s, {c_string(self.lit_text(e.right))});")
                else:
                    self.emit(f"\tpytap_strcpy({p}->s, PYTAP_MSL, {val});")
                self.emit("}")
                if want:
                    s = self.slot()
                    self.emit(f"{s}[0] = 0; if ({p}) pytap_strcpy({s}, PYTAP_MSL, {p}->s);")
                    return s
                return "0"
            if op == "=":
                val = self.expr(e.right)
            elif op == ".=":
                r = self.expr(e.right)
                cur = self.e_ArrayIndex(e.left)
                val = self.slot()
                self.emit(f"pytap_strcat({val}, {cur}, {r});")
            else:
                raise Unsupported(f"string {op}", e)
            k = self.key(lay, indexes)
            # an existing element is written in place; only a new one is
            # inserted (and numbered for the element order)
            self.emit(f"struct pytap_str *ps{k} = {lay.map_name}.lookup(&(*{k}));")
            self.emit(f"if (ps{k}) {{ pytap_strcpy(ps{k}->s, PYTAP_MSL, {val}); }} else {{")
            self.ind += 1
            self.insert_new(lay, k, f"{lay.map_name}.update(&(*{k}), (struct pytap_str *){val})",
                            e.left.base if isinstance(e.left, ast.ArrayIndex) else e.left)
            self.ind -= 1
            self.emit("}")
            self.emit("}")
            return val
        # long values
        v = self.expr(e.right)
        if indexes is None:
            p = self.scalar_ptr(lay)
            t = self.tmp()
            if op == "=":
                self.emit(f"if ({p}) *{p} = {v};")
                self.emit(f"{t} = {v};")
            elif op in ("+=", "-=") and not want:
                sign = "" if op == "+=" else "-"
                self.emit(f"if ({p}) __sync_fetch_and_add({p}, {sign}{v});")
            else:
                cur = self.tmp()
                self.emit(f"{cur} = {p} ? *{p} : 0;")
                r = self.combine(op[:-1], cur, v, e)
                self.emit(f"if ({p}) *{p} = {r};")
                self.emit(f"{t} = {r};")
            return t
        return self.update_array(e, lay, indexes, op, v, want, e.left.base)

    def update_array(self, node, lay, indexes, op, v, want, base_node, post=False):
        """a[k] OP= v for long arrays; returns the new (or old, post) value."""
        t = self.tmp()
        k = self.key(lay, indexes)
        m = lay.map_name
        if op == "=":
            self.emit(f"s64 v{k} = {v};")
            self.emit(f"s64 *p{k} = {m}.lookup(&(*{k}));")
            self.emit(f"if (p{k}) {{ *p{k} = v{k}; }} else {{")
            self.ind += 1
            self.insert_new(lay, k, f"{m}.update(&(*{k}), &v{k})", base_node)
            self.ind -= 1
            self.emit("}")
            self.emit(f"{t} = v{k};")
            self.emit("}")
            return t
        self.emit(f"s64 *p{k} = {m}.lookup(&(*{k}));")
        if op in ("+=", "-=") and not want:
            sign = "" if op == "+=" else "-"
            # the hot path of `c[k]++`: one lookup and an atomic add
            self.emit(f"if (p{k}) {{")
            self.emit(f"\t__sync_fetch_and_add(p{k}, {sign}{v});")
            self.emit("} else {")
            self.ind += 1
            self.emit(f"s64 v{k} = {sign}{v};")
            self.emit(f"int rc{k} = {m}.insert(&(*{k}), &v{k});")
            self.emit(f"if (rc{k} == 0) {{")
            self.note_insert(lay, k)
            self.emit("}")
            self.emit(f"else if (rc{k} == -17) {{ p{k} = {m}.lookup(&(*{k})); if (p{k}) __sync_fetch_and_add(p{k}, {sign}{v}); }}")
            self.emit(f"else if (rc{k} == -7) {{")
            self.ind += 1
            self.overflow(lay, base_node)
            self.ind -= 1
            self.emit("}")
            self.ind -= 1
            self.emit("}")
            self.emit("}")
            return "0"
        cur = self.tmp()
        self.emit(f"{cur} = p{k} ? *p{k} : 0;")
        r = self.combine(op[:-1], cur, v, node)
        self.emit(f"if (p{k}) {{ *p{k} = {r}; }} else {{")
        self.ind += 1
        self.emit(f"s64 v{k} = {r};")
        self.insert_new(lay, k, f"{m}.update(&(*{k}), &v{k})", base_node)
        self.ind -= 1
        self.emit("}")
        self.emit(f"{t} = {cur if post else r};")
        self.emit("}")
        return t

    def _crement(self, e, want, post):
        delta = "+=" if e.op == "++" else "-="
        target = e.operand
        if isinstance(target, ast.TargetSymbol):
            raise StapError("writing target variables is not supported by the BPF runtime",
                            target.loc, _tok(target, f"identifier '{target.name}'"))
        one = "1LL"
        if isinstance(target, ast.Symbol):
            kind = self.var_of(target)
            if kind[0] == "local":
                if kind[1] != "long":
                    raise Unsupported("string increment", e)
                c = kind[2]
                if post and want:
                    t = self.tmp()
                    self.emit(f"{t} = {c};")
                    self.emit(f"{c} {delta[0]}= 1;")
                    return t
                self.emit(f"{c} {delta[0]}= 1;")
                return c
            lay = kind[1]
            if lay.kind != "scalar" or lay.value_type != "long":
                raise Unsupported("increment", e)
            p = self.scalar_ptr(lay)
            if not want:
                self.emit(f"if ({p}) __sync_fetch_and_add({p}, {'1' if e.op == '++' else '-1'});")
                return "0"
            old, new = self.tmp(), self.tmp()
            self.emit(f"{old} = {p} ? *{p} : 0;")
            self.emit(f"{new} = {old} {delta[0]} 1;")
            self.emit(f"if ({p}) *{p} = {new};")
            return old if post else new
        if isinstance(target, ast.ArrayIndex) and isinstance(target.base, ast.Symbol):
            kind = self.var_of(target.base)
            if kind[0] != "global" or kind[1].value_type != "long":
                raise Unsupported("increment", e)
            return self.update_array(e, kind[1], target.indexes, delta, one, want, target.base, post=post)
        raise Unsupported("increment target", e)

    def e_PreCrement(self, e, want=True):
        return self._crement(e, want, post=False)

    def e_PostCrement(self, e, want=True):
        return self._crement(e, want, post=True)

    # --- aggregates
    def stat_add(self, e):
        lhs = e.left
        if isinstance(lhs, ast.Symbol):
            kind = self.var_of(lhs)
            base, indexes = lhs, None
        elif isinstance(lhs, ast.ArrayIndex) and isinstance(lhs.base, ast.Symbol):
            kind = self.var_of(lhs.base)
            base, indexes = lhs.base, lhs.indexes
        else:
            raise Unsupported("<<< target", e)
        if kind[0] != "global":
            raise Unsupported("local aggregate", e)
        lay = kind[1]
        v = self.expr(e.right)
        st = f"struct {lay.map_name}_stat"
        if indexes is None:
            self.emit("{")
            self.emit(f"{st} *sp = {lay.map_name}.lookup(&pytap_z);")
        else:
            k = self.key(lay, indexes)
            self.emit(f"{st} *sp = {lay.map_name}.lookup(&(*{k}));")
            self.emit("if (!sp) {")
            self.ind += 1
            self.emit("struct pytap_zero_t *zp = pytap_zero.lookup(&pytap_z);")
            self.emit(f"if (zp) {{ int rc = {lay.map_name}.insert(&(*{k}), ({st} *)zp); if (rc == 0) {{")
            self.note_insert(lay, k)
            self.emit("} else if (rc == -7) {")
            self.ind += 1
            self.overflow(lay, base)
            self.ind -= 1
            self.emit("} }")
            self.emit(f"sp = {lay.map_name}.lookup(&(*{k}));")
            self.ind -= 1
            self.emit("}")
        self.emit("if (sp) {")
        self.ind += 1
        self.emit(f"s64 sv = {v};")
        self.emit("if (sp->count == 0 || sv < sp->min) sp->min = sv;")
        self.emit("if (sp->count == 0 || sv > sp->max) sp->max = sv;")
        if lay.welford:
            # stap's per-CPU Welford step (runtime/stats.py Stat._welford),
            # before count moves: its delta is a 32-bit int
            self.emit(f"s64 vs = (s64)((u64)sv << {lay.stat_shift & 63});")
            self.emit("if (sp->count == 0) { sp->avg_s = vs; sp->m2 = 0; } else {")
            self.emit("  s64 wn = sp->count + 1; s64 wd = (s64)(s32)(vs - sp->avg_s);")
            self.emit("  sp->avg_s += pytap_sdiv(wd, wn);")
            self.emit("  sp->m2 += (s64)((u64)wd * (u64)(vs - sp->avg_s));")
            self.emit("  sp->variance_s = pytap_sdiv(sp->m2, wn - 1); }")
        self.emit("sp->count += 1; sp->sum += sv; sp->sumsq += sv * sv;")
        if lay.hist is not None and (lay.hist.kind == "log" or lay.also_log):
            self.emit(f"sp->log[pytap_bucket_index(pytap_log_bucket(sv), {LOG_BUCKETS - 1})] += 1;")
        if lay.hist is not None and lay.hist.kind == "linear":
            n = linear_buckets(lay.hist)
            self.emit(f"u32 b = pytap_linear_bucket(sv, {c_long(lay.hist.start)}, {c_long(lay.hist.interval)}, {n});")
            # the struct pads linear[] to a power of two so the mask bounds it
            self.emit(f"sp->linear[pytap_bucket_index(b, {linear_pow2(lay.hist) - 1})] += 1;")
        self.ind -= 1
        self.emit("}")
        self.emit("}")
        return v
