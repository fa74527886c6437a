"""@perf("NAME"): the value of the counting perf event a
perf.*.counter("NAME") point opens (man stapprobes, PERF), read in the
probes of the process it counts.

Pass 2, as stap's: a name no .counter point defines is the error "perf
counter 'NAME' not defined"; a probe reading one gets the local
`__perf_read_NAME:long` that stap's -p2 lists.  Each PerfOp gets
`counter_point` = the DerivedProbe of its counter, for codegen.
"""
from __future__ import annotations

from typing import List

from .. import ast
from ..diagnostics import StapError


def bind_perf_counters(session, errors: List[StapError]) -> None:
    counters = {}
    for p in session.probes:
        spec = getattr(p.resolved, "spec", None) or {}
        if getattr(p.resolved, "family", None) == "perf" and spec.get("counter"):
            counters.setdefault(spec["counter"], p)
    reported = set()
    for p in session.probes:
        found: List[ast.PerfOp] = []

        class V(ast.Visitor):
            def visit_PerfOp(self, n):
                found.append(n)
        V().visit(p.body)
        for n in found:
            name = n.operand.value if isinstance(n.operand, ast.String) else str(n.operand)
            if name not in counters:
                if name not in reported:
                    reported.add(name)
                    errors.append(StapError(f"perf counter '{name}' not defined"))
                continue
            n.counter_point = counters[name]
            local = f"__perf_read_{name}"
            if not any(v.name == local for v in p.locals):
                p.locals.append(ast.VarDecl(name=local, type="long", arity=0, loc=n.loc))
