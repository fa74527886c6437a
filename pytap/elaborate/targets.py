"""Target variables: `$name` / `$$vars` / `@defined(...)` checked against
what the probe point offers (ResolvedPoint.variables()).

stap's pass-2 texts: "unresolved target-symbol expression" (no such
variable / a family without variables), tracepoints' "unable to find
tracepoint variable '$x' (alternatives: ...)".  `@defined(e)` becomes 1
or 0 here (then constant-folds).  A failed `$x` keeps no type, so type
inference adds stap's "unresolved type" errors after it.
"""
from __future__ import annotations

from typing import List

from .. import ast
from ..codegen.defined import defined_value
from ..diagnostics import StapError

_PRETTY = ("$$vars", "$$parms", "$$locals", "$$return", "$$name")


def _var_names(dp) -> List[str]:
    rp = dp.resolved
    try:
        return [v.name for v in rp.variables()] if hasattr(rp, "variables") else []
    except Exception:
        return []


def _ok(ts: ast.TargetSymbol, names: List[str], family: str) -> bool:
    if ts.name in _PRETTY:
        return bool(names) or family in ("kprobe", "uprobe", "tracepoint", "process")
    return ts.name.lstrip("$") in names


def _error(ts: ast.TargetSymbol, names: List[str], family: str) -> StapError:
    tok = ts.tok_desc or f"identifier '{ts.name}'"
    if family == "tracepoint":
        alts = ", ".join(["$" + n for n in names] + ["$$vars", "$$name", "$$parms"])
        return StapError(f"unable to find tracepoint variable '{ts.name}' (alternatives: {alts})",
                         ts.loc, tok)
    return StapError("unresolved target-symbol expression", ts.loc, tok)


def _listing_names(dp) -> List[str]:
    rp = dp.resolved
    try:
        return [v.name for v in rp.listing_variables()]
    except Exception:
        return _var_names(dp)


def _var_of(dp):
    def find(ts):
        try:
            return dp.resolved.variable(ts.name.lstrip("$"))
        except Exception:
            return None
    return find


def check_targets(session, errors: List[StapError]) -> None:
    for dp in session.probes:
        names = _var_names(dp)
        shown = _listing_names(dp)
        family = dp.family

        class T(ast.Transformer):
            def visit_DefinedOp(self, n):
                op = n.operand
                if isinstance(op, ast.TargetSymbol):
                    val = 1 if _ok(op, names, family) else 0
                    if val and op.components:
                        # $var->member: does this kernel's struct have it?
                        val = 0 if defined_value(op, _var_of(dp)) is False else 1
                    return ast.Number(val, str(val), loc=n.loc, type="long",
                                      tok_desc=f"number '{val}'")
                val = 0 if defined_value(op) is False else 1
                return ast.Number(val, str(val), loc=n.loc, type="long", tok_desc=f"number '{val}'")

            # @choose_defined(a, b) / `if (@defined(x)) ...`: only the branch
            # this probe point takes is checked (and kept), as stap does
            def visit_Ternary(self, n):
                if isinstance(n.cond, ast.DefinedOp):
                    taken = self.visit_DefinedOp(n.cond).value
                    return self.visit(n.truevalue if taken else n.falsevalue)
                self.generic_visit(n)
                return n

            def visit_IfStatement(self, n):
                if isinstance(n.cond, ast.DefinedOp):
                    taken = self.visit_DefinedOp(n.cond).value
                    branch = n.then if taken else n.else_
                    return self.visit(branch) if branch is not None else ast.Block(loc=n.loc)
                self.generic_visit(n)
                return n

            def visit_EntryOp(self, n):
                self.generic_visit(n)
                spec = getattr(dp.resolved, "spec", None) or {}
                if not spec.get("return"):
                    err = StapError(f"while processing probe {dp.point.text()}")
                    err.chain = [StapError("internal error: @entry is only valid in .return probes",
                                           n.loc, n.tok_desc or "operator '@entry'")]
                    errors.append(err)
                return n

            def visit_TargetSymbol(self, n):
                self.generic_visit(n)
                if not _ok(n, names, family):
                    n._unresolved = True
                    errors.append(_error(n, shown, family))
                return n

        dp.body = T().visit(dp.body)
        if dp.condition is not None:
            dp.condition = T().visit(dp.condition)
            dp.point.condition = dp.condition
