"""Type inference to a fixpoint (stap's typeresolution_info).

Types are "long", "string", "stats".  Every variable (VarDecl) gets a value
type, an arity and per-index types; every expression gets `Expr.type`.
Inference runs over all probe and function bodies repeatedly until nothing
changes (a type found late in one body feeds earlier uses in another), then
reports whatever is still unknown, with stap's messages.
"""
from __future__ import annotations

import re
from typing import List, Optional

from .. import ast
from ..diagnostics import StapError

LONG, STRING, STATS = "long", "string", "stats"

_CONV_RE = re.compile(r"%(%|[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|z|j|t)?([a-zA-Z]))")


def printf_arg_types(fmt: str) -> List[Optional[str]]:
    """Argument types a printf format string asks for (`*` widths are longs)."""
    out: List[Optional[str]] = []
    for m in _CONV_RE.finditer(fmt):
        if m.group(1) == "%":
            continue
        spec = m.group(1)
        out.extend([LONG] * spec.count("*"))
        conv = m.group(2)
        out.append(STRING if conv in "smM" else LONG)
    return out


def tok(node) -> str:
    if isinstance(node, ast.String):
        return f"string '{node.value}'"
    if isinstance(node, ast.VarDecl):
        return f"identifier '{node.name}'"
    if node.tok_desc:
        return node.tok_desc
    if isinstance(node, ast.Symbol):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.Number):
        return f"number '{node.text or node.value}'"
    if isinstance(node, ast.String):
        return f"string '{node.value}'"
    if isinstance(node, ast.VarDecl):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.FunctionCall):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.TargetSymbol):
        return f"identifier '{node.name}'"
    return ""


