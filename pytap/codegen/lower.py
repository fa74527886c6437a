"""Lowering of probe handlers and script functions to BPF C.

Value conventions while lowering (see templates/prelude.c.j2):
  long   -> a side-effect-free C expression of type s64 (constant, variable
            or temporary); statements needed to compute it are emitted first,
            in stap's left-to-right order.
  string -> a `char *` to a NUL-terminated buffer of at least PYTAP_MSL
            bytes: a slot of the per-CPU frame (F->s[..]) or a string value
            inside a map.  Never the stack (512 bytes is too small).
Errors: `E->err = <site>; goto <target>` where target is the innermost
catch label, the handler's pytap_fail, or (in a function) a return of
PYTAP_RC_ERR that the caller propagates.

Anything BPF cannot do well raises `Unsupported`; the generator then runs
that probe in the user-space interpreter instead.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from .. import ast
from ..diagnostics import StapError
from .cutil import c_ident, c_long, c_string, printf_escape, round8, unescape
from .layout import STABLE_STRING_CALLS, stable_string_call
from .layout import LOG_BUCKETS, key_struct_name, linear_buckets, linear_pow2, string_size, value_c_type
from .program import RecordFormat


class Unsupported(Exception):
    """This construct needs the user-space interpreter."""

    def __init__(self, reason: str, node=None):
        super().__init__(reason)
        self.reason = reason
        self.node = node


def is_native(decl) -> bool:
    return isinstance(decl.body, ast.EmbeddedCode)


def native_code(decl) -> str:
    code = decl.body.code
    code = code.strip()
    if code.startswith("%{"):
        code = code[2:]
    if code.endswith("%}"):
        code = code[:-2]
    return code


def native_kind(decl) -> str:
    """"bpf", "intrinsic" or "user" for a function with an embedded body."""
    code = decl.body.code
    if "/* intrinsic */" in code:
        return "intrinsic"
    if "/* bpf */" in code:
        return "bpf"
    return "user"


def _tok(node, default: str) -> str:
    return getattr(node, "tok_desc", "") or default


def first_token(node):
    """The node of a statement's first token (stap names a statement by it:
    `x++` -> identifier 'x'); our parser marks the operator."""
    if isinstance(node, ast.ExprStatement):
        node = node.value
    while True:
        if isinstance(node, ast.PostCrement):
            node = node.operand
        elif isinstance(node, (ast.Binary, ast.Comparison, ast.Assignment, ast.Concat,
                               ast.LogicalOr, ast.LogicalAnd, ast.RegexMatch)):
            node = node.left
        elif isinstance(node, ast.Ternary):
            node = node.cond
        elif isinstance(node, ast.ArrayIndex):
            node = node.base
        else:
            return node


def _last_statement(s):
    while isinstance(s, ast.Block) and s.statements:
        s = s.statements[-1]
    return s


def _count_statements(s) -> int:
    if s is None:
        return 0
    if isinstance(s, ast.Block):
        return max(1, sum(_count_statements(x) for x in s.statements))
    return 1


class Lowerer:
    """Lowers one probe handler body or one script function body."""

    def __init__(self, gen, probe=None, func=None):
        self.gen = gen
        self.probe = probe
        self.func = func
        self.lines: List[str] = []
        self.ind = 1
        self.decls: List[str] = []
        self.ntmp = 0
        self.nslots = 0
        self.nlabels = 0
        self.uses_frame = False
        self.calls = set()           # names of C functions called
        self.vars: Dict[int, tuple] = {}
        self.loops: List[tuple] = []
        self.err_targets: List[str] = ["pytap_fail"]
        # @entry(expr) / entry-time arguments of a .return probe: evaluated by a
        # hidden entry program and saved per thread (see Generator._entry_saver)
        self.entry_exprs: List = []
        self.in_entry = False
        self.prologue: List[str] = []
        if probe is not None:
            self.slot_base = "PYTAP_PSLOT0"
            self.next_action = f"goto pytap_end_{probe.index};"
            self.rp = probe.resolved
        else:
            self.slot_base = f"PYTAP_FS_{c_ident(gen.function_cname(func))}"
            self.next_action = "return PYTAP_RC_NEXT;"
            self.rp = None

    # ------------------------------------------------------------ plumbing
    def emit(self, line: str):
        self.lines.append("\t" * self.ind + line)

    def mark(self, node):
        loc = getattr(node, "loc", None)
        if loc is not None and loc.line > 0:
            self.emit(f"/* @{loc.file}:{loc.line}:{loc.col} */")

    def tmp(self, ctype: str = "s64") -> str:
        self.ntmp += 1
        name = f"t{self.ntmp}"
        init = " = 0" if ctype == "s64" else ""
        self.decls.append(f"{ctype} {name}{init};")
        return name

    def slot(self) -> str:
        self.uses_frame = True
        k = self.nslots
        self.nslots += 1
        return f"F->s[{self.slot_base} + {k}]"

    def label(self, stem: str) -> str:
        self.nlabels += 1
        return f"L{stem}_{self.nlabels}"

    def sub(self):
        """Start capturing lines into a nested block."""
        saved = self.lines
        self.lines = []
        return saved

    def unsub(self, saved):
        inner = self.lines
        self.lines = saved
        return inner

    def raise_error(self, message: str, node, tok_desc: str):
        idx = self.gen.add_error(message, getattr(node, "loc", None), tok_desc)
        self.emit(f"E->err = {idx};")
        if self.gen.has_try:
            self.emit(f"PYTAP_ERRMSG_LIT(E, {c_string(message[:self.gen.msl - 1])});")
        self.emit(f"goto {self.err_targets[-1]};")

    def check_rc(self, rc: str):
        """After a call returning PYTAP_RC_*: propagate next/errors."""
        self.emit(f"if ({rc}) {{")
        self.emit(f"\tif ({rc} == PYTAP_RC_NEXT) {self.next_action}")
        self.emit(f"\tgoto {self.err_targets[-1]};")
        self.emit("}")

    # ------------------------------------------------------------ variables
    def declare_local(self, v: ast.VarDecl):
        if id(v) in self.vars or id(v) in STABLE_STRING_CALLS:
            return
        name = "l_" + c_ident(v.name)
        if (v.type or "long") == "string":
            s = self.slot()
            self.vars[id(v)] = ("string", s)
            self.emit(f"{s}[0] = 0;")
        elif v.type == "stats":
            raise Unsupported("local aggregate", v)
        else:
            self.decls.append(f"s64 {name} = 0;")
            self.vars[id(v)] = ("long", name)

    def var_of(self, sym: ast.Symbol):
        ref = sym.referent
        if ref is None:
            raise Unsupported("unresolved symbol", sym)
        if id(ref) in self.vars:
            return ("local",) + self.vars[id(ref)]
        lay = self.gen.layout_of(ref)
        if lay is not None:
            return ("global", lay)
        # a local the elaborator did not list (e.g. a catch variable)
        self.declare_local(ref)
        return ("local",) + self.vars[id(ref)]

    # ------------------------------------------------------------ statements
    def stmt(self, s):
        m = getattr(self, "s_" + type(s).__name__, None)
        if m is None:
            raise Unsupported(f"statement {type(s).__name__}", s)
        m(s)

    def s_Block(self, s):
        for x in s.statements:
            self.stmt(x)

    def s_NullStatement(self, s):
        pass

    def s_ExprStatement(self, s):
        if stable_string_call(s) is not None:
            # `__stable_x_value = execname()`: the elaborator hoists stable
            # calls; for strings we re-evaluate the call where it is used
            # (straight into a map key or record) instead of keeping a copy
            return
        self.mark(s)
        self.expr(s.value, want=False)

    def s_IfStatement(self, s):
        self.mark(s)
        c = self.cond(s.cond)
        self.emit(f"if ({c}) {{")
        self.ind += 1
        self.stmt(s.then)
        self.ind -= 1
        if s.else_ is not None:
            self.emit("} else {")
            self.ind += 1
            self.stmt(s.else_)
            self.ind -= 1
        self.emit("}")

    def s_ForLoop(self, s):
        self.mark(s)
        if s.init is not None:
            self.stmt(s.init)
        brk, cont = self.label("brk"), self.label("cont")
        # MAXACTION as stap counts it: each statement 1, a loop 1 more per
        # iteration, checked at the end of every iteration near the body's
        # last statement (this bound is also what lets the verifier prove
        # that the loop ends)
        self.emit("for (;;) {")
        self.ind += 1
        cost = _count_statements(s.body) + 1
        if s.cond is not None:
            c = self.cond(s.cond)
            self.emit(f"if (!({c})) break;")
        self.loops.append((brk, cont))
        self.stmt(s.body)
        self.loops.pop()
        self.emit(f"{cont}: ;")
        self.emit(f"E->actions += {cost};")
        self.emit("if (E->actions >= PYTAP_MAXACTION) {")
        self.ind += 1
        last = first_token(_last_statement(s.body))
        self.raise_error("MAXACTION exceeded", last, _tok(last, "keyword"))
        self.ind -= 1
        self.emit("}")
        if s.incr is not None:
            self.stmt(s.incr)
        self.ind -= 1
        self.emit("}")
        self.emit(f"{brk}: ;")

    def s_ForeachLoop(self, s):
        raise Unsupported("foreach", s)

    def s_BreakStatement(self, s):
        if not self.loops:
            raise Unsupported("break outside loop", s)
        self.emit(f"goto {self.loops[-1][0]};")

    def s_ContinueStatement(self, s):
        if not self.loops:
            raise Unsupported("continue outside loop", s)
        self.emit(f"goto {self.loops[-1][1]};")

    def s_NextStatement(self, s):
        self.emit(self.next_action)

    def s_ReturnStatement(self, s):
        self.mark(s)
        if self.func is None:
            raise Unsupported("return outside function", s)
        if s.value is not None:
            rtype = self.func.type or s.value.type or "long"
            if rtype == "string":
                self.str_into(s.value, "__ret", "PYTAP_MSL")
            else:
                v = self.expr(s.value)
                self.emit(f"*__ret = {v};")
        self.emit("return 0;")

    def s_DeleteStatement(self, s):
        self.mark(s)
        v = s.value
        if isinstance(v, ast.ArrayIndex) and isinstance(v.base, ast.Symbol):
            kind = self.var_of(v.base)
            if kind[0] != "global":
                raise Unsupported("local array", v)
            lay = kind[1]
            if any(i is None for i in v.indexes):
                raise Unsupported("delete with wildcard", s)
            k = self.key(lay, v.indexes)
            self.emit(f"{lay.map_name}.delete(&(*{k}));")
            self.emit("}")
            return
        if isinstance(v, ast.Symbol):
            kind = self.var_of(v)
            if kind[0] == "local":
                if kind[1] == "string":
                    self.emit(f"{kind[2]}[0] = 0;")
                else:
                    self.emit(f"{kind[2]} = 0;")
                return
            lay = kind[1]
            if lay.kind == "scalar":
                p = self.scalar_ptr(lay)
                if lay.value_type == "string":
                    self.emit(f"if ({p}) {p}->s[0] = 0;")
                else:
                    self.emit(f"if ({p}) *{p} = 0;")
                return
            raise Unsupported("delete of a whole array", s)
        raise Unsupported("delete", s)

    def s_TryBlock(self, s):
        self.mark(s)
        catch, after = self.label("catch"), self.label("after")
        self.emit("{")
        self.ind += 1
        self.err_targets.append(catch)
        self.stmt(s.try_block)
        self.err_targets.pop()
        self.emit(f"goto {after};")
        self.ind -= 1
        self.emit("}")
        self.emit(f"{catch}: ;")
        self.emit("{")
        self.ind += 1
        if s.catch_var is not None:
            kind = self.var_of(s.catch_var)
            if kind[0] != "local" or kind[1] != "string":
                raise Unsupported("catch variable", s)
            self.emit("{ struct pytap_errbuf *eb = pytap_errbuf_get();")
            self.emit(f"  {kind[2]}[0] = 0; if (eb && E->dyn) pytap_strcpy({kind[2]}, PYTAP_MSL, eb->msg); }}")
        self.emit("E->dyn = 0;")
        self.stmt(s.catch_block)
        self.ind -= 1
        self.emit("}")
        self.emit(f"{after}: ;")

    def s_EmbeddedCode(self, s):
        raise Unsupported("embedded C statement", s)

    # ------------------------------------------------------------ expressions
    def expr(self, e, want: bool = True) -> str:
        m = getattr(self, "e_" + type(e).__name__, None)
        if m is None:
            raise Unsupported(f"expression {type(e).__name__}", e)
        if type(e).__name__ in ("Assignment", "PreCrement", "PostCrement", "PrintFormat", "FunctionCall"):
            return m(e, want)
        return m(e)

    def cond(self, e) -> str:
        return self.expr(e)

    def etype(self, e) -> str:
        return e.type or "long"

    def e_Number(self, e):
        return c_long(e.value)

    def e_String(self, e):
        s = self.slot()
        self.emit(f"PYTAP_LIT({s}, {c_string(self.lit_text(e))});")
        return s

    def lit_text(self, e) -> str:
        text = unescape(e.value)
        b = text.encode("latin-1", "replace")[: self.gen.msl - 1]
        return b.decode("latin-1")

    def e_Symbol(self, e):
        if e.referent is not None and id(e.referent) in STABLE_STRING_CALLS:
            return self.expr(STABLE_STRING_CALLS[id(e.referent)])
        kind = self.var_of(e)
        if kind[0] == "local":
            return kind[2]
        lay = kind[1]
        if lay.kind != "scalar":
            raise Unsupported("aggregate/array used as a value", e)
        p = self.scalar_ptr(lay)
        if lay.value_type == "string":
            s = self.slot()
            self.emit(f"{s}[0] = 0; if ({p}) pytap_strcpy({s}, PYTAP_MSL, {p}->s);")
            return s
        t = self.tmp()
        self.emit(f"{t} = {p} ? *{p} : 0;")
        return t

    def scalar_ptr(self, lay) -> str:
        p = self.tmp(f"{value_c_type(lay)} *")
        self.emit(f"{p} = {lay.map_name}.lookup(&pytap_z);")
        return p

    def e_Unary(self, e):
        v = self.expr(e.operand)
        t = self.tmp()
        if e.op == "-":
            self.emit(f"{t} = (s64)(-(u64){v});")
        elif e.op == "!":
            self.emit(f"{t} = !{v};")
        elif e.op == "~":
            self.emit(f"{t} = ~{v};")
        else:
            return v
        return t

    def e_Binary(self, e):
        a = self.expr(e.left)
        b = self.expr(e.right)
        t = self.tmp()
        op = e.op
        if op in ("/", "%"):
            if not re.fullmatch(r"-?\d+LL", b) or b in ("0LL", "-0LL"):
                self.emit(f"if ({b} == 0) {{")
                self.ind += 1
                self.raise_error("division by 0", e, _tok(e, f"operator '{op}'"))
                self.ind -= 1
                self.emit("}")
            fn = "pytap_sdiv" if op == "/" else "pytap_smod"
            self.emit(f"{t} = {fn}({a}, {b});")
        elif op in ("+", "-", "*"):
            self.emit(f"{t} = (s64)((u64){a} {op} (u64){b});")
        elif op == "<<":
            self.emit(f"{t} = (s64)((u64){a} << ({b} & 63));")
        elif op == ">>":
            self.emit(f"{t} = {a} >> ({b} & 63);")
        elif op == ">>>":
            self.emit(f"{t} = (s64)((u64){a} >> ({b} & 63));")
        elif op in ("&", "|", "^"):
            self.emit(f"{t} = {a} {op} {b};")
        else:
            raise Unsupported(f"operator {op}", e)
        return t

    def e_Comparison(self, e):
        t = self.tmp()
        if self.etype(e.left) == "string" or self.etype(e.right) == "string":
            lit = None
            other = None
            if isinstance(e.right, ast.String) and e.op in ("==", "!="):
                lit, other = e.right, e.left
            elif isinstance(e.left, ast.String) and e.op in ("==", "!="):
                lit, other = e.left, e.right
            if lit is not None:
                p = self.expr(other)
                text = self.lit_text(lit).encode("latin-1", "replace")
                parts = [f"{p}[{i}] == {c}" for i, c in enumerate(text)] + [f"{p}[{len(text)}] == 0"]
                test = " && ".join(parts)
                self.emit(f"{t} = {'' if e.op == '==' else '!'}({test});")
                return t
            a = self.expr(e.left)
            b = self.expr(e.right)
            self.emit(f"{t} = pytap_strcmp({a}, {b}) {e.op} 0;")
            return t
        a = self.expr(e.left)
        b = self.expr(e.right)
        self.emit(f"{t} = {a} {e.op} {b};")
        return t

    def _logical(self, e, is_and: bool):
        t = self.tmp()
        a = self.expr(e.left)
        self.emit(f"{t} = {'0' if is_and else '1'};")
        self.emit(f"if ({'' if is_and else '!'}{a}) {{")
        self.ind += 1
        b = self.expr(e.right)
        self.emit(f"{t} = {b} != 0;")
        self.ind -= 1
        self.emit("}")
        return t

    def e_LogicalAnd(self, e):
        return self._logical(e, True)

    def e_LogicalOr(self, e):
        return self._logical(e, False)

    def e_Ternary(self, e):
        c = self.expr(e.cond)
        if self.etype(e) == "string":
            t = self.tmp("char *")
        else:
            t = self.tmp()
        self.emit(f"if ({c}) {{")
        self.ind += 1
        self.emit(f"{t} = {self.expr(e.truevalue)};")
        self.ind -= 1
        self.emit("} else {")
        self.ind += 1
        self.emit(f"{t} = {self.expr(e.falsevalue)};")
        self.ind -= 1
        self.emit("}")
        return t

    def e_Concat(self, e):
        a = self.expr(e.left)
        b = self.expr(e.right)
        s = self.slot()
        self.emit(f"pytap_strcat({s}, {a}, {b});")
        return s

    def e_RegexMatch(self, e):
        raise Unsupported("regular expression match", e)

    def e_StatOp(self, e):
        raise Unsupported("reading an aggregate", e)

    def e_HistOp(self, e):
        raise Unsupported("histogram", e)

    def e_EntryOp(self, e):
        return self.entry_value(e.operand, e)

    def entry_value(self, expr, node) -> str:
        """The value `expr` had when the function was entered."""
        if self.in_entry:
            return self.expr(expr)
        if self.probe is None or self.rp is None or not self.rp.spec.get("return"):
            raise StapError("@entry is only valid in .return probes", node.loc,
                            _tok(node, "operator '@entry'"))
        if (expr.type or "long") != "long":
            raise StapError("@entry of a string is not supported", node.loc,
                            _tok(node, "operator '@entry'"))
        idx = len(self.entry_exprs)
        self.entry_exprs.append(expr)
        name = f"ent{idx}"
        self.decls.append(f"s64 {name} = 0;")
        return name

    def e_DefinedOp(self, e):
        op = e.operand
        if isinstance(op, ast.TargetSymbol) and self.rp is not None:
            return "1LL" if self.target_var(op) is not None else "0LL"
        raise Unsupported("@defined", e)

    def e_EmbeddedExpr(self, e):
        raise Unsupported("embedded C expression", e)

    # --- strings written straight into a destination buffer
    def str_into(self, e, dst: str, size: str):
        """Evaluate string expression e into buffer dst of `size` bytes."""
        if isinstance(e, ast.Symbol) and e.referent is not None and id(e.referent) in STABLE_STRING_CALLS:
            e = STABLE_STRING_CALLS[id(e.referent)]
        if isinstance(e, ast.String):
            text = self.lit_text(e)
            self.emit(f"PYTAP_LIT({dst}, {c_string(text)});")
            return
        if isinstance(e, ast.FunctionCall) and e.referents and is_native(e.referents[0]) \
                and native_kind(e.referents[0]) == "bpf":
            self.call_native(e, e.referents[0], ret_buf=(dst, size))
            return
        p = self.expr(e)
        self.emit(f"pytap_strcpy({dst}, {size}, {p});")

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
            self.emit(f"int rc{k} = {lay.map_name}.update(&(*{k}), (struct pytap_str *){val});")
            self.emit(f"if (rc{k} == -7) {{")
            self.ind += 1
            self.overflow(lay, e.left.base if isinstance(e.left, ast.ArrayIndex) else e.left)
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
            self.emit(f"int rc{k} = {m}.update(&(*{k}), &v{k});")
            self.emit(f"if (rc{k} == -7) {{")
            self.ind += 1
            self.overflow(lay, base_node)
            self.ind -= 1
            self.emit("}")
            self.emit(f"{t} = {v};")
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
            self.emit(f"if (rc{k} == -17) {{ p{k} = {m}.lookup(&(*{k})); if (p{k}) __sync_fetch_and_add(p{k}, {sign}{v}); }}")
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
        self.emit(f"int rc{k} = {m}.update(&(*{k}), &v{k});")
        self.emit(f"if (rc{k} == -7) {{")
        self.ind += 1
        self.overflow(lay, base_node)
        self.ind -= 1
        self.emit("}")
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
            self.emit(f"if (zp) {{ int rc = {lay.map_name}.insert(&(*{k}), ({st} *)zp); if (rc == -7) {{")
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
        self.emit("sp->count += 1; sp->sum += sv; sp->sumsq += sv * sv;")
        if lay.hist is not None and lay.hist.kind == "log":
            self.emit(f"u32 b = pytap_log_bucket(sv); sp->log[b & {LOG_BUCKETS - 1}] += 1;")
        elif lay.hist is not None:
            n = linear_buckets(lay.hist)
            self.emit(f"u32 b = pytap_linear_bucket(sv, {c_long(lay.hist.start)}, {c_long(lay.hist.interval)}, {n});")
            # the struct pads linear[] to a power of two so the mask bounds it
            self.emit(f"sp->linear[b & {linear_pow2(lay.hist) - 1}] += 1;")
        self.ind -= 1
        self.emit("}")
        self.emit("}")
        return v

    # --- target variables
    def target_var(self, e):
        rp = self.rp
        if rp is None:
            return None
        try:
            return rp.variable(e.name.lstrip("$"))
        except Exception:
            return None

    def e_TargetSymbol(self, e):
        if self.rp is None:
            raise StapError("target variable used outside a probe handler", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.addressof or e.name.startswith("$$") or any(c.kind == "pretty" for c in e.components):
            raise StapError("unsupported target variable access (&, $$vars, pretty printing)", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.name == "$return":
            tv = self.target_var(e)
            if tv is None and self.rp.spec.get("return"):
                t = self.tmp()
                self.emit(f"{t} = (s64)PT_REGS_RC((struct pt_regs *)ctx);")
                return t
        tv = self.target_var(e)
        if tv is None:
            raise StapError(f"unable to find target variable '{e.name}'", e.loc,
                            _tok(e, f"identifier '{e.name}'"))
        if e.components:
            return self.member_chain(e, tv)
        return self.read_target(e, tv)

    def member_chain(self, e, tv):
        """$var->a->b[i]: follow the kernel's struct layouts from BTF."""
        tok = _tok(e, f"identifier '{e.name}'")
        m = re.match(r"\s*(?:const\s+|volatile\s+)*(struct|union)\s+(\w+)\s*(\*?)", tv.c_type or "")
        if m is None or not m.group(3):
            raise StapError(f"cannot follow members of '{e.name}' (type {tv.c_type or '?'})", e.loc, tok)
        saved_type, e.type = e.type, "long"
        try:
            val = self.read_target(e, tv)
        finally:
            e.type = saved_type
        return self.follow(e, val, m.group(2), e.components, tok)

    def e_CastOp(self, e):
        """@cast(ptr, "struct name")->a->b: the same walk from a pointer."""
        tok = _tok(e, "operator '@cast'")
        if e.addressof:
            raise StapError("unsupported @cast use (&)", e.loc, tok)
        name = re.sub(r"^\s*(struct|union)\s+", "", e.type_name or "").strip()
        val = self.expr(e.operand)
        if not e.components:
            return val
        return self.follow(e, val, name, e.components, tok)

    def follow(self, e, val, struct_name, components, tok):
        from .btf_offsets import (KIND_ARRAY, KIND_ENUM, KIND_ENUM64, KIND_INT, KIND_PTR,
                                  KIND_STRUCT, KIND_UNION, kernel_types)
        bt = kernel_types()
        if bt is None:
            raise StapError("this kernel has no BTF to resolve struct members", e.loc, tok)
        tid = bt.structs.get(struct_name)
        if tid is None:
            raise StapError(f"unknown type 'struct {struct_name}' in this kernel's BTF", e.loc, tok)
        user = self.rp is not None and self.rp.family == "uprobe"
        reader = "bpf_probe_read_user" if user else "bpf_probe_read_kernel"
        state = ("ptr", val, tid)

        def settle(addr, t):
            t = bt.strip(t)
            k = bt.kind(t)
            if k in (KIND_STRUCT, KIND_UNION, KIND_ARRAY):
                return ("obj", addr, t)
            size = bt.size(t) if k in (KIND_INT, KIND_ENUM, KIND_ENUM64) else 8
            size = size if size in (1, 2, 4, 8) else 8
            signed = bt.signed(t) if k != KIND_PTR else False
            ctype = f"{'s' if signed else 'u'}{size * 8}"
            tmp = self.tmp()
            self.emit(f"{{ {ctype} rv = 0; {reader}(&rv, {size}, (void *)({addr})); {tmp} = (s64)rv; }}")
            if k == KIND_PTR:
                return ("ptr", tmp, bt.strip(bt.target(t)))
            return ("scalar", tmp, t)

        for comp in components:
            kind, expr, t = state
            if comp.kind == "member":
                if kind not in ("ptr", "obj") or bt.kind(t) not in (KIND_STRUCT, KIND_UNION):
                    raise StapError(f"'{comp.name}' is not a member of a struct here", comp.loc or e.loc, tok)
                r = bt.member(t, comp.name)
                if r is None:
                    raise StapError(f"unable to find member '{comp.name}'", comp.loc or e.loc, tok)
                off, mt = r
                state = settle(f"(u64){expr} + {off}", mt)
            elif comp.kind == "index":
                if comp.index is not None and isinstance(comp.index, ast.Expr):
                    idx = self.expr(comp.index)
                else:
                    idx = c_long(int(comp.name or 0))
                if kind == "ptr":
                    elem = t
                elif kind == "obj" and bt.kind(t) == KIND_ARRAY:
                    elem = bt.strip(bt.target(t))
                else:
                    raise StapError("cannot index this target value", comp.loc or e.loc, tok)
                state = settle(f"(u64){expr} + (u64)({idx}) * {bt.size(elem)}", elem)
            else:
                raise StapError("unsupported target variable access", comp.loc or e.loc, tok)
        kind, expr, t = state
        if (e.type or "long") == "string":
            s = self.slot()
            fn = "bpf_probe_read_user_str" if user else "bpf_probe_read_kernel_str"
            self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, (void *)({expr}));")
            return s
        t2 = self.tmp()
        self.emit(f"{t2} = (s64)({expr});")
        return t2

    def _cast(self, tv) -> str:
        size = tv.size or 8
        if tv.is_pointer:
            return "(s64)(u64)"
        base = {1: "8", 2: "16", 4: "32", 8: "64"}.get(size, "64")
        return f"(s64)({'s' if tv.signed else 'u'}{base})"

    def read_target(self, e, tv):
        want_string = (e.type == "string")
        src = tv.source
        if src in ("arg", "return"):
            if tv.at_entry and src == "arg" and not self.in_entry:
                return self.entry_value(e, e)
            regs = "(struct pt_regs *)ctx"
            if src == "return":
                raw = f"PT_REGS_RC({regs})"
            else:
                if not 1 <= tv.arg_index <= 6:
                    raise StapError(f"target variable '{e.name}' is not in a register", e.loc,
                                    _tok(e, f"identifier '{e.name}'"))
                raw = f"PT_REGS_PARM{tv.arg_index}({regs})"
            if want_string:
                s = self.slot()
                fn = "bpf_probe_read_user_str" if (tv.string_space == "user" or
                                                   self.rp.family == "uprobe") else "bpf_probe_read_kernel_str"
                self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, (void *){raw});")
                return s
            t = self.tmp()
            self.emit(f"{t} = {self._cast(tv)}{raw};")
            return t
        if src == "field":
            at = f"((char *)ctx + {tv.offset})"
            if want_string:
                s = self.slot()
                if tv.data_loc:
                    self.emit(f"{{ u32 dl = *(u32 *){at}; {s}[0] = 0; "
                              f"bpf_probe_read_kernel_str({s}, PYTAP_MSL, (char *)ctx + (dl & 0xffff)); }}")
                elif tv.array_len:
                    n = min(tv.array_len + 1, self.gen.msl)
                    self.emit(f"{s}[0] = 0; bpf_probe_read_kernel_str({s}, {n}, {at});")
                else:
                    fn = "bpf_probe_read_user_str" if tv.string_space == "user" else "bpf_probe_read_kernel_str"
                    self.emit(f"{s}[0] = 0; {fn}({s}, PYTAP_MSL, *(void **){at});")
                return s
            size = tv.size if tv.size in (1, 2, 4, 8) else 8
            ctype = {1: "8", 2: "16", 4: "32", 8: "64"}[size]
            t = self.tmp()
            if tv.data_loc or tv.array_len:
                self.emit(f"{t} = (s64)(u64){at};")
            else:
                self.emit(f"{t} = (s64)*({'s' if tv.signed else 'u'}{ctype} *){at};")
            return t
        raise Unsupported(f"target variable source {src}", e)

    # --- calls
    def subject_override(self, name):
        """process.begin fires in the parent (task_newtask): pid()/tid()
        name the new task from the record, ppid() the current process."""
        if self.probe is None or self.rp is None or self.rp.family != "process":
            return None
        field = self.rp.spec.get("subject_pid_field")
        if not field or name not in ("pid", "tid", "ppid"):
            return None
        if name == "ppid":
            return "(s64)(bpf_get_current_pid_tgid() >> 32)"
        off = self.gen.tracepoint_field_offset(self.rp, field)
        if off is None:
            return None
        return f"(s64)*(s32 *)((char *)ctx + {off})"

    def e_FunctionCall(self, e, want=True):
        if not e.referents:
            raise Unsupported(f"unresolved function {e.name}", e)
        decl = e.referents[0]
        if not e.args:
            sub = self.subject_override(decl.name)
            if sub is not None:
                t = self.tmp()
                self.emit(f"{t} = {sub};")
                return t
        if is_native(decl):
            kind = native_kind(decl)
            if kind == "intrinsic":
                return self.intrinsic(e, decl)
            if kind != "bpf":
                raise Unsupported(f"{decl.name}() runs in user space", e)
            if (decl.type or "long") == "string":
                s = self.slot()
                self.call_native(e, decl, ret_buf=(s, "PYTAP_MSL"))
                return s
            return self.call_native(e, decl)
        return self.call_script(e, decl)

    def _args(self, e, decl):
        out = []
        for a, p in zip(e.args, decl.formal_args):
            out.append(self.expr(a))
        return out

    def call_native(self, e, decl, ret_buf=None):
        cname = self.gen.native(decl)
        self.calls.add(cname)
        args = self._args(e, decl)
        rc = self.tmp("int")
        rtype = decl.type or "void"
        if "STAP_ERROR" in native_code(decl):
            idx = self.gen.add_error(decl.name, e.loc, _tok(e, f"identifier '{e.name}'"))
            self.emit(f"E->err = {idx};")
        if rtype == "string":
            dst, size = ret_buf
            self.emit(f"{rc} = {cname}(E, {dst}, {size}{''.join(', ' + a for a in args)});")
            self.check_rc(rc)
            return dst
        if rtype == "long":
            t = self.tmp()
            self.emit(f"{rc} = {cname}(E, &{t}{''.join(', ' + a for a in args)});")
            self.check_rc(rc)
            return t
        self.emit(f"{rc} = {cname}(E{''.join(', ' + a for a in args)});")
        self.check_rc(rc)
        return "0"

    def call_script(self, e, decl):
        cname = self.gen.script_function(decl)
        self.calls.add(cname)
        args = self._args(e, decl)
        rc = self.tmp("int")
        rtype = decl.type or "void"
        if rtype == "string":
            s = self.slot()
            self.emit(f"{rc} = {cname}(E, {s}{''.join(', ' + a for a in args)});")
            self.check_rc(rc)
            return s
        t = self.tmp()
        self.emit(f"{rc} = {cname}(E, &{t}{''.join(', ' + a for a in args)});")
        self.check_rc(rc)
        return t

    def intrinsic(self, e, decl):
        name = decl.name
        if name == "is_return":
            if self.probe is not None:
                return "1LL" if self.rp is not None and self.rp.spec.get("return") else "0LL"
            return self.per_probe_long(lambda p: 1 if p.resolved is not None and p.resolved.spec.get("return") else 0)
        texts = {
            "pp": lambda p: self.gen.pp_text(p),
            "probefunc": lambda p: self.gen.probefunc_text(p),
            "ppfunc": lambda p: self.gen.probefunc_text(p),
        }
        if name not in texts:
            raise Unsupported(f"intrinsic {name}", e)
        s = self.slot()
        if self.probe is not None:
            self.emit(f"PYTAP_LIT({s}, {c_string(texts[name](self.probe)[: self.gen.msl - 1])});")
            return s
        self.emit(f"{s}[0] = 0;")
        self.emit("switch (E->probe) {")
        for p in self.gen.bpf_probes():
            self.emit(f"case {p.index}: PYTAP_LIT({s}, {c_string(texts[name](p)[: self.gen.msl - 1])}); break;")
        self.emit("}")
        return s

    def per_probe_long(self, fn):
        t = self.tmp()
        self.emit("switch (E->probe) {")
        for p in self.gen.bpf_probes():
            self.emit(f"case {p.index}: {t} = {fn(p)}; break;")
        self.emit("}")
        return t

    # --- sprintf family, formatted in BPF
    _CONV = re.compile(r"%([-+ #0]*)(\d+|\*)?(?:\.(\d+|\*))?([hlLqjzt]*)([a-zA-Z%])")

    def sprint(self, e) -> str:
        if e.hist is not None:
            raise Unsupported("histogram", e)
        fmt, parts = self.print_format(e)
        args = [self.expr(a) for a, _t in parts]
        types = [t for _a, t in parts]
        out = self.slot()
        self.emit("{")
        self.ind += 1
        self.emit("char *fb = F->fmt; u32 fp = 0;")
        i = 0
        pos = 0
        for m in self._CONV.finditer(fmt):
            lit = fmt[pos:m.start()]
            pos = m.end()
            if lit:
                self.fmt_literal(lit)
            flags_s, width, prec, _len, conv = m.groups()
            if conv == "%":
                self.fmt_literal("%")
                continue
            if width == "*" or prec == "*" or i >= len(args):
                raise Unsupported("sprintf format", e)
            a, t = args[i], types[i]
            i += 1
            w = int(width) if width else 0
            pr = int(prec) if prec is not None else -1
            fl = 0
            for ch, bit in (("-", 1), ("0", 2), ("+", 4), (" ", 8), ("#", 64)):
                if ch in flags_s:
                    fl |= bit
            if conv == "s":
                if t != "string":
                    raise Unsupported("sprintf %s of a number", e)
                self.emit(f"fp = pytap_fmt_str(fb, fp, {a}, {w}, {pr}, {fl});")
            elif conv in "diuxXo":
                if t != "long":
                    raise Unsupported("sprintf number of a string", e)
                base = {"x": 16, "X": 16, "o": 8}.get(conv, 10)
                if conv in "uxXo":
                    fl |= 32
                if conv == "X":
                    fl |= 16
                self.emit(f"fp = pytap_fmt_num(fb, fp, {a}, {base}, {w}, {fl});")
            elif conv == "c":
                if t != "long":
                    raise Unsupported("sprintf %c of a string", e)
                if w > 1 and not fl & 1:
                    self.emit(f"fp = pytap_fmt_pad(fb, fp, ' ', {w - 1});")
                self.emit(f"fp = pytap_fmt_char(fb, fp, (char){a});")
                if w > 1 and fl & 1:
                    self.emit(f"fp = pytap_fmt_pad(fb, fp, ' ', {w - 1});")
            else:
                raise Unsupported(f"sprintf conversion %{conv}", e)
        if fmt[pos:]:
            self.fmt_literal(fmt[pos:])
        self.emit("fb[fp & PYTAP_IDX_MASK] = 0;")
        self.emit(f"pytap_strcpy({out}, PYTAP_MSL, fb);")
        self.ind -= 1
        self.emit("}")
        return out

    def fmt_literal(self, text: str):
        b = text.encode("latin-1", "replace")
        for i in range(0, len(b), 32):
            chunk = b[i:i + 32].decode("latin-1")
            n = len(chunk)
            # write only when the whole chunk fits; else char by char
            self.emit(f"if (fp + {n} <= PYTAP_FMT_CAP) {{ __builtin_memcpy(fb + (fp & PYTAP_IDX_MASK), "
                      f"{c_string(chunk)}, {n}); fp += {n}; }} else {{")
            for ch in chunk:
                self.emit(f"\tfp = pytap_fmt_char(fb, fp, {ord(ch)});")
            self.emit("}")

    def print_format(self, e):
        """-> (printf format, [(arg expr, type)]) for any print-family call."""
        args = list(e.args)
        if e.is_format:
            return unescape(e.fmt or ""), [(a, self.etype(a)) for a in args]
        delim = unescape(e.delimiter or "") if e.is_delim else ""
        fmt_parts = []
        parts = []
        for i, a in enumerate(args):
            if i and delim:
                fmt_parts.append(printf_escape(delim))
            if isinstance(a, ast.String):
                fmt_parts.append(printf_escape(unescape(a.value)))
            elif isinstance(a, ast.Number):
                fmt_parts.append(str(a.value))
            else:
                t = self.etype(a)
                fmt_parts.append("%s" if t == "string" else "%d")
                parts.append((a, t))
        if e.newline:
            fmt_parts.append("\n")
        return "".join(fmt_parts), parts

    # --- printing
    def e_PrintFormat(self, e, want=True):
        self.mark(e)
        if not e.to_stream:
            return self.sprint(e)
        if e.hist is not None:
            raise Unsupported("printing a histogram", e)
        args = list(e.args)
        for a in args:
            if self.etype(a) == "stats" or isinstance(a, (ast.HistOp,)):
                raise Unsupported("printing an aggregate", e)
        fmt, parts = self.print_format(e)
        # evaluate in order; pure native string calls write straight into the record
        vals = []
        sizes = [string_size(a, self.gen.msl) for a, t in parts if t == "string"]
        ssize = round8(max(sizes)) if sizes else round8(self.gen.msl)
        for a, t in parts:
            if isinstance(a, ast.Symbol) and a.referent is not None and id(a.referent) in STABLE_STRING_CALLS:
                a = STABLE_STRING_CALLS[id(a.referent)]
            if t == "string" and isinstance(a, ast.FunctionCall) and a.referents \
                    and is_native(a.referents[0]) and native_kind(a.referents[0]) == "bpf" \
                    and "STAP_ERROR" not in native_code(a.referents[0]) and not a.args:
                vals.append(("direct", a))
            elif t == "string" and isinstance(a, ast.String):
                vals.append(("lit", a))
            else:
                vals.append(("val", self.expr(a)))
        fmt_rec = self.gen.add_format(e.print_name, fmt, [t for _, t in parts], ssize)
        r = f"r{fmt_rec.id}_{self.nlabels + 1}"
        self.nlabels += 1
        self.emit("{")
        self.ind += 1
        self.emit(f"struct pytap_rec_{fmt_rec.id} *{r} = {self.gen.ringbuf}.ringbuf_reserve(sizeof(struct pytap_rec_{fmt_rec.id}));")
        self.emit(f"if ({r}) {{")
        self.ind += 1
        self.emit(f"{r}->kind = {fmt_rec.id}; {r}->cpu = bpf_get_smp_processor_id();")
        for i, ((how, v), (a, t)) in enumerate(zip(vals, parts)):
            if how == "direct":
                self.str_into(v, f"{r}->a{i}", str(ssize))
            elif how == "lit":
                text = self.lit_text(v)[: ssize - 1]
                self.emit(f"PYTAP_LIT({r}->a{i}, {c_string(text)});")
            elif t == "string":
                self.emit(f"pytap_strcpy({r}->a{i}, {ssize}, {v});")
            else:
                self.emit(f"{r}->a{i} = {v};")
        self.emit(f"{self.gen.ringbuf}.ringbuf_submit({r}, 0);")
        self.ind -= 1
        self.emit("} else {")
        self.emit("\tpytap_dropped();")
        self.emit("}")
        self.ind -= 1
        self.emit("}")
        return "0"
