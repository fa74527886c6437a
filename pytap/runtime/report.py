"""The exit report: globals the script writes but never reads.

SystemTap prints, after the end probes, every such global in declaration
order (NOTES.md "Globals printed at exit"):

    x=5                     long scalar
    s="text"                string scalar (as is, like stap's "%#s")
    a[1,"k"]=7              array elements, by value descending
    t @count=3 @min=1 @max=9 @sum=12 @avg=4       aggregate
    t @count=0x0            empty aggregate

Which globals qualify is decided here by walking the elaborated AST of
every probe and reachable function.
"""
from __future__ import annotations

import os
from dataclasses import fields
from typing import Iterable, List, Set, Tuple

from .. import ast
from .format import print_value
from .stats import Stat


_LINK_FIELDS = ("referent", "referents")


class TreeVisitor(ast.Visitor):
    """ast.Visitor that stays inside the tree: elaboration links
    (Symbol.referent, FunctionCall.referents) are dataclass fields too, and
    following them would revisit declarations (forever, for recursion)."""

    def generic_visit(self, node):
        for f in fields(node):
            if f.name in ("loc", "tok_desc") or f.name in _LINK_FIELDS:
                continue
            v = getattr(node, f.name)
            if isinstance(v, ast.Node):
                self.visit(v)
            elif isinstance(v, list):
                for x in v:
                    if isinstance(x, ast.Node):
                        self.visit(x)
                    elif isinstance(x, tuple):
                        for y in x:
                            if isinstance(y, ast.Node):
                                self.visit(y)


class _UseCollector(TreeVisitor):
    """Collects the names of globals read and written."""

    def __init__(self, globals_: Iterable[ast.VarDecl]):
        self.globals = {id(g): g.name for g in globals_}
        self.names = set(self.globals.values())
        self.read: Set[str] = set()
        self.written: Set[str] = set()

    def _global_name(self, expr) -> str | None:
        """The global an lvalue-ish expression names (x, a[...]), if any."""
        if isinstance(expr, ast.ArrayIndex):
            expr = expr.base
        if isinstance(expr, ast.Symbol):
            ref = expr.referent
            if ref is not None:
                return self.globals.get(id(ref))
            if expr.name in self.names:
                return expr.name
        return None

    def _index_exprs(self, expr):
        if isinstance(expr, ast.ArrayIndex):
            for i in expr.indexes:
                if i is not None:
                    self.visit(i)

    def visit_Symbol(self, node):
        name = self._global_name(node)
        if name:
            self.read.add(name)

    def visit_Assignment(self, node):
        name = self._global_name(node.left)
        if name:
            # stap -p2 -v: `x += 1`, `a[k] .= s` still leave x / a "never
            # read" (they are displayed at exit)
            self.written.add(name)
            self._index_exprs(node.left)
        else:
            self.visit(node.left)
        self.visit(node.right)

    def _crement(self, node):
        name = self._global_name(node.operand)
        if name:
            self.written.add(name)          # x++ is not a read either
            self._index_exprs(node.operand)
        else:
            self.visit(node.operand)

    visit_PreCrement = _crement
    visit_PostCrement = _crement

    def visit_DeleteStatement(self, node):
        name = self._global_name(node.value)
        if name:
            self.written.add(name)
            self._index_exprs(node.value)
        else:
            self.visit(node.value)

    def visit_ForeachLoop(self, node):
        # the loop's key/value variables are written, the base is read
        for s in list(node.indexes) + ([node.value] if node.value else []):
            name = self._global_name(s)
            if name:
                self.written.add(name)
        self.visit(node.base)
        for e in node.array_slice or []:
            if e is not None:
                self.visit(e)
        if node.limit is not None:
            self.visit(node.limit)
        self.visit(node.body)

    def visit_TryBlock(self, node):
        self.visit(node.try_block)
        if node.catch_var is not None:
            name = self._global_name(node.catch_var)
            if name:
                self.written.add(name)
        self.visit(node.catch_block)


def global_uses(session) -> Tuple[Set[str], Set[str]]:
    """(read, written) global names over the whole elaborated session."""
    col = _UseCollector(session.globals)
    for p in session.probes:
        col.visit(p.body)
        if getattr(p, "condition", None) is not None:
            col.visit(p.condition)
    for f in session.functions:
        if isinstance(f.body, ast.Node):
            col.visit(f.body)
    return col.read, col.written


def unread_globals(session) -> List[ast.VarDecl]:
    """Globals written but never read, in declaration order; globals from
    tapsets (synthetic, or declared outside the user's script) are left out."""
    read, written = global_uses(session)
    tapset_dirs = []
    opts = getattr(session, "options", None)
    if opts is not None:
        try:
            tapset_dirs = [os.path.abspath(d) + os.sep for d in opts.tapset_dirs()]
        except Exception:
            tapset_dirs = []
    out = []
    for g in session.globals:
        if g.synthetic or g.name not in written or g.name in read:
            continue
        where = g.file_name or (g.loc.file if g.loc else "")
        if where and any(os.path.abspath(where).startswith(d) for d in tapset_dirs):
            continue        # a tapset's global, not the user's
        out.append(g)
    return out


# stap prints these with printf("%#s") inside literal quotes, and its 4.8
# runtime copies "%#s" strings unescaped (_stp_vsprint_memory), so the text
# goes out as it is.

def _key_text(key) -> str:
    return ",".join('"%s"' % k if isinstance(k, str) else str(k) for k in key)


def _value_text(v) -> str:
    if isinstance(v, str):
        return '"%s"' % v
    return print_value(v)


def stat_text(s: Stat) -> str:
    if s.count == 0:
        return "@count=0x0"
    return "@count=%d @min=%d @max=%d @sum=%d @avg=%d" % (s.count, s.min, s.max, s.sum, s.avg())


def dump_global(decl: ast.VarDecl, store) -> str:
    name = decl.name
    is_array = decl.arity is not None and decl.arity > 0
    if decl.arity is None or decl.arity < 0:      # arity not inferred: look
        rows = store.stat_items(name) if decl.type == "stats" else store.items(name)
        is_array = any(k != () for k, _ in rows)
    if decl.type == "stats":
        if not is_array:
            return f"{name} {stat_text(store.stat(name, ()))}\n"
        rows = sorted(store.stat_items(name), key=lambda kv: kv[1].count, reverse=True)
        return "".join(f"{name}[{_key_text(k)}] {stat_text(s)}\n" for k, s in rows)
    if not is_array:
        return f"{name}={_value_text(store.get(name, ()))}\n"
    rows = sorted(store.items(name), key=lambda kv: kv[1], reverse=True)
    return "".join(f"{name}[{_key_text(k)}]={_value_text(v)}\n" for k, v in rows)


def dump_unread_globals(session, store) -> str:
    return "".join(dump_global(g, store) for g in unread_globals(session))