class TypeInference(ast.Visitor):
    def __init__(self, errors: List[StapError]):
        self.errors = errors
        self.changed = False
        self.report = False         # final pass: report unresolved
        self.current_function: Optional[ast.FunctionDecl] = None
        self._reported = set()
        self._untyped_decls = []
        self.invalid = []               # [(position among errors, error)]
        self._invalid_seen = set()

    # -- helpers -----------------------------------------------------------
    def _err(self, e: StapError, key=None):
        k = key or (e.message, e.loc)
        if k in self._reported:
            return
        self._reported.add(k)
        self.errors.append(e)

    def _set_decl_type(self, decl: ast.VarDecl, t: Optional[str], node) -> None:
        if t is None or decl is None:
            return
        if decl.type is None:
            decl.type = t
            decl._type_site = (tok(node), node.loc)
            self.changed = True
        elif decl.type != t:
            site = getattr(decl, "_type_site", (tok(decl), decl.loc))
            e = StapError(f"type mismatch ({t})", node.loc, tok(node))
            e.chain = [StapError(f"type was first inferred here ({decl.type})", site[1], site[0])]
            self._err(e, ("tm", node.loc))

    def _set_arity(self, decl: ast.VarDecl, n: int, node) -> bool:
        if n == 0 and getattr(decl, "maxsize", None) is not None:
            # declared as an array (`global a[N]`): stap blames the declaration
            self._err(StapError("inconsistent arity", decl.loc, tok(decl)), ("ar", decl.loc))
            return False
        if decl.arity == -1:
            decl.arity = n
            decl._arity_site = (tok(node), node.loc)
            decl.index_types = [None] * n
            self.changed = True
            return True
        if decl.arity != n:
            site = getattr(decl, "_arity_site", (tok(node), decl.loc))
            e = StapError(f"inconsistent arity ({decl.arity} vs {n})", node.loc, tok(node))
            e.chain = [StapError(f"arity {decl.arity} first inferred here", site[1], site[0])]
            self._err(e, ("ar", node.loc))
            return False
        return True

    def _invalid(self, node, t: str) -> None:
        """stap's "invalid type T": a value of that type where it cannot
        go (a statistic as an index, argument, return value ...)."""
        # stap still reports the unresolved types after these: they are
        # kept aside (with where they fall among the other errors) and
        # reported in traversal order by the final round when it runs
        key = ("inv", node.loc)
        e = StapError(f"invalid type {t}", node.loc, tok(node))
        if self.report:
            self._err(e, key)
        elif key not in self._invalid_seen:
            self._invalid_seen.add(key)
            self.invalid.append((len(self.errors), e))

    def _settype(self, node: ast.Expr, t: Optional[str]):
        if t is not None and node.type != t:
            if node.type is None:
                node.type = t
                self.changed = True
        return node.type

    def expect(self, node: Optional[ast.Expr], t: Optional[str],
               index: bool = False, swap: bool = False) -> Optional[str]:
        """Infer node with an expected type t (None: any).  index: node is
        an array index (stap then shows its own index message)."""
        if node is None:
            return None
        got = self.visit_expr(node, t)
        if t is not None and got is not None and got != t:
            if isinstance(node, ast.Symbol) and node.referent is not None:
                self._set_decl_type(node.referent, t, node)
            elif isinstance(node, ast.ArrayIndex) and isinstance(node.base, ast.Symbol) \
                    and node.base.referent is not None:
                self._set_decl_type(node.base.referent, t, node.base)
            else:
                want, found = (got, t) if swap else (t, got)   # stap words args the other way
                e = StapError(f"type mismatch: expected {want} but found {found}", node.loc, tok(node))
                # for an index stap's own "index N type mismatch" follows;
                # this one then shows only with -v
                e.verbose_only = index
                self._err(e)
        return got

    def visit_expr(self, node: ast.Expr, t: Optional[str]) -> Optional[str]:
        meth = getattr(self, "expr_" + type(node).__name__, None)
        if meth is None:
            for c in node.children():
                if isinstance(c, ast.Expr):
                    self.expect(c, None)
                else:
                    self.visit(c)
            return node.type
        return meth(node, t)

    # -- expressions -------------------------------------------------------
    def expr_Number(self, n, t):
        return self._settype(n, LONG)

    def expr_String(self, n, t):
        return self._settype(n, STRING)

    def expr_EmbeddedExpr(self, n, t):
        return self._settype(n, t or LONG)

    def expr_Symbol(self, n, t):
        d = n.referent
        if d is None:
            return self._settype(n, t)
        if d.arity != 0:
            self._set_arity(d, 0, n)     # a plain use makes it a scalar
        if d.type is None and t is not None:
            self._set_decl_type(d, t, n)
        if d.type is not None:
            n.type = d.type
        if self.report and n.type is None:
            # stap reports an untyped use twice (expression and symbol),
            # then the declaration once
            self.errors.append(StapError("unresolved type ", n.loc, tok(n)))
            self.errors.append(StapError("unresolved type ", n.loc, tok(n)))
            self._untyped_decls.append(d)
        return n.type

    def _index_types(self, decl, indexes, node):
        if decl is None:
            for i in indexes:
                self.expect(i, None)
            return
        if not self._set_arity(decl, len(indexes), node):
            return
        if len(decl.index_types) < len(indexes):
            decl.index_types += [None] * (len(indexes) - len(decl.index_types))
        sites = getattr(decl, "_index_sites", None)
        if sites is None:
            sites = decl._index_sites = {}
        for k, i in enumerate(indexes):
            if i is None:
                continue
            it = self.expect(i, decl.index_types[k], index=True)
            if it is None:
                continue
            if it == STATS:
                self._invalid(i, it)
                continue
            if decl.index_types[k] is None:
                decl.index_types[k] = it
                sites[k] = (tok(i), i.loc)
                self.changed = True
            elif decl.index_types[k] != it:
                e = StapError(f"index {k} type mismatch ({it})", i.loc, tok(i))
                s = sites.get(k, (tok(decl), decl.loc))
                e.chain = [StapError(f"type of index {k} was first inferred here "
                                     f"({decl.index_types[k]})", s[1], s[0])]
                self._err(e, ("it", i.loc))

    def expr_ArrayIndex(self, n, t):
        if isinstance(n.base, ast.Symbol):
            d = n.base.referent
            self._index_types(d, n.indexes, n.base)
            if d is not None:
                if d.type is None and t is not None:
                    self._set_decl_type(d, t, n.base)
                n.base.type = d.type
                self._settype(n, d.type)
        else:
            self.expect(n.base, None)
            for i in n.indexes:
                self.expect(i, LONG)
            self._settype(n, LONG)
        return n.type

    def expr_ArrayIn(self, n, t):
        self.expr_ArrayIndex(n.operand, None)
        return self._settype(n, LONG)

    def expr_Binary(self, n, t):
        self.expect(n.left, LONG)
        self.expect(n.right, LONG)
        return self._settype(n, LONG)

    def expr_Unary(self, n, t):
        self.expect(n.operand, LONG)
        return self._settype(n, LONG)

    def expr_PreCrement(self, n, t):
        self.expect(n.operand, LONG)
        return self._settype(n, LONG)

    expr_PostCrement = expr_PreCrement

    def expr_LogicalOr(self, n, t):
        self.expect(n.left, LONG)
        self.expect(n.right, LONG)
        return self._settype(n, LONG)

    expr_LogicalAnd = expr_LogicalOr

    def expr_Comparison(self, n, t):
        lt = self.expect(n.left, None)
        if lt == STATS:
            # a statistic is no value: blamed on it, as stap does
            lt = self.expect(n.left, LONG)
            lt = LONG
        rt = self.expect(n.right, lt)
        if lt is None and rt is not None:
            self.expect(n.left, rt)
        return self._settype(n, LONG)

    def expr_RegexMatch(self, n, t):
        self.expect(n.left, STRING)
        self.expect(n.right, STRING)
        return self._settype(n, LONG)

    def expr_Concat(self, n, t):
        self.expect(n.left, STRING)
        self.expect(n.right, STRING)
        return self._settype(n, STRING)

    def expr_Ternary(self, n, t):
        self.expect(n.cond, LONG)
        a = self.expect(n.truevalue, t)
        if a == STATS:
            a = self.expect(n.truevalue, LONG)
        b = self.expect(n.falsevalue, t or a)
        if a is None and b is not None:
            a = self.expect(n.truevalue, b)
        return self._settype(n, a or b)

    def expr_Assignment(self, n, t):
        op = n.op
        if op == "<<<":
            self._stat_target(n.left)
            self.expect(n.right, LONG)
            return self._settype(n, LONG)
        if op == ".=":
            self.expect(n.left, STRING)
            self.expect(n.right, STRING)
            return self._settype(n, STRING)
        if op != "=":
            self.expect(n.left, LONG)
            self.expect(n.right, LONG)
            return self._settype(n, LONG)
        # infer the value first: a clash is blamed on the target, as stap does
        rt = self.expect(n.right, None)
        if rt == STATS:
            self._invalid(n.right, rt)
            return None
        lt = self.expect(n.left, rt)
        if rt is None and lt is not None:
            rt = self.expect(n.right, lt)
        return self._settype(n, lt or rt)

    def _stat_target(self, e):
        if isinstance(e, ast.Symbol) and e.referent is not None:
            self.expect(e, STATS)
        elif isinstance(e, ast.ArrayIndex):
            self.expect(e, STATS)
        else:
            self.expect(e, STATS)

    def expr_FunctionCall(self, n, t):
        fns = n.referents
        for k, a in enumerate(n.args):
            want = None
            for f in fns:
                if k < len(f.formal_args) and f.formal_args[k].type:
                    want = f.formal_args[k].type
                    break
            got = self.expect(a, want, swap=True)
            if got == STATS:
                if want is None:
                    self._invalid(a, got)
                continue
            if want is None and got is not None:
                for f in fns:
                    if k < len(f.formal_args):
                        self._set_decl_type(f.formal_args[k], got, a)
        rt = None
        for f in fns:
            if f.type:
                rt = f.type
                break
        if rt is None and t is not None and fns:
            for f in fns:
                if f.type is None and not isinstance(f.body, ast.EmbeddedCode):
                    f.type = t
                    f._type_site = (tok(n), n.loc)
                    self.changed = True
            rt = t
        if rt is not None:
            self._settype(n, rt)
        return n.type

    def expr_PrintFormat(self, n, t):
        if n.hist is not None:
            self.expect(n.hist, None)
        wants = printf_arg_types(n.fmt) if n.is_format and n.fmt is not None else []
        untyped = False
        for k, a in enumerate(n.args):
            nerr = len(self.errors)
            if self.expect(a, wants[k] if k < len(wants) else None) is None:
                untyped = True
            if len(self.errors) == nerr + 1 and self.errors[-1].loc == a.loc and \
                    self.errors[-1].message.startswith("type mismatch: expected"):
                # stap checks format arguments twice and says so twice
                self.errors.append(self.errors[-1])
        if self.report and untyped:
            self.errors.append(StapError("unresolved type ", n.loc, f"identifier '{n.print_name}'"))
        return self._settype(n, STRING if not n.to_stream else LONG)

    def expr_StatOp(self, n, t):
        self._stat_target(n.stat)
        return self._settype(n, LONG)

    def expr_HistOp(self, n, t):
        self._stat_target(n.stat)
        return self._settype(n, LONG)

    def expr_TargetSymbol(self, n, t):
        if getattr(n, "_unresolved", False):
            if self.report:
                saved = getattr(n, "_saved_error", None)
                if saved is not None and not getattr(n, "_error_reported", False):
                    n._error_reported = True
                    self.errors.append(saved)
                if saved is None or not getattr(n, "_assign_operand", False):
                    self.errors.append(StapError("unresolved type ", n.loc, tok(n)))
            return None
        for c in n.components:
            if c.index is not None:
                self.expect(c.index, LONG)
        if n.name in ("$$vars", "$$parms", "$$locals", "$$return") or \
                any(c.kind == "pretty" for c in n.components):
            return self._settype(n, STRING)
        return self._settype(n, t or LONG)

    def expr_CastOp(self, n, t):
        self.expect(n.operand, LONG)
        return self._settype(n, t or LONG)

    def expr_AutoCastOp(self, n, t):
        self.expect(n.operand, None)
        return self._settype(n, t or LONG)

    def expr_AtVarOp(self, n, t):
        return self._settype(n, t or LONG)

    def expr_DefinedOp(self, n, t):
        self.expect(n.operand, None)
        return self._settype(n, LONG)

    def expr_EntryOp(self, n, t):
        r = self.expect(n.operand, t)
        return self._settype(n, r)

    def expr_PerfOp(self, n, t):
        return self._settype(n, LONG)

    def expr_ConstOp(self, n, t):
        return self._settype(n, t or LONG)

    def expr_DerefOp(self, n, t):
        self.expect(n.operand, LONG)
        return self._settype(n, LONG)

    # -- statements --------------------------------------------------------
    def visit_ExprStatement(self, s):
        self.expect(s.value, None)

    def visit_IfStatement(self, s):
        self.expect(s.cond, LONG)
        self.visit(s.then)
        if s.else_ is not None:
            self.visit(s.else_)

    def visit_ForLoop(self, s):
        if s.init is not None:
            self.visit(s.init)
        self.expect(s.cond, LONG)
        if s.incr is not None:
            self.visit(s.incr)
        self.visit(s.body)

    def visit_ForeachLoop(self, s):
        if isinstance(s.base, ast.Symbol) and s.base.referent is not None:
            d = s.base.referent
            if self._set_arity(d, len(s.indexes), s.base):
                for k, i in enumerate(s.indexes):
                    if k < len(d.index_types) and d.index_types[k] is not None:
                        self.expect(i, d.index_types[k])
                    else:
                        it = self.expect(i, None)
                        if it is not None and k < len(d.index_types):
                            d.index_types[k] = it
                            self.changed = True
            s.base.type = d.type
            if s.value is not None:
                if d.type == STATS:
                    self._invalid(s.value, STATS)
                else:
                    self.expect(s.value, d.type)
            if s.sort_aggr not in (".", "", None) and d.type not in (None, STATS):
                self._invalid(s.base, d.type)
            if self.report and d.type is None:
                self.errors.append(StapError("unresolved type ", s.base.loc, tok(s.base)))
                self._untyped_decls.append(d)
        else:
            self.expect(s.base, None)
            for i in s.indexes:
                self.expect(i, LONG)
            if s.value is not None:
                self.expect(s.value, LONG)
        if s.array_slice:
            d = s.base.referent if isinstance(s.base, ast.Symbol) else None
            for k, e in enumerate(s.array_slice):
                if e is not None:
                    want = d.index_types[k] if d is not None and k < len(d.index_types) else None
                    self.expect(e, want)
        if s.limit is not None:
            self.expect(s.limit, LONG)
        self.visit(s.body)

    def visit_ReturnStatement(self, s):
        f = self.current_function
        if s.value is None:
            return
        got = self.expect(s.value, None)
        if got == STATS:
            self._invalid(s.value, got)
            return
        if got is None and f is not None and f.type is not None:
            got = self.expect(s.value, f.type)
        if f is not None and f.type is None and got is not None:
            f.type = got
            f._type_site = (tok(s.value), s.value.loc)
            self.changed = True
        elif f is not None and got is not None and f.type != got:
            site = getattr(f, "_type_site", (tok(f), f.loc))
            e = StapError(f"type mismatch ({got})", s.value.loc, tok(s.value))
            e.chain = [StapError(f"type was first inferred here ({f.type})", site[1], site[0])]
            self._err(e, ("rt", s.value.loc))

    def visit_DeleteStatement(self, s):
        v = s.value
        if isinstance(v, ast.ArrayIndex):
            self.expr_ArrayIndex(v, None)
        elif isinstance(v, ast.Symbol):
            # `delete a` works on arrays and scalars alike: no arity from it
            if v.referent is not None and v.referent.type is not None:
                v.type = v.referent.type
            elif v.referent is not None and self.report:
                self.errors.append(StapError("unresolved type ", v.loc, tok(v)))
                self._untyped_decls.append(v.referent)
        else:
            self.expect(v, None)

    def visit_TryBlock(self, s):
        self.visit(s.try_block)
        if s.catch_var is not None:
            self.expect(s.catch_var, STRING)
        self.visit(s.catch_block)

    def generic_visit(self, node):
        for c in node.children():
            if isinstance(c, ast.Expr):
                self.expect(c, None)
            else:
                self.visit(c)


