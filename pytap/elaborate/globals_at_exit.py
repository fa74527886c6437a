"""The end probes stap adds to print write-only globals.

A global the script writes but never reads is printed when the session
ends, by one synthesised `end` probe per global (declaration order), shown
in the -p2 dump.  The probes are ordinary DerivedProbes marked
`synthetic=True` so the runtime can tell it need not print those globals
itself.  Only globals of the user script count.
"""
from __future__ import annotations

from typing import List

from .. import ast
from .optimize import _reads_writes
from .session import DerivedProbe

_STATS = ["count", "min", "max", "sum", "avg"]


def _sym(v: ast.VarDecl) -> ast.Symbol:
    s = ast.Symbol(v.name, referent=v, type=v.type)
    return s


def _local(name: str, t: str) -> ast.VarDecl:
    return ast.VarDecl(name, type=t, arity=0)


def _num(n):
    return ast.Number(n, str(n), type="long")


def _printf(fmt: str, args) -> ast.ExprStatement:
    return ast.ExprStatement(ast.PrintFormat("printf", list(args), fmt=fmt, type="long"))


def _fmt_for(t: str, quoted: bool) -> str:
    if t == "string":
        return '\\"%#s\\"' if quoted else "%#s"
    return "%#d" if quoted else "%d"


def _stat_ops(expr_factory):
    return [ast.StatOp(op, expr_factory(), type="long") for op in _STATS]


def _body_for(g: ast.VarDecl):
    """(statements, locals) printing one global."""
    name = g.name
    if g.arity <= 0:
        if g.type == "stats":
            cnt = ast.Comparison("==", ast.StatOp("count", _sym(g), type="long"), _num(0), type="long")
            stmt = ast.IfStatement(
                cnt,
                _printf(f"{name} @count=0x0\\n", []),
                _printf(f"{name} @count=%#d @min=%#d @max=%#d @sum=%#d @avg=%#d\\n",
                        _stat_ops(lambda: _sym(g))))
            return [stmt], []
        if g.type == "string":
            return [_printf(f'{name}=\\"%#s\\"\\n', [_sym(g)])], []
        return [_printf(f"{name}=%d\\n", [_sym(g)])], []
    idx = [_local(f"__idx{i}", t) for i, t in enumerate(g.index_types)]
    keyfmt = ",".join('\\"%#s\\"' if t == "string" else "%#d" for t in g.index_types)
    isyms = lambda: [ast.Symbol(v.name, referent=v, type=v.type) for v in idx]
    if g.type == "stats":
        elem = lambda: ast.ArrayIndex(_sym(g), isyms(), type="stats")
        body = _printf(f"{name}[{keyfmt}] @count=%#d @min=%#d @max=%#d @sum=%#d @avg=%#d\\n",
                       isyms() + _stat_ops(elem))
        loop = ast.ForeachLoop(isyms(), _sym(g), body, sort_column=0, sort_direction=-1)
        return [loop], idx
    val = _local("__val", g.type)
    vfmt = '\\"%#s\\"' if g.type == "string" else "%d"
    body = _printf(f"{name}[{keyfmt}]={vfmt}\\n",
                   isyms() + [ast.Symbol("__val", referent=val, type=val.type)])
    loop = ast.ForeachLoop(isyms(), _sym(g), body,
                           value=ast.Symbol("__val", referent=val, type=val.type),
                           sort_column=0, sort_direction=-1)
    return [loop], idx + [val]


def write_only_globals(session) -> List[ast.VarDecl]:
    reads, writes = set(), set()
    for p in session.probes:
        _reads_writes(p.body, reads, writes, rmw_reads=False)
        if p.condition is not None:
            _reads_writes(p.condition, reads, writes, rmw_reads=False)
    for f in session.functions:
        if isinstance(f.body, ast.Node):
            _reads_writes(f.body, reads, writes, rmw_reads=False)
    script_name = session.script.name if session.script is not None else None
    out = []
    for g in session.globals:
        if id(g) in writes and id(g) not in reads and \
                (not g.file_name or g.file_name == script_name):
            out.append(g)
    return out


def add_exit_printers(session) -> None:
    from .points import FallbackResolvedPoint
    try:
        from ..probes import resolve as _res  # noqa: F401
    except Exception:
        pass
    for g in write_only_globals(session):
        stmts, locs = _body_for(g)
        body = ast.Block(stmts)
        body._keep_block = True
        point = ast.ProbePoint([ast.ProbePointComponent("end")])
        user = ast.Probe([point], body)
        rp = resolve_synthetic(point)
        session.probes.append(DerivedProbe(point=point, derivation=[user], body=body,
                                           locals=locs, resolved=rp, synthetic=True,
                                           origin=user))


def resolve_synthetic(point):
    """Resolve a begin/end point of a probe stap adds itself; those always
    exist, so fall back to a plain resolved point of that family."""
    from .points import resolve_concrete, FallbackResolvedPoint
    try:
        r = resolve_concrete(point)
        if r:
            return r[0]
    except Exception:
        pass
    return FallbackResolvedPoint(point.components[0].functor, point)
