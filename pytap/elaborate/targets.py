"""Target variables: `$name` / `$$vars` / `@defined(...)` checked against
what the probe point offers (ResolvedPoint.variables()).

stap's pass-2 texts: "unresolved target-symbol expression" (no such
variable / a family without variables), tracepoints' "unable to find
tracepoint variable '$x' (alternatives: ...)".  `@defined(e)` becomes 1
or 0 here (then constant-folds).  A failed `$x` keeps no type, so type
inference adds stap's "unresolved type" errors after it.
"""
from __future__ import annotations

import re
from typing import List, Optional

from .. import ast
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


def _error(ts: ast.TargetSymbol, names: List[str], family: str, rp=None) -> StapError:
    tok = ts.tok_desc or f"identifier '{ts.name}'"
    if family == "uprobe" and rp is not None and "plt" in (getattr(rp, "spec", None) or {}):
        return StapError(f"unable to find plt variable '{ts.name}' (alternatives: $$name)", ts.loc, tok)
    if family == "uprobe" and rp is not None:
        df = getattr(rp, "dwarf_func", None)
        if df is None:
            return StapError(f"debuginfo scope not found for module '{rp.spec.get('path')}', cannot "
                             "resolve context variable [man error::dwarf]", ts.loc, tok)
        import os
        alts = ", ".join("$" + n for n in names)
        return StapError(f"unable to find local '{ts.name.lstrip('$')}', [man error::dwarf] in "
                         f"{rp.spec.get('path')}, near pc 0x{rp.spec.get('address', 0):x} in {df.name} "
                         f"{os.path.basename(df.decl_file)} (alternatives: {alts}))", ts.loc, tok)
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


def _static_truth(e) -> Optional[int]:
    """The value of a condition that @defined made constant (`@defined($x)`,
    `!@defined($x)`, `@defined($a) && @defined($b)`…), else None: stap
    prunes the branch it rules out before resolving target variables, so a
    dead `$x` is never an error (`@choose_defined($a, $b)` relies on it)."""
    def val(n):
        if isinstance(n, ast.Number):
            return n.value, getattr(n, "_from_defined", False)
        if isinstance(n, ast.Unary) and n.op == "!":
            v = val(n.operand)
            return (None, False) if v[0] is None else (int(not v[0]), v[1])
        if isinstance(n, (ast.LogicalAnd, ast.LogicalOr)):
            (a, da), (b, db) = val(n.left), val(n.right)
            is_and = isinstance(n, ast.LogicalAnd)
            if a is not None and bool(a) != is_and:     # 0 && x, 1 || x
                return int(not is_and), da
            if a is None or b is None:
                return None, False
            return int(bool(b)), da or db
        return None, False
    v, from_defined = val(e)
    return v if from_defined else None


def _members_exist(dp, op) -> bool:
    """@defined($p->a->b[1]) / @defined(@cast(p, "T")->m): whether this
    kernel's types have that path (BTF); true when BTF cannot tell."""
    from ..codegen.btf_offsets import KIND_ARRAY, KIND_PTR, TypeView, components_resolve, kernel_types, parse_type
    comps = [c for c in op.components if c.kind != "pretty"]
    bt = kernel_types()
    if bt is None:
        return True
    if not comps:
        # @defined(@cast(p, "T")): whether this kernel has type T
        return not isinstance(op, ast.CastOp) or parse_type(bt, op.type_name or "") is not None
    tv = TypeView(bt)
    if isinstance(op, ast.CastOp):
        ref = parse_type(bt, op.type_name or "")
        return ref is not None and components_resolve(bt, ref, comps, True)
    try:
        var = dp.resolved.variable(op.name.lstrip("$"))
    except Exception:
        return True
    if var is None:
        return False
    ref = parse_type(bt, re.sub(r"^\s*__data_loc\s+", "", var.c_type or ""))
    if ref is None:
        return True
    if tv.kind(ref) == KIND_PTR:
        return components_resolve(bt, tv.target(ref), comps, True)
    if tv.kind(ref) == KIND_ARRAY:
        return components_resolve(bt, ref, comps, False)
    return False


def _pretty_vars(dp, n, names):
    """$$parms / $$locals / $$vars / $$return of a function probe with
    DWARF: stap's sprintf("a=%#x b=%#x", $a, $b); a struct is "{...}", an
    array "[...]", a variable with no home at the probe address "?"."""
    df = getattr(dp.resolved, "dwarf_func", None)
    if df is None and getattr(dp, "family", None) == "kprobe":
        df = _btf_func(dp.resolved)
    if df is None or n.components or n.name not in ("$$parms", "$$locals", "$$vars", "$$return"):
        return None
    if n.name == "$$return":
        vs = [("return", None)] if "return" in names else []
    else:
        pick = {"$$parms": df.params, "$$locals": df.locals, "$$vars": df.params + df.locals}[n.name]
        vs = [(v.name, v.type) for v in pick]
    parts, args = [], []
    for name, t in vs:
        kind = t.strip().kind if t is not None else "base"
        if kind in ("struct", "union"):
            parts.append(f"{name}={{...}}")
        elif kind == "array":
            parts.append(f"{name}=[...]")
        elif name not in names:
            parts.append(f"{name}=?")
        else:
            parts.append(f"{name}=%#x")
            args.append(ast.TargetSymbol("$" + name, loc=n.loc, tok_desc=n.tok_desc))
    fmt = " ".join(parts)
    return ast.PrintFormat("sprintf", args, fmt=fmt, loc=n.loc, tok_desc=n.tok_desc)


