"""stap's duplicate-function elimination: functions whose signature and
body are identical are merged; calls go to the one first in name order
(e.g. the library's ulong_arg() and pointer_arg() have one body, so calls to
ulong_arg() print as __global_pointer_arg__overload_0())."""
from __future__ import annotations

import copy

from .. import ast


def _key(session, f: ast.FunctionDecl):
    from .dump import body_text, function_sig
    # Our /* intrinsic */ natives (pp, probefunc, ppfunc, is_return ...) all
    # have the same empty body but codegen expands each by its name: merging
    # them would make probefunc() return pp().
    # The same holds for /* user */ natives: their Python twin is found by
    # name (sprint_loadavg() and matched_str() share an empty body).
    if isinstance(f.body, ast.EmbeddedCode) and ("/* intrinsic */" in f.body.code
                                                 or "/* user */" in f.body.code):
        return None
    sig = function_sig(f).split(" ", 1)[1] if " " in function_sig(f) else ""
    try:
        return (f.type, sig, body_text(session, f.body))
    except Exception:
        return None


def merge_duplicate_functions(session) -> None:
    fns = sorted(session.functions, key=lambda f: (f.name, session.overload_index.get(id(f), 0)))
    first = {}
    replace = {}
    for f in fns:
        k = _key(session, f)
        if k is None:
            continue
        if k in first:
            replace[id(f)] = first[k]
        else:
            first[k] = f
    if not replace:
        return

    class R(ast.Visitor):
        def visit_FunctionCall(self, n):
            self.generic_visit(n)
            if n.referents and id(n.referents[0]) in replace:
                keep = replace[id(n.referents[0])]
                n.referents = [keep]
                n.name = keep.name

    r = R()
    for p in session.probes:
        r.visit(p.body)
        if p.condition is not None:
            r.visit(p.condition)
    for f in session.functions:
        if isinstance(f.body, ast.Node):
            r.visit(f.body)
    session.functions = [f for f in session.functions if id(f) not in replace]
