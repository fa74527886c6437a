"""The `stap -p2` listing of an elaborated session.

Layout (measured against stap 4.8):

    # globals
    name:TYPE [IDX, IDX]      (arrays)   name:long = 5   (initialised)
    # functions
    name:TYPE (arg:TYPE, ...)
    { body }                                   (-v)
    # probes
    POINT[ /*  name = SYM*/] /* <- DERIVATION <- ... */
      # locals
      name:TYPE
    { body }                                   (-v)

With -v, bodies print with stap's mangled names: globals as
`__global_NAME`, calls as `__global_NAME__overload_N`.  A body that is one
statement prints as `{ STMT }`, otherwise `{ {\\nSTMT;\\n...} }`.
"""
from __future__ import annotations

import copy
import re
from typing import List

from .. import ast
from ..printer import print_expr, print_stmt, probe_point_text


def _t(t) -> str:
    return t or "unknown"


def point_text(point: ast.ProbePoint, flags: bool = True, condition: bool = True,
               session=None) -> str:
    if flags and condition:
        if session is not None and point.condition is not None:
            p = copy.copy(point)
            p.condition = _mangle_names(session, copy.deepcopy(point.condition))
            return probe_point_text(p, with_flags=True)
        return probe_point_text(point, with_flags=True)
    out = probe_point_text(point, with_flags=False)
    if flags:
        if point.sufficient:
            out += "!"
        elif point.optional:
            out += "?"
    return out


def derivation_item(node, session=None) -> str:
    """session given: a direct (alias-free) probe, whose conditions stap
    shows resolved, i.e. with mangled global names."""
    if isinstance(node, ast.ProbeAlias):
        names = ", ".join(point_text(p) for p in node.alias_names)
        locs = ", ".join(point_text(p) for p in node.locations)
        return f"{names} {'+=' if node.epilogue else '='} {locs}"
    return ",".join(point_text(p, session=session) for p in node.locations)


def _mangle_names(session, expr):
    """Conditions only see globals: mangle by name."""
    names = {g.name for g in session.globals}

    class M(ast.Transformer):
        def visit_Symbol(self, n):
            if n.name in names:
                n.name = "__global_" + n.name
            return n

    return M().visit(expr)


def probe_signature(dp, session=None) -> str:
    out = point_text(dp.point, session=session)
    rp = dp.resolved
    ann = getattr(rp, "annotation", None)
    if ann is not None:
        out += ann
    elif getattr(rp, "family", "") == "kprobe":
        sym = (getattr(rp, "spec", None) or {}).get("symbol")
        if sym:
            out += f" /*  name = {sym}*/"
    dpoint = getattr(rp, "derivation_point", None)
    if dpoint is not None:
        # points stap itself implements as an alias of another family
        # (timer.profile, perf.sw.*) show only that family's point
        out += " /* <- " + point_text(dpoint) + " */"
        return out
    direct = len(dp.derivation) == 1
    out += " /* <- " + " <- ".join(derivation_item(d, session if direct else None)
                                   for d in dp.derivation) + " */"
    return out


def var_text(v: ast.VarDecl) -> str:
    out = f"{v.name}:{_t(v.type)}"
    if v.arity > 0 or v.index_types:
        out += " [" + ", ".join(_t(t) for t in v.index_types) + "]"
    return out


def mangled_global(d: ast.VarDecl) -> str:
    """stap's C name of a global: __global_NAME, or for a private one
    __private_<file path with non-alnum as _>_NAME."""
    if d.private and d.file_name:
        return "__private_" + re.sub(r"[^A-Za-z0-9]", "_", d.file_name) + "_" + d.name
    return "__global_" + d.name


class _Mangler(ast.Transformer):
    """Copy of a body with stap's mangled global/function names."""

    def __init__(self, session):
        self.session = session

    def visit_Symbol(self, n):
        d = n.referent
        if d is not None and getattr(d, "_is_global", False):
            n.name = mangled_global(d)
        return n

    def visit_DeleteStatement(self, n):
        # stap prints `delete a` of a whole array with the plain name
        if isinstance(n.value, ast.Symbol):
            return n
        return self.generic_visit(n)

    def visit_TryBlock(self, n):
        self.generic_visit(n)
        # the optimizer reduces one-statement blocks here too
        for f in ("try_block", "catch_block"):
            b = getattr(n, f)
            if isinstance(b, ast.Block) and len(b.statements) == 1:
                setattr(n, f, b.statements[0])
        return n

    def visit_FunctionCall(self, n):
        self.generic_visit(n)
        if n.referents:
            idx = self.session.overload_index.get(id(n.referents[0]), 0)
            n.name = getattr(n.referents[0], "mangled_name", None) or \
                f"__global_{n.name}__overload_{idx}"
        return n


def body_text(session, body, verbose_names=True) -> str:
    if isinstance(body, ast.EmbeddedCode):
        return "{ %{" + body.code + "%} }"
    b = copy.deepcopy(body, memo=_memo_keep_decls(body))
    b = _Mangler(session).visit(b)
    if isinstance(b, ast.Block) and len(b.statements) == 1 and not getattr(body, "_keep_block", False):
        inner = print_stmt(b.statements[0])
    else:
        inner = print_stmt(b)
    return "{ " + inner + " }"


def _memo_keep_decls(body) -> dict:
    """deepcopy memo that shares VarDecls/FunctionDecls (we only rename the
    copied use sites)."""
    memo = {}

    class C(ast.Visitor):
        def visit_Symbol(self, n):
            if n.referent is not None:
                memo[id(n.referent)] = n.referent

        def visit_FunctionCall(self, n):
            for f in n.referents:
                memo[id(f)] = f
            self.generic_visit(n)

    C().visit(body)
    return memo


def global_text(g: ast.VarDecl, verbose: int = 1) -> str:
    out = var_text(g)
    if g.maxsize is not None:
        out = out.replace(f"{g.name}:", f"{g.name}[{g.maxsize}]:", 1)
    if g.init is not None and verbose:
        out += " = " + print_expr(g.init)
    return out


def function_sig(f: ast.FunctionDecl) -> str:
    args = ", ".join(f"{a.name}:{_t(a.type)}" for a in f.formal_args)
    return f"{f.name}:{_t(f.type)} ({args})"


def dump_session(session, verbose: int = 0) -> str:
    out: List[str] = []
    if session.embeds:
        out.append("# global embedded code\n")
        for e in session.embeds:
            out.append("%{" + e.code + "%}\n")
    if session.globals:
        out.append("# globals\n")
        for g in session.globals:
            out.append(global_text(g, verbose) + "\n")
    if session.functions:
        out.append("# functions\n")
        # stap lists them by C name: __global_NAME, then synthesized __private_*
        for f in sorted(session.functions,
                        key=lambda f: (getattr(f, "mangled_name", None) or "__global_" + f.name,
                                       session.overload_index.get(id(f), 0))):
            out.append(function_sig(f) + "\n")
            if f.locals:
                out.append("  # locals\n")
                for v in f.locals:
                    out.append("  " + var_text(v) + "\n")
            if verbose:
                out.append(body_text(session, f.body) + "\n")
    if session.probes:
        out.append("# probes\n")
        for p in session.probes:
            out.append(probe_signature(p, session) + "\n")
            if p.locals:
                out.append("  # locals\n")
                for v in p.locals:
                    out.append("  " + var_text(v) + "\n")
            if verbose:
                out.append(body_text(session, p.body) + "\n")
    return "".join(out)
