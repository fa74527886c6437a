"""stap's pass-2 optimizer, the parts that change the -p2 dump.

- constant folding (`1+2*3` -> 7, `if (0) s` -> nothing, `while (0)`)
- dead assignments: `x = e` to a local that is never read becomes `e`
  ("WARNING: Eliding assignment to 'x'")
- side-effect-free expression statements are dropped ("WARNING: Eliding
  side-effect-free expression : TOKEN"); a call is side-effect free when its
  function is (embedded code marked /* pure */, or a script function that
  writes no global, prints nothing and calls only pure functions)
- nested blocks are flattened; a one-statement block becomes the statement
- probes left empty are dropped ("WARNING: Probe 'P' has been elided")
- then unused locals, functions and globals are pruned silently.
Warnings are only emitted in the first round, as stap does.
`-u` (options.unoptimized) skips all of it.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Set

from .. import ast

_MASK = (1 << 64) - 1


def _s64(v: int) -> int:
    v &= _MASK
    return v - (1 << 64) if v >> 63 else v


def leftmost(e: ast.Node) -> ast.Node:
    """The node of the first token of an expression (stap reports a
    statement at its first token)."""
    while True:
        if isinstance(e, (ast.Binary, ast.Assignment, ast.LogicalOr, ast.LogicalAnd,
                          ast.Comparison, ast.Concat, ast.RegexMatch)):
            e = e.left
        elif isinstance(e, ast.Ternary):
            e = e.cond
        elif isinstance(e, ast.PostCrement):
            e = e.operand
        elif isinstance(e, ast.ArrayIndex) and isinstance(e.base, ast.Symbol):
            e = e.base
        else:
            return e


def tokdesc(n: ast.Node) -> str:
    from .types import tok
    return tok(n)


def _num(v: int, like: ast.Node) -> ast.Number:
    v = _s64(v)
    return ast.Number(v, str(v), loc=like.loc, tok_desc=f"number '{v}'", type="long")


class ConstFolder(ast.Transformer):
    def __init__(self):
        self.changed = False

    def visit_Binary(self, n):
        self.generic_visit(n)
        l, r = n.left, n.right
        if isinstance(l, ast.Number) and isinstance(r, ast.Number):
            a, b = l.value, r.value
            op = n.op
            try:
                if op == "+": v = a + b
                elif op == "-": v = a - b
                elif op == "*": v = a * b
                elif op == "/":
                    if b == 0:
                        return n
                    v = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
                elif op == "%":
                    if b == 0:
                        return n
                    v = abs(a) % abs(b) * (1 if a >= 0 else -1)
                elif op == "<<": v = a << (b & 63)
                elif op == ">>": v = a >> (b & 63)
                elif op == ">>>": v = (a & _MASK) >> (b & 63)
                elif op == "&": v = a & b
                elif op == "|": v = a | b
                elif op == "^": v = a ^ b
                else:
                    return n
            except Exception:
                return n
            self.changed = True
            return _num(v, n)
        return n

    def visit_Unary(self, n):
        self.generic_visit(n)
        if isinstance(n.operand, ast.Number):
            a = n.operand.value
            v = {"-": -a, "+": a, "!": int(not a), "~": ~a}.get(n.op)
            if v is not None:
                self.changed = True
                return _num(v, n)
        return n

    def visit_Comparison(self, n):
        self.generic_visit(n)
        l, r = n.left, n.right
        if (isinstance(l, ast.Number) and isinstance(r, ast.Number)) or \
                (isinstance(l, ast.String) and isinstance(r, ast.String)):
            a, b = l.value, r.value
            v = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
                 ">": a > b, ">=": a >= b}.get(n.op)
            if v is not None:
                self.changed = True
                return _num(int(v), n)
        return n

    def visit_Concat(self, n):
        self.generic_visit(n)
        if isinstance(n.left, ast.String) and isinstance(n.right, ast.String):
            self.changed = True
            v = n.left.value + n.right.value
            return ast.String(v, loc=n.left.loc, tok_desc=f"string '{v}'", type="string")
        return n

    def visit_LogicalAnd(self, n):
        self.generic_visit(n)
        if isinstance(n.left, ast.Number):
            if not n.left.value:
                self.changed = True
                return _num(0, n)
            if isinstance(n.right, ast.Number):
                self.changed = True
                return _num(int(bool(n.right.value)), n)
        return n

    def visit_LogicalOr(self, n):
        self.generic_visit(n)
        if isinstance(n.left, ast.Number):
            if n.left.value:
                self.changed = True
                return _num(1, n)
            if isinstance(n.right, ast.Number):
                self.changed = True
                return _num(int(bool(n.right.value)), n)
        return n

    def visit_Ternary(self, n):
        self.generic_visit(n)
        if isinstance(n.cond, ast.Number):
            self.changed = True
            return n.truevalue if n.cond.value else n.falsevalue
        return n

    def visit_IfStatement(self, s):
        self.generic_visit(s)
        if isinstance(s.cond, ast.Number):
            self.changed = True
            if s.cond.value:
                return s.then
            return s.else_ if s.else_ is not None else ast.Block([], loc=s.loc)
        return s

    def visit_ForLoop(self, s):
        self.generic_visit(s)
        if isinstance(s.cond, ast.Number) and not s.cond.value:
            self.changed = True
            return s.init if s.init is not None else ast.Block([], loc=s.loc)
        return s


class Flattener(ast.Transformer):
    """Splice nested blocks; one-statement blocks in statement position
    become the statement; empty ones a null statement; an `if` left with
    nothing to do and a pure condition disappears."""

    def __init__(self, pure=None):
        self.changed = False
        self.pure = pure

    def visit_Block(self, b):
        self.generic_visit(b)
        out = []
        for s in b.statements:
            if isinstance(s, ast.Block):
                out.extend(s.statements)
                self.changed = True
            elif isinstance(s, ast.NullStatement):
                self.changed = True
            else:
                out.append(s)
        b.statements = out
        return b

    def _reduce(self, s):
        if isinstance(s, ast.Block):
            if len(s.statements) == 1:
                self.changed = True
                return s.statements[0]
            if not s.statements:
                self.changed = True
                return ast.NullStatement(loc=s.loc)
        return s

    def visit_IfStatement(self, s):
        self.generic_visit(s)
        s.then = self._reduce(s.then)
        if s.else_ is not None:
            s.else_ = self._reduce(s.else_)
            if isinstance(s.else_, ast.NullStatement):
                s.else_ = None
        if isinstance(s.then, ast.NullStatement) and s.else_ is None \
                and self.pure is not None and self.pure(s.cond):
            # nothing left to do either way
            self.changed = True
            return ast.Block([], loc=s.loc)
        return s

    def visit_ForLoop(self, s):
        self.generic_visit(s)
        s.body = self._reduce(s.body)
        return s

    def visit_ForeachLoop(self, s):
        self.generic_visit(s)
        s.body = self._reduce(s.body)
        return s


class _ReadsWrites(ast.Visitor):
    """Collects ids of VarDecls read / written (see _reads_writes)."""

    def __init__(self, reads, writes, rmw_reads):
        self.reads, self.writes, self.rmw_reads = reads, writes, rmw_reads
        # The expression a statement consists of: its value is discarded.
        # `x++;` or `x += 1;` alone does not read x for stap's write-only
        # check, but `if (++x == 3)` or `y = x++` does.
        self._discarded = None

    def visit_ExprStatement(self, n):
        self._discarded = n.value
        self.visit(n.value)

    def _rmw_reads(self, n) -> bool:
        return self.rmw_reads or n is not self._discarded

    def visit_Assignment(self, n):
        tgt = n.left
        rmw_read = n.op not in ("=", "<<<") and self._rmw_reads(n)
        if isinstance(tgt, ast.Symbol):
            if tgt.referent is not None:
                self.writes.add(id(tgt.referent))
                if rmw_read:
                    self.reads.add(id(tgt.referent))
        elif isinstance(tgt, ast.ArrayIndex) and isinstance(tgt.base, ast.Symbol):
            if tgt.base.referent is not None:
                self.writes.add(id(tgt.base.referent))
                if rmw_read:
                    self.reads.add(id(tgt.base.referent))
            for i in tgt.indexes:
                if i is not None:
                    self.visit(i)
        else:
            self.visit(tgt)
        self.visit(n.right)

    def _rw(self, operand, read: bool):
        if isinstance(operand, ast.Symbol) and operand.referent is not None:
            if read:
                self.reads.add(id(operand.referent))
            self.writes.add(id(operand.referent))
        elif isinstance(operand, ast.ArrayIndex) and isinstance(operand.base, ast.Symbol) \
                and operand.base.referent is not None:
            if read:
                self.reads.add(id(operand.base.referent))
            self.writes.add(id(operand.base.referent))
            for i in operand.indexes:
                if i is not None:
                    self.visit(i)
        else:
            self.visit(operand)

    def visit_PreCrement(self, n):
        self._rw(n.operand, self._rmw_reads(n))

    visit_PostCrement = visit_PreCrement

    def visit_DeleteStatement(self, n):
        # stap counts a delete as a use: a deleted global is not
        # printed at exit
        v = n.value
        if isinstance(v, ast.Symbol) and v.referent is not None:
            self.writes.add(id(v.referent))
            self.reads.add(id(v.referent))
        elif isinstance(v, ast.ArrayIndex) and isinstance(v.base, ast.Symbol) \
                and v.base.referent is not None:
            self.writes.add(id(v.base.referent))
            self.reads.add(id(v.base.referent))
            for i in v.indexes:
                if i is not None:
                    self.visit(i)
        else:
            self.visit(v)

    def visit_ForeachLoop(self, n):
        for i in n.indexes:
            if i.referent is not None:
                self.writes.add(id(i.referent))
        if n.value is not None and n.value.referent is not None:
            self.writes.add(id(n.value.referent))
        self.visit(n.base)
        for e in (n.array_slice or []):
            if e is not None:
                self.visit(e)
        if n.limit is not None:
            self.visit(n.limit)
        self.visit(n.body)

    def visit_TryBlock(self, n):
        if n.catch_var is not None and n.catch_var.referent is not None:
            self.writes.add(id(n.catch_var.referent))
        self.visit(n.try_block)
        self.visit(n.catch_block)

    def visit_Symbol(self, n):
        if n.referent is not None:
            self.reads.add(id(n.referent))



def _reads_writes(node, reads: Set[int], writes: Set[int], rmw_reads: bool = True) -> None:
    """ids of VarDecls read / written anywhere under node.  rmw_reads:
    whether `x += e` / `x++` count as reading x (for locals yes; stap's
    write-only-global check says no)."""

    _ReadsWrites(reads, writes, rmw_reads).visit(node)


class Optimizer:
    def __init__(self, session, warn: Callable[[str, ast.Node], None]):
        self.s = session
        self.warn = warn
        self.emit = True
        self._pure_cache: Dict[int, bool] = {}

    # -- purity ------------------------------------------------------------
    def fn_pure(self, f: ast.FunctionDecl, stack=()) -> bool:
        k = id(f)
        if k in self._pure_cache:
            return self._pure_cache[k]
        if k in stack:
            return False
        if isinstance(f.body, ast.EmbeddedCode):
            r = "/* pure */" in f.body.code
        else:
            r = self.stmt_pure(f.body, stack + (k,), fn=f)
        self._pure_cache[k] = r
        return r

    def stmt_pure(self, node, stack=(), fn=None) -> bool:
        locals_ids = {id(v) for v in (fn.locals + fn.formal_args)} if fn is not None else set()
        ok = [True]
        opt = self

        class P(ast.Visitor):
            def _target_ok(self, t):
                if isinstance(t, ast.Symbol):
                    return t.referent is not None and id(t.referent) in locals_ids
                return False

            def visit_Assignment(self, n):
                if fn is None or not self._target_ok(n.left):
                    ok[0] = False
                self.generic_visit(n)

            def visit_PreCrement(self, n):
                if fn is None or not self._target_ok(n.operand):
                    ok[0] = False

            visit_PostCrement = visit_PreCrement

            def visit_PrintFormat(self, n):
                if n.to_stream:
                    ok[0] = False
                self.generic_visit(n)

            def visit_FunctionCall(self, n):
                if not n.referents or not all(opt.fn_pure(f, stack) for f in n.referents):
                    ok[0] = False
                self.generic_visit(n)

            def visit_EmbeddedExpr(self, n):
                ok[0] = False

            def visit_EmbeddedCode(self, n):
                ok[0] = False

            def visit_DeleteStatement(self, n):
                ok[0] = False

            def visit_ForeachLoop(self, n):
                if fn is None:
                    ok[0] = False
                self.generic_visit(n)

            def visit_ForLoop(self, n):
                if fn is None:
                    ok[0] = False
                self.generic_visit(n)

            def visit_NextStatement(self, n):
                ok[0] = False

        P().visit(node)
        return ok[0]

    # -- passes ------------------------------------------------------------
    def bodies(self):
        """(owner, body-holder) probes first, then functions (stap's order)."""
        for p in self.s.probes:
            yield p, p
        for f in self.s.functions:
            if isinstance(f.body, ast.Block):
                yield f, f

    def dead_assignments(self) -> bool:
        changed = False
        for owner, _ in self.bodies():
            reads, writes = set(), set()
            _reads_writes(owner.body, reads, writes)
            if getattr(owner, "condition", None) is not None:
                _reads_writes(owner.condition, reads, writes)
            local_ids = {id(v) for v in owner.locals}
            if isinstance(owner, ast.FunctionDecl):
                local_ids |= {id(v) for v in owner.formal_args}
            d = _DeadAssignments(self, local_ids, reads)
            d.visit(owner.body)
            changed |= d.changed
        return changed

    def void_statements(self) -> bool:
        changed = False
        for owner, _ in self.bodies():
            v = _VoidStatements(self)
            v.visit(owner.body)
            changed |= v.changed
        return changed

    def expr_pure(self, e) -> bool:
        p = _PureExpr(self)
        p.visit(e)
        return p.ok

    def run(self) -> None:
        for rnd in range(20):
            self.emit = rnd == 0
            self._pure_cache = {}
            changed = False
            for owner, _ in self.bodies():
                cf = ConstFolder()
                owner.body = cf.visit(owner.body)
                changed |= cf.changed
            changed |= self.dead_assignments()
            changed |= self.void_statements()
            for owner, _ in self.bodies():
                fl = Flattener(self.expr_pure)
                owner.body = fl.visit(owner.body)
                if not isinstance(owner.body, ast.Block):
                    owner.body = ast.Block([owner.body], loc=owner.body.loc)
                changed |= fl.changed
            if not changed:
                break

    def elide_empty_probes(self) -> None:
        kept = []
        for p in self.s.probes:
            if not p.body.statements and not (getattr(p.resolved, "spec", None) or {}).get("counter"):
                # (a perf .counter("name") point is kept: @perf reads it)
                origin = p.origin
                up = getattr(p, "user_point", None)
                # stap names the probe by its family, and blames the user's
                # point when an alias was involved, else the `probe` keyword
                name = p.point.components[0].functor
                if len(p.derivation) > 1 and up is not None:
                    c0 = up.components[0]
                    self.warn(f"Probe '{name}' has been elided", c0,
                              f"identifier '{c0.functor}'")
                elif origin is not None:
                    self.warn(f"Probe '{name}' has been elided", origin,
                              origin.tok_desc or "keyword")
                continue
            kept.append(p)
        self.s.probes = kept


def _pp_text(point) -> str:
    from .dump import point_text
    return point_text(point, flags=False, condition=False)


def prune_locals(owner) -> None:
    used = set()

    class U(ast.Visitor):
        def visit_Symbol(self, n):
            if n.referent is not None:
                used.add(id(n.referent))

    U().visit(owner.body)
    if getattr(owner, "condition", None) is not None:
        U().visit(owner.condition)
    owner.locals = [v for v in owner.locals if id(v) in used]


class _DeadAssignments(ast.Transformer):
    """`x = e` to a local nobody reads becomes `e`."""

    def __init__(self, opt, local_ids, reads):
        self.opt, self.local_ids, self.reads = opt, local_ids, reads
        self.changed = False

    def visit_ExprStatement(self, s):
        if not hasattr(s, "_first"):
            s._first = leftmost(s.value)
        return self.generic_visit(s)

    def visit_Assignment(self, n):
        self.generic_visit(n)
        t = n.left
        if n.op in ("=", "<<<") and isinstance(t, ast.Symbol) and t.referent is not None \
                and id(t.referent) in self.local_ids and id(t.referent) not in self.reads:
            if self.opt.emit:
                self.opt.warn(f"Eliding assignment to '{t.name}'", n, n.tok_desc or "operator '='")
            self.changed = True
            return n.right
        return n


class _VoidStatements(ast.Transformer):
    """Expression statements without side effects are dropped."""

    def __init__(self, opt):
        self.opt = opt
        self.changed = False

    def visit_ExprStatement(self, s):
        if self.opt.expr_pure(s.value):
            first = getattr(s, "_first", None) or leftmost(s.value)
            if self.opt.emit:
                self.opt.warn("Eliding side-effect-free expression ", first, tokdesc(first))
            self.changed = True
            return ast.Block([], loc=s.loc)
        return s


class _PureExpr(ast.Visitor):
    def __init__(self, opt):
        self.opt = opt
        self.ok = True

    def visit_Assignment(self, n):
        self.ok = False

    def visit_PreCrement(self, n):
        # `1++` / `f()++` change nothing: stap elides them as side-effect
        # free (only a variable or array element is incremented)
        if isinstance(n.operand, (ast.Symbol, ast.ArrayIndex, ast.TargetSymbol)):
            self.ok = False
        else:
            self.generic_visit(n)

    visit_PostCrement = visit_PreCrement

    def visit_PrintFormat(self, n):
        if n.to_stream:
            self.ok = False
        self.generic_visit(n)

    def visit_FunctionCall(self, n):
        if not n.referents or not all(self.opt.fn_pure(f) for f in n.referents):
            self.ok = False
        self.generic_visit(n)

    def visit_EmbeddedExpr(self, n):
        self.ok = False
