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
from .lower_common import (Unsupported, _count_statements, _last_statement, _tok,  # noqa: F401
                           first_token, is_native, native_code, native_kind)
from .lower_globals import GlobalsMixin
from .lower_print import PrintMixin
from .lower_target import TargetMixin


def probe_type_name(rp) -> str:
    """probe_type(): stap's name of the low-level handler type."""
    fam = getattr(rp, "family", None)
    ret = bool(getattr(rp, "spec", {}).get("return"))
    if fam in ("begin", "end", "error", "never", None):
        return "begin_end"
    if fam == "timer":
        return "timer" if rp.spec.get("unit") == "jiffies" else "hrtimer"
    return {"perf": "perf_event", "tracepoint": "tracepoint", "process": "utrace",
            "kprobe": "kretprobe" if ret else "kprobe",
            "uprobe": "uretprobe" if ret else "uprobe"}.get(fam, fam)


class Lowerer(GlobalsMixin, TargetMixin, PrintMixin):
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
        # TP_PROTO arguments read by a classic tracepoint handler: a hidden
        # raw tracepoint program saves them (see Generator._tp_arg_saver)
        self.tp_args_used: set = set()
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
        known = self.static_defined(s.cond)
        if known is not None:       # lower only the branch this kernel takes
            branch = s.then if known else s.else_
            if branch is not None:
                self.stmt(branch)
            return
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
        known = self.static_defined(e.cond)
        if known is not None:       # lower only the branch this kernel takes
            return self.expr(e.truevalue if known else e.falsevalue)
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
        if self.probe is None or self.rp is None or not (
                self.rp.spec.get("return") or self.rp.spec.get("entry_event")):
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

    def e_DerefOp(self, e):
        """@kderef/@uderef(SIZE, addr): SIZE bytes at addr, zero-extended
        (stap reads through u8/u16/u32/u64); a fault is a run-time error."""
        if e.size not in (1, 2, 4, 8):
            raise StapError(f"@{e.kind} size must be 1, 2, 4 or 8 (not {e.size})", e.loc,
                            f"operator '@{e.kind}'")
        addr = self.tmp()
        self.emit(f"{addr} = {self.expr(e.operand)};")
        space = "kernel" if e.kind == "kderef" else "user"
        idx = self.gen.add_error(f"{space} read fault", e.loc, f"operator '@{e.kind}'")
        t = self.tmp()
        self.emit(f"{{ u{e.size * 8} rv = 0; E->err = {idx};")
        self.emit(f"  if (bpf_probe_read_{space}(&rv, {e.size}, (void *){addr}) < 0) {{")
        self.emit(f'    char __pre[] = "{space} read fault at 0x"; '
                  f'char __post[] = " [man error::fault]";')
        self.emit(f"    pytap_errmsg_addr(E, __pre, sizeof(__pre) - 1, (u64){addr}, "
                  f"__post, sizeof(__post));")
        self.emit(f"    goto {self.err_targets[-1]};")
        self.emit("  }")
        self.emit(f"  {t} = (s64)rv; }}")
        return t

    def e_DefinedOp(self, e):
        known = self.static_defined(e)
        if known is not None:
            return "1LL" if known else "0LL"
        raise Unsupported("@defined", e)

    def static_defined(self, e):
        """True/False for @defined(...) decidable here (target variables,
        member chains through BTF), else None."""
        from .defined import defined_value
        if not isinstance(e, ast.DefinedOp):
            return None
        op = e.operand
        if isinstance(op, ast.TargetSymbol) and self.rp is not None:
            if self.target_var(op) is None:
                return False
            if not op.components:
                return True
        return defined_value(op, self.target_var if self.rp is not None else None)

    def e_EmbeddedExpr(self, e):
        raise Unsupported("embedded C expression", e)

    def e_PerfOp(self, e):
        from .perfcounters import perf_read_expr      # @perf("NAME")
        return perf_read_expr(self.gen, e)

    def e_ConstOp(self, e):
        """@const("NAME"): the kernel constant's value, found at compile time
        (codegen/kconst.py), so BPF and user space agree."""
        from .kconst import ConstError, value
        tok = _tok(e, "operator '@const'")
        if (e.type or "long") != "long":
            raise StapError("@const of a string is not supported", e.loc, tok)
        try:
            return c_long(value(e.operand.value))
        except ConstError as err:
            raise StapError(str(err), e.loc, tok)

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
        from ..elaborate.probe_name import probe_label_text, probe_name_text
        name = decl.name
        if name == "user_mode":
            # Was the CPU in user mode when the event fired?  Only a sampled
            # context (perf/timer: the interrupted registers) or a uprobe can
            # say yes; tracepoints and kprobes fire inside the kernel.
            if self.probe is not None:
                return self._user_mode_expr(self.rp, "ctx")
            t = self.tmp()
            self.emit("switch (E->probe) {")
            for p in self.gen.bpf_probes():
                self.emit(f"case {p.index}: {t} = {self._user_mode_expr(p.resolved, 'E->ctx')}; break;")
            self.emit(f"default: {t} = 0;")
            self.emit("}")
            return t
        if name == "__pytap_arg_slots":
            from .arg_slots import arg_slots
            if self.probe is not None:
                return f"{arg_slots(self.rp)}LL"
            return self.per_probe_long(lambda p: arg_slots(p.resolved))
        if name == "registers_valid":
            # pt_regs are the context of kprobes/uprobes and the start of a
            # perf event's context (timer.profile); tracepoints, timer.s...,
            # begin/end have none
            if self.probe is not None:
                return "1LL" if self._has_regs(self.rp) else "0LL"
            return self.per_probe_long(lambda p: 1 if self._has_regs(p.resolved) else 0)
        if name == "is_return":
            if self.probe is not None:
                return "1LL" if self.rp is not None and self.rp.spec.get("return") else "0LL"
            return self.per_probe_long(lambda p: 1 if p.resolved is not None and p.resolved.spec.get("return") else 0)
        texts = {
            "pp": lambda p: self.gen.pp_text(p),
            "probefunc": lambda p: self.gen.probefunc_text(p),
            "ppfunc": lambda p: self.gen.probefunc_text(p),
            "probe_type": lambda p: probe_type_name(p.resolved),
            "pn": lambda p: probe_name_text(p),
            "pnlabel": lambda p: probe_label_text(p),
        }
        if name not in texts:
            raise Unsupported(f"intrinsic {name}", e)
        s = self.slot()
        if (self.probe is not None and name in ("probefunc", "ppfunc") and not texts[name](self.probe)
                and getattr(self.rp, "family", "") in ("perf", "timer")):
            # a sampling probe: the function it interrupted, symbolized in
            # user space (tapsets/stacks.stp's deferred "n"/"N" forms)
            self.emit(f"pytap_probefunc_lazy(E->ctx, {s});")
            return s
        if self.probe is not None:
            self.emit(f"PYTAP_LIT({s}, {c_string(texts[name](self.probe)[: self.gen.msl - 1])});")
            return s
        self.emit(f"{s}[0] = 0;")
        self.emit("switch (E->probe) {")
        for p in self.gen.bpf_probes():
            self.emit(f"case {p.index}: PYTAP_LIT({s}, {c_string(texts[name](p)[: self.gen.msl - 1])}); break;")
        self.emit("}")
        return s

    @staticmethod
    def _has_regs(rp) -> bool:
        return getattr(rp, "family", None) in ("kprobe", "uprobe", "perf")

    @staticmethod
    def _user_mode_expr(rp, ctx: str) -> str:
        fam = getattr(rp, "family", None)
        if fam in ("timer", "perf"):
            return f"(s64)((((struct bpf_perf_event_data *){ctx})->regs.cs & 3) == 3)"
        if fam == "uprobe":
            return "1LL"
        return "0LL"

    def per_probe_long(self, fn):
        t = self.tmp()
        self.emit("switch (E->probe) {")
        for p in self.gen.bpf_probes():
            self.emit(f"case {p.index}: {t} = {fn(p)}; break;")
        self.emit("}")
        return t
