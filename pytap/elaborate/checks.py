"""stap's pass-2 checks beyond symbol and type resolution.

Each runs at the point of stap's semantic pass where stap makes it, so a
script with several faults reports what stap reports:

  stap's conditions pass    check_conditions: probe-point conditions read
                            globals only, call nothing, modify nothing
  then                      check_lvalues (assignment targets)
  after optimization        check_deletes (`delete` operands)
  after type resolution     check_after_types, in order (each stage stops
                            the pass when it finds something): `%` on
                            scalars, statistics in locals, regex syntax,
                            arrays modified inside their own foreach, two
                            histogram kinds on one statistic
"""
from __future__ import annotations

from typing import Callable, Iterable, List

from .. import ast
from ..diagnostics import StapError
from .regexcheck import check_regex


def _bodies(session) -> Iterable[ast.Node]:
    for p in session.probes:
        yield p.body
    for f in session.functions:
        if isinstance(f.body, ast.Block):
            yield f.body


def _ident(name: str) -> str:
    return f"identifier '{name}'"


def _tok(node) -> str:
    from .types import tok
    return tok(node)


def _is_lvalue(e) -> bool:
    if isinstance(e, ast.Symbol):
        return True
    if isinstance(e, ast.ArrayIndex):
        return isinstance(e.base, ast.Symbol)
    # target variables, @cast, @var: writable in guru mode; the target
    # checks say more about them
    return isinstance(e, (ast.TargetSymbol, ast.CastOp, ast.AtVarOp, ast.AutoCastOp,
                          ast.EntryOp))


def _culprit(e):
    """The token stap names for a non-lvalue: the histogram operator of
    `@hist_log(s)[i]`, else the expression's own token."""
    if isinstance(e, ast.ArrayIndex) and isinstance(e.base, ast.HistOp):
        return e.base
    if _tok(e):
        return e            # its own token: the operator of `a ? b : c`
    from .optimize import leftmost
    return leftmost(e)


# -- after symbol resolution -----------------------------------------------

def check_lvalues(session, errors: List[StapError]) -> None:
    class V(ast.Visitor):
        def visit_Assignment(self, n):
            self.generic_visit(n)
            if not _is_lvalue(n.left):
                e = StapError("Expecting lvalue for assignment", n.loc,
                              n.tok_desc or f"operator '{n.op}'")
                c = _culprit(n.left)
                e.extra_tokens = [(_tok(c), c.loc)]
                errors.append(e)

    for b in _bodies(session):
        V().visit(b)


def check_deletes(session, errors: List[StapError]) -> None:
    class V(ast.Visitor):
        def visit_DeleteStatement(self, s):
            self.generic_visit(s)
            v = s.value
            if not isinstance(v, (ast.Symbol, ast.ArrayIndex)):
                from .optimize import leftmost
                c = leftmost(v)
                errors.append(StapError("invalid operand of delete expression", c.loc, _tok(c)))

    for b in _bodies(session):
        V().visit(b)


# -- stap's semantic_pass_conditions ----------------------------------------

def check_conditions(session, errors: List[StapError]) -> None:
    seen = set()

    class V(ast.Visitor):
        def _modifies(self, n):
            errors.append(StapError("probe condition must not modify any variables",
                                    n.loc, n.tok_desc or f"operator '{n.op}'"))

        def visit_Assignment(self, n):
            self._modifies(n)
            self.generic_visit(n)

        def visit_PreCrement(self, n):
            self._modifies(n)
            self.generic_visit(n)

        visit_PostCrement = visit_PreCrement

        def visit_FunctionCall(self, n):
            errors.append(StapError("probe condition must not reference function",
                                    n.loc, _ident(n.name)))
            self.generic_visit(n)

        def visit_Symbol(self, n):
            d = n.referent
            if d is not None and not getattr(d, "_is_global", False) \
                    and not getattr(d, "_global_decl", False):
                errors.append(StapError("probe condition must not reference undeclared global",
                                        n.loc, _ident(n.name)))

        def visit_EmbeddedExpr(self, n):
            if "/* pure */" not in n.code:
                errors.append(StapError("probe condition must not include impure embedded-C",
                                        n.loc, n.tok_desc or "embedded-code"))

    for p in session.probes:
        c = p.condition
        if c is None or id(c) in seen:
            continue
        seen.add(id(c))
        V().visit(c)


# -- after type resolution --------------------------------------------------

def check_after_types(session, errors: List[StapError]) -> None:
    stages: List[Callable] = [_wrapped_scalars, _stat_locals, _regexes,
                              _foreach_modifications, _histogram_kinds]
    for stage in stages:
        stage(session, errors)
        if errors:
            return