_DECLARED = {"long": LONG, "string": STRING}


def infer_types(session, errors: List[StapError], max_rounds: int = 50,
                report_anyway: bool = False) -> None:
    ti = TypeInference(errors)
    for f in session.functions:
        if f.declared_type and f.type is None:
            f.type = _DECLARED.get(f.declared_type.lstrip(":"), None)
        for p in f.formal_args:
            p.arity = 0
    for g in session.globals:
        if g.init is not None and g.type is None:
            g.type = LONG if isinstance(g.init, ast.Number) or isinstance(g.init, ast.Unary) else STRING
            g.arity = 0 if g.arity == -1 else g.arity
            g.init.type = g.type

    def one_round():
        for f in session.functions:
            if isinstance(f.body, ast.Block):
                ti.current_function = f
                ti.visit(f.body)
        ti.current_function = None
        for p in session.probes:
            if p.condition is not None:
                ti.expect(p.condition, LONG)
            ti.visit(p.body)

    nerr = len(errors)
    for _ in range(max_rounds):
        ti.changed = False
        one_round()
        if not ti.changed or len(errors) > nerr:
            break
    if len(errors) == nerr:
        ti.report = True
        one_round()
        seen = set()
        for d in ti._untyped_decls:
            if id(d) not in seen:
                seen.add(id(d))
                errors.append(StapError("unresolved type ", d.loc, tok(d)))
    else:
        for pos, e in reversed(ti.invalid):
            errors.insert(pos, e)


def check_print_formats(session, errors: List[StapError]) -> None:
    """A *printf needs exactly the arguments its format asks for."""

    class V(ast.Visitor):
        def visit_PrintFormat(self, n):
            self.generic_visit(n)
            if n.is_format and n.fmt is not None and \
                    len(printf_arg_types(n.fmt)) != len(n.args):
                errors.append(StapError("Wrong number of args to formatted print operator",
                                        n.loc, n.tok_desc or f"identifier '{n.print_name}'"))

    for p in session.probes:
        V().visit(p.body)
    for f in session.functions:
        if isinstance(f.body, ast.Node):
            V().visit(f.body)
