"""BPF with a user-space continuation: what a user-mode handler's BPF stub
evaluates for the interpreter.

A kernel-event handler that must run in user space (foreach, aggregate
reads, regex ...) still fires in BPF: its stub sends a trigger record and
the interpreter runs the handler when it reads that record.  Everything the
handler reads from the kernel context must be evaluated by the stub, at the
event, and sent with the record.  This module decides what.

Rules (DESIGN.md "Capture plan"):
- A *kernel node* needs the kernel context: a target variable ($x, $x->m),
  `@entry(...)`, a `@cast`/`(expr)->m` read, `@kderef`/`@uderef`,
  `@kregister`/`@uregister`, `@var`, a call of a `/* kernel-only */` or
  `/* capture */` native or a `kernel_*` reader, or of a side-effect-free
  script function that contains such nodes (`__bio_devname($bio)`).
- An expression is *event-determined* when its value depends only on the
  event: literals, target variables (not written by the handler), @entry
  (evaluated at entry anyway), operators over such values, calls of
  side-effect-free functions on such values (natives marked `/* pure */`,
  `/* kernel-only */`, `/* capture */` or kernel readers; script functions
  that touch no global, print nothing and do not `next`), and locals with
  one definition `v = E` (E event-determined) that dominates the read (the
  definition is a statement of a block, the read comes later in it).
- The stub evaluates every outermost kernel node that is event-determined
  (a *capture*), plus the definitions of the locals captures read (bind
  steps), in source order.  All of them are free of side effects, so
  evaluating them up front, also those in branches the handler will not
  take, changes nothing the script can observe -- except errors: a step
  that fails (a bad pointer) does not abort the stub; its error is sent
  with the record and raised by the interpreter when, and only if, it
  evaluates that node (deferred errors keep stap's order and branches).
- A kernel node that is not event-determined (a target index that is a
  script variable, a kernel-only function applied to a value only known in
  user space: pid2task(pid) with pid from a foreach) is *refused*: pass 3
  reports it, naming the function or variable and why.
Captures inside called script functions (task_current() in a helper) are
taken when they do not depend on the function's parameters: they have one
value per event, whatever the call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set

from .. import ast

_OPERATORS = (ast.Binary, ast.Unary, ast.Comparison, ast.LogicalAnd, ast.LogicalOr,
              ast.Ternary, ast.Concat)


@dataclass
class Step:
    """One expression the BPF stub evaluates."""
    node: ast.Expr
    captured: bool                     # its value goes to user space
    bind: Optional[ast.VarDecl] = None  # the local it defines (for later steps)
    uses: Set[int] = field(default_factory=set)   # id() of bound locals it reads


@dataclass
class Refusal:
    node: ast.Node
    why: str


@dataclass
class CapturePlan:
    steps: List[Step] = field(default_factory=list)
    refused: List[Refusal] = field(default_factory=list)

    @property
    def captures(self) -> List[Step]:
        return [s for s in self.steps if s.captured]


def _native_code(decl) -> Optional[str]:
    body = getattr(decl, "body", None)
    if isinstance(body, ast.EmbeddedCode):
        return body.code or ""
    return None


def native_needs_kernel(decl) -> bool:
    code = _native_code(decl)
    if code is None:
        return False
    return ("/* kernel-only */" in code or "/* capture */" in code
            or (decl.name.startswith("kernel_") and "/* bpf */" in code))


def _native_safe(decl) -> bool:
    code = _native_code(decl)
    if code is None or "/* user */" in code:
        return False
    # error() in a captured function is a failed read: the stub defers it
    # to where the handler uses the value, like any other read error
    return (decl.name == "error" or "/* pure */" in code or native_needs_kernel(decl))


def _is_global(decl) -> bool:
    return bool(getattr(decl, "_is_global", False))


class _Facts:
    """Per-program memo: which script functions are side-effect free and
    which need the kernel context."""

    def __init__(self):
        self.safe: Dict[int, bool] = {}
        self.needs: Dict[int, bool] = {}

    def callee(self, call) -> Optional[ast.FunctionDecl]:
        return call.referents[0] if getattr(call, "referents", None) else None

    def fn_safe(self, decl) -> bool:
        if _native_code(decl) is not None:
            return _native_safe(decl)
        k = id(decl)
        if k in self.safe:
            return self.safe[k]
        self.safe[k] = False          # recursion is not safe
        ok = True
        facts = self

        class V(ast.Visitor):
            def bad(self, _n):
                nonlocal ok
                ok = False

            def visit_Symbol(self, n):
                if n.referent is not None and _is_global(n.referent):
                    self.bad(n)

            visit_ArrayIndex = visit_ArrayIn = visit_StatOp = visit_HistOp = bad
            visit_ForeachLoop = visit_DeleteStatement = visit_NextStatement = bad
            visit_EmbeddedExpr = visit_ProbeWriteOp = bad

            def visit_PrintFormat(self, n):
                if getattr(n, "to_stream", True):
                    self.bad(n)
                else:
                    self.generic_visit(n)

            def visit_FunctionCall(self, n):
                d = facts.callee(n)
                if d is None or not facts.fn_safe(d):
                    self.bad(n)
                self.generic_visit(n)
        V().visit(decl.body)
        self.safe[k] = ok
        return ok

    def fn_needs_kernel(self, decl) -> bool:
        if _native_code(decl) is not None:
            return native_needs_kernel(decl)
        k = id(decl)
        if k in self.needs:
            return self.needs[k]
        self.needs[k] = False
        found = False
        facts = self

        class V(ast.Visitor):
            def hit(self, _n):
                nonlocal found
                found = True
            visit_TargetSymbol = visit_EntryOp = visit_DerefOp = visit_RegisterOp = hit
            visit_AtVarOp = hit

            def visit_CastOp(self, n):
                if not n.addressof:
                    self.hit(n)
                self.generic_visit(n)
            visit_AutoCastOp = visit_CastOp

            def visit_FunctionCall(self, n):
                d = facts.callee(n)
                if d is not None and facts.fn_needs_kernel(d):
                    self.hit(n)
                self.generic_visit(n)
        V().visit(decl.body)
        self.needs[k] = found
        return found


class _Modifications(ast.Visitor):
    """How often each local is written, and its plain `v = E` definition;
    which target variables the handler writes."""

    def __init__(self, facts: _Facts):
        self.facts = facts
        self.count: Dict[int, int] = {}
        self.written_targets: Set[int] = set()
        self.seen_fns: Set[int] = set()

    def _mod(self, target):
        if isinstance(target, ast.Symbol) and target.referent is not None:
            k = id(target.referent)
            self.count[k] = self.count.get(k, 0) + 1
        elif isinstance(target, ast.TargetSymbol):
            self.written_targets.add(id(target))

    def visit_Assignment(self, n):
        self._mod(n.left)
        self.generic_visit(n)

    def visit_PreCrement(self, n):
        self._mod(n.operand)
        self.generic_visit(n)
    visit_PostCrement = visit_PreCrement

    def visit_DeleteStatement(self, n):
        self._mod(n.value)
        self.generic_visit(n)

    def visit_ForeachLoop(self, n):
        for s in list(n.indexes or []) + ([n.value] if n.value is not None else []):
            self._mod(s)
        self.generic_visit(n)

    def visit_TryBlock(self, n):
        if n.catch_var is not None:
            self._mod(n.catch_var)
        self.generic_visit(n)

    def visit_FunctionCall(self, n):
        d = self.facts.callee(n)
        if d is not None and isinstance(d.body, ast.Block) and id(d) not in self.seen_fns:
            self.seen_fns.add(id(d))
            self.visit(d.body)
        self.generic_visit(n)


class _Analysis:
    def __init__(self, body):
        self.facts = _Facts()
        self.mods = _Modifications(self.facts)
        self.mods.visit(body)
        self.plan = CapturePlan()
        self.visited_fns: Set[int] = set()
        self.binds: Dict[int, Step] = {}

    # -------------------------------------------------- classification
    def kernel_node(self, e) -> bool:
        if isinstance(e, (ast.TargetSymbol, ast.EntryOp, ast.DerefOp, ast.RegisterOp, ast.AtVarOp)):
            return True
        if isinstance(e, (ast.CastOp, ast.AutoCastOp)):
            return not e.addressof
        if isinstance(e, ast.FunctionCall):
            d = self.facts.callee(e)
            if d is None:
                return False
            if _native_code(d) is not None:
                return native_needs_kernel(d)
            return self.facts.fn_safe(d) and self.facts.fn_needs_kernel(d)
        return False

    def _components_ed(self, comps, avail) -> bool:
        return all(c.index is None or not isinstance(c.index, ast.Expr) or self.ed(c.index, avail)
                   for c in comps or [])

    def ed(self, e, avail) -> bool:
        """Event-determined: the value depends only on the event."""
        if isinstance(e, (ast.Number, ast.String, ast.ConstOp)):
            return True
        if isinstance(e, ast.EntryOp):
            return True
        if isinstance(e, ast.TargetSymbol):
            return id(e) not in self.mods.written_targets and self._components_ed(e.components, avail)
        if isinstance(e, ast.Symbol):
            return e.referent is not None and id(e.referent) in avail
        if isinstance(e, _OPERATORS):
            return all(self.ed(c, avail) for c in e.children())
        if isinstance(e, (ast.CastOp, ast.AutoCastOp)):
            return self.ed(e.operand, avail) and self._components_ed(e.components, avail)
        if isinstance(e, ast.AtVarOp):
            return self._components_ed(e.components, avail)
        if isinstance(e, (ast.DerefOp, ast.RegisterOp)):
            return self.ed(e.operand, avail)
        if isinstance(e, ast.FunctionCall):
            d = self.facts.callee(e)
            return d is not None and self.facts.fn_safe(d) and all(self.ed(a, avail) for a in e.args)
        return False

    def uses(self, e) -> Set[int]:
        out: Set[int] = set()
        binds = self.binds

        class V(ast.Visitor):
            def visit_Symbol(self, n):
                if n.referent is not None and id(n.referent) in binds:
                    out.add(id(n.referent))
        V().visit(e)
        return out

    # -------------------------------------------------- walk
    def stmt(self, s, avail: Set[int]):
        if isinstance(s, ast.Block):
            inner = set(avail)
            for x in s.statements:
                self.stmt(x, inner)
                d = self._definition(x, inner)
                if d is not None:
                    inner.add(d)
            return
        if isinstance(s, ast.ExprStatement):
            self.expr(s.value, avail)
            return
        for c in s.children():
            if isinstance(c, ast.Stmt):
                self.stmt(c, avail)
            else:
                self.expr(c, avail)

    def _definition(self, s, avail) -> Optional[int]:
        """`v = E` as a block statement: the local v becomes event-determined
        for the rest of the block when E is and v has no other write."""
        if not isinstance(s, ast.ExprStatement) or not isinstance(s.value, ast.Assignment):
            return None
        a = s.value
        if a.op != "=" or not isinstance(a.left, ast.Symbol) or a.left.referent is None:
            return None
        decl = a.left.referent
        if _is_global(decl) or self.mods.count.get(id(decl), 0) != 1:
            return None
        if (decl.type or "long") not in ("long", "string") or not self.ed(a.right, avail):
            return None
        step = Step(a.right, self.kernel_node(a.right), decl, self.uses(a.right))
        # the capture of a.right (if any) was added by expr(); keep one step
        if step.captured and self.plan.steps and self.plan.steps[-1].node is a.right:
            self.plan.steps[-1] = step
        else:
            step.captured = False
            self.plan.steps.append(step)
        self.binds[id(decl)] = step
        return id(decl)

    def expr(self, e, avail: Set[int]):
        if e is None:
            return
        if self.kernel_node(e):
            if self.ed(e, avail):
                self.plan.steps.append(Step(e, True, None, self.uses(e)))
                return
            self.plan.refused.append(Refusal(e, self._why(e, avail)))
        if isinstance(e, ast.FunctionCall):
            for a in e.args:
                self.expr(a, avail)
            d = self.facts.callee(e)
            if d is not None and isinstance(d.body, ast.Block) and id(d) not in self.visited_fns \
                    and not self.kernel_node(e):
                # captures inside it that do not depend on its parameters
                self.visited_fns.add(id(d))
                self.stmt(d.body, set())
            return
        for c in e.children():
            if isinstance(c, ast.Stmt):
                self.stmt(c, avail)
            elif isinstance(c, ast.Node):
                self.expr(c, avail)

    def _why(self, e, avail) -> str:
        if isinstance(e, ast.FunctionCall):
            return "its argument is only known in user space"
        return "its value depends on script state"


def analyze(body) -> CapturePlan:
    """The capture plan of a user-mode handler body (see module doc)."""
    a = _Analysis(body)
    a.stmt(body, set())
    # keep only the bind steps some capture needs (transitively)
    needed: Set[int] = set()
    for s in reversed(a.plan.steps):
        if s.captured or (s.bind is not None and id(s.bind) in needed):
            needed |= s.uses
    a.plan.steps = [s for s in a.plan.steps
                    if s.captured or (s.bind is not None and id(s.bind) in needed)]
    return a.plan


def describe(node) -> str:
    """Short source text of a captured node, for the -p3 -v plan line."""
    try:
        from ..printer import print_expr
        text = print_expr(node)
    except Exception:       # printing is informational only
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."
