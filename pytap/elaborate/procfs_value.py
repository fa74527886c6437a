"""`$value` in procfs probes, rewritten as stap 4.8 rewrites it.

stap turns each `$value` of a procfs probe into a call of a function it
synthesizes for that one use, named after the token's file and a
session-wide counter:

    $value = e      __private_<file>__procfs_value_set<N>(e)      read probes
    $value .= e     __private_<file>__procfs_value_append<N>(e)   read probes
    $value          __private_<file>__procfs_value_get<N>()       write probes

(<file> is the file name with every non-alphanumeric character as `_`).
Identical functions are merged afterwards (elaborate/dedup.py keeps the
first in name order, as stap does) and the getter, being stable, is
hoisted into a `__stable_<name>_value` local (elaborate/stable.py): the
-p2 listing is stap's.  The functions are user-space natives: their
Python twins (runtime/natives/procfs.py, found through `twin_name`) work
on the buffer of the file being read or written.

Errors are stap's: another `$name`, `$value` read in a read probe or
written in a write probe, an operator other than `=`/`.=`, members,
indexes, pretty-printing, two read probes on one path (several write
probes may share a path).
"""
from __future__ import annotations

import re
from typing import List

from .. import ast
from ..diagnostics import StapError

# the include stap adds to the session's embedded code for procfs probes
PROCFS_EMBED = '#include "procfs-probes.h"'

_CODE = {
    # `/* pure */ /* stable */` as stap marks its getter; the kind keeps
    # the three apart when duplicates are merged
    "get": "/* procfs value get */ /* pure */ /* stable */",
    "set": "/* procfs value set */",
    "append": "/* procfs value append */",
}


def _detox(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", path)


def _function(kind: str, file: str, tick: int, loc, tok: str) -> ast.FunctionDecl:
    """(stap's synthesized function carries the $value token: a run-time
    error inside it is reported near that token)"""
    name = f"__private_{_detox(file)}__procfs_value_{kind}{tick}"
    args = [] if kind == "get" else [ast.VarDecl("value", type="string", arity=0, loc=loc)]
    f = ast.FunctionDecl(name, args, ast.EmbeddedCode(_CODE[kind], loc=loc),
                         type="string", declared_type="string", loc=loc,
                         tok_desc=tok)
    f._library = True
    f.synthetic = True
    f.twin_name = f"__procfs_value_{kind}"      # runtime/natives/procfs.py
    f.mangled_name = name                       # stap prints it as is
    return f


class _Expander(ast.Transformer):
    def __init__(self, table, dp, errors: List[StapError]):
        self.table = table
        self.write = dp.resolved.spec.get("kind") == "write"
        self.errors = errors

    # ------------------------------------------------------------ helpers
    def _tick(self) -> int:
        self.table.procfs_tick = getattr(self.table, "procfs_tick", 0) + 1
        return self.table.procfs_tick

    def _fail(self, msg, loc, tok) -> ast.Expr:
        self.errors.append(StapError(msg, loc, tok))
        return ast.String("", loc=loc, tok_desc=tok)

    def _check(self, n: ast.TargetSymbol, lvalue: bool, op: str = ""):
        """None when n is a usable $value here, else the error's stand-in."""
        tok = n.tok_desc or f"identifier '{n.name}'"
        if n.name != "$value":
            return self._fail("invalid target symbol for procfs probe, $value expected", n.loc, tok)
        for c in n.components:
            if c.kind == "pretty":
                return self._fail("procfs variable '$value' may not be pretty-printed", n.loc,
                                  f"identifier '$value{c.name}'")
            what = "array" if c.kind == "index" else "a structure"
            ctok = "operator '['" if c.kind == "index" else "operator '->'"
            return self._fail(f"procfs variable '$value' may not be used as {what}", c.loc, ctok)
        if self.write and lvalue:
            return self._fail("procfs $value variable is read-only in a procfs write probe", n.loc, tok)
        if not self.write and not lvalue:
            return self._fail("procfs $value variable cannot be read in a procfs read probe",
                              n.loc, tok)
        if n.addressof:
            return self._fail("can't take address of procfs value", n.loc, tok)
        if lvalue and op not in ("=", ".="):
            return self._fail("Only the following assign operators are implemented on procfs "
                              "read target variables: '=', '.='", n.loc, tok)
        return None

    def _call(self, kind: str, n: ast.TargetSymbol, args) -> ast.FunctionCall:
        f = _function(kind, n.loc.file or "", self._tick(), n.loc,
                      n.tok_desc or "identifier '$value'")
        self.table.functions.setdefault(f.name, []).append(f)
        return ast.FunctionCall(f.name, args, loc=n.loc, tok_desc=n.tok_desc or "identifier '$value'")

    # ------------------------------------------------------------ visits
    def visit_Assignment(self, n: ast.Assignment):
        if isinstance(n.left, ast.TargetSymbol):
            bad = self._check(n.left, True, n.op)
            if bad is not None:
                n.right = self.visit(n.right)
                return bad
            # stap expands the target first, then the value
            kind = "set" if n.op == "=" else "append"
            call = self._call(kind, n.left, [])
            call.args = [self.visit(n.right)]
            return call
        return self.generic_visit(n)

    def _crement(self, n):
        if isinstance(n.operand, ast.TargetSymbol):
            return self._check(n.operand, True, n.op) or n
        return self.generic_visit(n)

    visit_PreCrement = _crement
    visit_PostCrement = _crement

    def visit_DefinedOp(self, n: ast.DefinedOp):
        op = n.operand
        if not (isinstance(op, ast.TargetSymbol) and op.name == "$value" and not op.components):
            return self.generic_visit(n)
        # stap tries the expansion: a getter is made (and dropped) in a
        # write probe; a read probe's getter fails, so @defined is 0
        if self.write:
            self._tick()
        val = 1 if self.write else 0
        num = ast.Number(val, str(val), loc=n.loc, type="long", tok_desc=f"number '{val}'")
        num._from_defined = True
        return num

    def visit_TargetSymbol(self, n: ast.TargetSymbol):
        bad = self._check(n, False)
        if bad is not None:
            return bad
        return self._call("get", n, [])


def expand_procfs_values(table, dp, errors: List[StapError]) -> None:
    """Rewrite dp's `$value`s when dp is a procfs probe (before symbol
    resolution, which then finds the synthesized functions in `table`)."""
    if getattr(dp.resolved, "family", None) != "procfs":
        return
    dp.body = _Expander(table, dp, errors).visit(dp.body)


def check_procfs_paths(session, errors: List[StapError]) -> None:
    """stap: one read probe per path (several write probes may share one)."""
    seen = set()
    for dp in session.probes:
        rp = dp.resolved
        if getattr(rp, "family", None) != "procfs" or rp.spec.get("kind") != "read":
            continue
        path = rp.spec.get("path")
        if path in seen:
            errors.append(StapError(f'only one read procfs probe can exist for procfs path "{path}"'))
        seen.add(path)


def add_procfs_embed(session) -> None:
    """stap lists its procfs header among the global embedded code."""
    if any(getattr(dp.resolved, "family", None) == "procfs" for dp in session.probes):
        session.embeds.append(ast.EmbeddedCode(PROCFS_EMBED))