class _Var:
    def __init__(self, name, kind):
        self.name = name
        self.type = _Kind(kind)


class _Kind:
    def __init__(self, kind):
        self.kind = kind

    def strip(self):
        return self


class _BtfFunc:
    """A kernel function's parameters from its BTF prototype, in the shape
    _pretty_vars reads from DWARF (BTF has no locals)."""

    def __init__(self, proto):
        self.params = [_Var(name, "struct" if ct.size > 8 and not ct.is_pointer else "base")
                       for name, ct in (proto.params if proto is not None else ()) if name]
        self.locals = []


def _btf_func(rp):
    """kernel.function / kprobe.function points: $$parms & co. from BTF
    (stap reads them from DWARF; the names and values are the same).
    Without a prototype there are no parameters to show."""
    try:
        rp.variables()                  # fills rp.context with the prototype
    except Exception:
        return None
    return _BtfFunc(getattr(rp, "context", None))


def check_targets(session, errors: List[StapError]) -> list:
    """Resolve @defined and prune its dead branches; mark target symbols
    the probe does not offer.  -> those nodes (their `_saved_error`)."""
    saved: list = []
    for dp in session.probes:
        names = _var_names(dp)
        shown = _listing_names(dp)
        family = dp.family

        class T(ast.Transformer):
            def visit_Assignment(self, n):
                # stap's type checker says "unresolved type" for neither
                # side of an assignment to or from an unknown $x
                self.generic_visit(n)
                for side in (n.left, n.right):
                    if isinstance(side, ast.TargetSymbol):
                        side._assign_operand = True
                return n

            def visit_DefinedOp(self, n):
                op = n.operand
                if isinstance(op, ast.TargetSymbol):
                    val = 1 if _ok(op, names, family) and _members_exist(dp, op) else 0
                elif isinstance(op, ast.CastOp):
                    val = 1 if _members_exist(dp, op) else 0
                else:
                    val = 1
                num = ast.Number(val, str(val), loc=n.loc, type="long", tok_desc=f"number '{val}'")
                num._from_defined = True
                return num

            def visit_Ternary(self, n):
                n.cond = self.visit(n.cond)
                v = _static_truth(n.cond)
                if v is not None:
                    return self.visit(n.truevalue if v else n.falsevalue)
                n.truevalue = self.visit(n.truevalue)
                n.falsevalue = self.visit(n.falsevalue)
                return n

            def visit_IfStatement(self, s):
                s.cond = self.visit(s.cond)
                v = _static_truth(s.cond)
                if v is not None:
                    if v:
                        return self.visit(s.then)
                    return self.visit(s.else_) if s.else_ is not None else ast.NullStatement(loc=s.loc)
                s.then = self.visit(s.then)
                if s.else_ is not None:
                    s.else_ = self.visit(s.else_)
                return s

            def visit_EntryOp(self, n):
                self.generic_visit(n)
                spec = getattr(dp.resolved, "spec", None) or {}
                if not spec.get("return") and not spec.get("entry_event"):
                    err = StapError(f"while processing probe {dp.point.text()}")
                    err.chain = [StapError("internal error: @entry is only valid in .return probes",
                                           n.loc, n.tok_desc or "operator '@entry'")]
                    errors.append(err)
                return n

            def visit_TargetSymbol(self, n):
                pretty = _pretty_vars(dp, n, names)
                if pretty is not None:
                    return pretty
                self.generic_visit(n)
                sdt = _sdt_pretty(n, dp, names)
                if sdt is not None:
                    return sdt
                if not _ok(n, names, family):
                    # reported by type inference where it meets the node,
                    # in place of "unresolved type" (stap's saved
                    # conversion error): not at all when the optimizer
                    # elides it, in traversal order with the type errors
                    n._unresolved = True
                    n._saved_error = _error(n, shown if family != "uprobe" else names, family,
                                            dp.resolved)
                    saved.append(n)
                return n

        dp.body = T().visit(dp.body)
        if dp.condition is not None:
            dp.condition = T().visit(dp.condition)
            dp.point.condition = dp.condition
    return saved


def _sdt_pretty(n: ast.TargetSymbol, dp, names: List[str]):
    """$$name / $$provider / $$parms of an SDT marker (probes/sdt.py): the
    note's strings, and "arg1=0x%x arg2=0x%x ..." of its arguments."""
    spec = getattr(dp.resolved, "spec", None) or {}
    if "plt" in spec and n.name == "$$name" and not n.components and not n.addressof:
        return ast.String(spec["plt"], loc=n.loc, tok_desc=n.tok_desc)     # probes/plt.py
    if "mark" not in spec or n.components or n.addressof:
        return None
    if n.name == "$$name":
        return ast.String(spec["mark"], loc=n.loc, tok_desc=n.tok_desc)
    if n.name == "$$provider":
        return ast.String(spec["provider"], loc=n.loc, tok_desc=n.tok_desc)
    if n.name in ("$$parms", "$$vars"):
        args = [a for a in names if a.startswith("arg")]
        if not args:
            return ast.String("", loc=n.loc, tok_desc=n.tok_desc)
        fmt = " ".join(f"{a}=0x%x" for a in args)
        return ast.PrintFormat(print_name="sprintf", fmt=fmt, loc=n.loc, tok_desc=n.tok_desc,
                               args=[ast.TargetSymbol(name="$" + a, loc=n.loc) for a in args])
    return None