def _wrapped_scalars(session, errors):
    for g in session.globals:
        if g.wrap and g.arity == 0:
            errors.append(StapError("wrapping not supported for scalars", g.loc, _ident(g.name)))


def _stat_locals(session, errors):
    owners = list(session.probes) + [f for f in session.functions
                                     if isinstance(f.body, ast.Block)]
    for o in owners:
        for v in o.locals:
            if v.type == "stats":
                errors.append(StapError("stat locals not supported, missing global declaration? ",
                                        v.loc, _ident(v.name)))


def _regexes(session, errors):
    class V(ast.Visitor):
        def visit_RegexMatch(self, n):
            self.generic_visit(n)
            r = n.right
            if isinstance(r, ast.String):
                e = check_regex(r.value)
                if e is not None:
                    errors.append(StapError(e.text(), r.loc, _tok(r)))

    for b in _bodies(session):
        V().visit(b)


def _modified_globals(fn) -> List[ast.VarDecl]:
    """Globals a function's own body modifies (stap does not follow the
    calls it makes, nor count `delete` of a whole array)."""
    out: List[ast.VarDecl] = []

    def add(sym):
        d = getattr(sym, "referent", None)
        if d is not None and getattr(d, "_is_global", False) and all(d is not x for x in out):
            out.append(d)

    class V(ast.Visitor):
        def visit_Assignment(self, n):
            self.generic_visit(n)
            add(_target_symbol(n.left))

        def visit_PreCrement(self, n):
            self.generic_visit(n)
            add(_target_symbol(n.operand))

        visit_PostCrement = visit_PreCrement

        def visit_DeleteStatement(self, s):
            self.generic_visit(s)
            if isinstance(s.value, ast.ArrayIndex):
                add(_target_symbol(s.value))

    if isinstance(fn.body, ast.Block):
        V().visit(fn.body)
    return out


def _target_symbol(e):
    if isinstance(e, ast.Symbol):
        return e
    if isinstance(e, ast.ArrayIndex) and isinstance(e.base, ast.Symbol):
        return e.base
    return None


def _foreach_modifications(session, errors):
    fn_mods = {}

    order = {id(g): i for i, g in enumerate(session.globals)}

    def mods_of(fn):
        if id(fn) not in fn_mods:
            fn_mods[id(fn)] = sorted(_modified_globals(fn), key=lambda d: order.get(id(d), 0))
        return fn_mods[id(fn)]

    class V(ast.Visitor):
        def __init__(self):
            self.iterating: List[ast.VarDecl] = []

        def _busy(self, d) -> bool:
            return d is not None and any(d is x for x in self.iterating)

        def _check(self, e):
            s = _target_symbol(e)
            if s is not None and self._busy(s.referent):
                errors.append(StapError(f"variable '{s.name}' modified during 'foreach' iteration",
                                        s.loc, _ident(s.name)))

        def visit_ForeachLoop(self, s):
            for c in s.children():
                if c is not s.body:
                    self.visit(c)
            base = s.base.referent if isinstance(s.base, ast.Symbol) else None
            if base is not None:
                self.iterating.append(base)
            self.visit(s.body)
            if base is not None:
                self.iterating.pop()

        def visit_Assignment(self, n):
            self.generic_visit(n)
            self._check(n.left)

        def visit_PreCrement(self, n):
            self.generic_visit(n)
            self._check(n.operand)

        visit_PostCrement = visit_PreCrement

        def visit_DeleteStatement(self, s):
            self.generic_visit(s)
            if isinstance(s.value, ast.ArrayIndex):
                self._check(s.value)

        def visit_FunctionCall(self, n):
            self.generic_visit(n)
            if not self.iterating:
                return
            for f in n.referents:
                for d in mods_of(f):
                    if self._busy(d):
                        errors.append(StapError(
                            f"function call modifies var '{d.name}' during 'foreach' iteration",
                            n.loc, _ident(n.name)))

    for b in _bodies(session):
        V().visit(b)


def _histogram_kinds(session, errors):
    kinds = {}

    class V(ast.Visitor):
        def visit_HistOp(self, n):
            self.generic_visit(n)
            s = _target_symbol(n.stat)
            d = s.referent if s is not None else None
            if d is None:
                return
            kind = (n.kind, tuple(n.params))
            first = kinds.setdefault(id(d), kind)
            if first != kind:
                errors.append(StapError(f"multiple histogram types declared on '__global_{d.name}'",
                                        n.loc, n.tok_desc or f"operator '@hist_{n.kind}'"))

    for b in _bodies(session):
        V().visit(b)
