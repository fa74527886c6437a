"""Symbol resolution (stap's symresolution_info).

A plain identifier is, in this order: a local already seen in this probe
or function (params first), a global of the script, a global of a tapset
file (which pulls that file into the session), else a new local.  Indexed
identifiers must be globals.  Function calls resolve to the script's
functions first, then the tapset library's (pulling the defining file in);
overloads of one name with one arity are all referents, numbered in
declaration order for stap's `__global_f__overload_N` names.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .. import ast
from ..diagnostics import StapError
from .aliases import similar_names


class Scope:
    def __init__(self, owner, params=()):
        self.owner = owner          # DerivedProbe or FunctionDecl
        self.vars: Dict[str, ast.VarDecl] = {p.name: p for p in params}
        self.locals: List[ast.VarDecl] = []

    def new_local(self, name: str, loc) -> ast.VarDecl:
        v = ast.VarDecl(name, loc=loc, tok_desc=f"identifier '{name}'")
        self.vars[name] = v
        self.locals.append(v)
        return v


class SymbolTable:
    """Globals and functions visible to the session; pulls tapset files
    in on demand."""

    def __init__(self, script: ast.StapFile, library, errors: List[StapError]):
        self.library = library
        self.errors = errors
        self.files: List[ast.StapFile] = [script]
        self.new_files: List[ast.StapFile] = []     # pulled, probes not yet derived
        self.globals: Dict[str, ast.VarDecl] = {}
        self.global_order: List[ast.VarDecl] = []
        self.functions: Dict[str, List[ast.FunctionDecl]] = {}
        self.used_functions: List[ast.FunctionDecl] = []
        # globals in the order symbol resolution first met them (stap lists
        # library globals that way, after the script's own)
        self.ref_order: List[ast.VarDecl] = []
        self._ref_ids = set()
        self._used_ids = set()
        self._add_file_decls(script)

    def _add_file_decls(self, f: ast.StapFile) -> None:
        for g in f.globals:
            if g.name not in self.globals:
                if not g.file_name:
                    g.file_name = f.name
                self.globals[g.name] = g
                self.global_order.append(g)
        for fn in f.functions:
            fn._library = bool(f.privileged)
            self.functions.setdefault(fn.name, []).append(fn)

    def pull(self, f: ast.StapFile) -> None:
        if any(x is f for x in self.files):
            return
        self.files.append(f)
        self.new_files.append(f)
        self._add_file_decls(f)

    def find_global(self, name: str) -> Optional[ast.VarDecl]:
        g = self._find_global(name)
        if g is not None and id(g) not in self._ref_ids:
            self._ref_ids.add(id(g))
            self.ref_order.append(g)
        return g

    def _find_global(self, name: str) -> Optional[ast.VarDecl]:
        g = self.globals.get(name)
        if g is None and self.library is not None:
            for f in self.library.files_defining_global(name):
                if any(v.name == name and not v.private for v in f.globals):
                    self.pull(f)
                    g = self.globals.get(name)
                    if g is not None:
                        break
        return g

    def find_functions(self, name: str) -> List[ast.FunctionDecl]:
        fns = self.functions.get(name)
        if not fns and self.library is not None:
            for f in self.library.files_defining_function(name):
                if any(fn.name == name for fn in f.functions):
                    self.pull(f)
                    fns = self.functions.get(name)
                    break
        return fns or []

    def function_names(self) -> List[str]:
        names = set(self.functions)
        if self.library is not None:
            names.update(self.library.index.function_names())
        return sorted(names)

    def mark_used(self, fn: ast.FunctionDecl) -> bool:
        if id(fn) in self._used_ids:
            return False
        self._used_ids.add(id(fn))
        self.used_functions.append(fn)
        return True


def _desc(name):
    return f"identifier '{name}'"


class Resolver(ast.Visitor):
    """Resolves one body (probe or function) in its scope."""

    def __init__(self, table: SymbolTable, scope: Scope, pending: list):
        self.table = table
        self.scope = scope
        self.pending = pending      # functions reached, to resolve later

    # -- variables ---------------------------------------------------------
    def _var(self, sym: ast.Symbol, indexed: bool) -> None:
        name = sym.name
        v = self.scope.vars.get(name)
        if v is None:
            v = self.table.find_global(name)
        if v is None:
            if indexed:
                # arrays cannot be local; stap reports a missing global
                self.table.errors.append(StapError(
                    f"unresolved arity-{indexed} global array {name}, missing global declaration?",
                    sym.loc, _desc(name)))
                return
            v = self.scope.new_local(name, sym.loc)
        sym.referent = v

    def visit_Symbol(self, node: ast.Symbol):
        self._var(node, 0)

    def visit_ArrayIndex(self, node: ast.ArrayIndex):
        if isinstance(node.base, ast.Symbol):
            self._var(node.base, len(node.indexes))
        else:
            self.visit(node.base)
        for i in node.indexes:
            if i is not None:
                self.visit(i)

    def visit_ForeachLoop(self, node: ast.ForeachLoop):
        if isinstance(node.base, ast.Symbol):
            self._var(node.base, len(node.indexes) or 1)
        else:
            self.visit(node.base)
        for i in node.indexes:
            self.visit(i)
        if node.value is not None:
            self.visit(node.value)
        if node.array_slice:
            for e in node.array_slice:
                if e is not None:
                    self.visit(e)
        if node.limit is not None:
            self.visit(node.limit)
        self.visit(node.body)

    def visit_TryBlock(self, node: ast.TryBlock):
        self.visit(node.try_block)
        if node.catch_var is not None:
            self.visit(node.catch_var)
        self.visit(node.catch_block)

    # -- functions ---------------------------------------------------------
    def _guru(self) -> bool:
        opts = getattr(self.table.library, "options", None)
        return bool(getattr(opts, "guru", False))

    def _user_call(self, node) -> bool:
        loc = getattr(node, "loc", None)
        if loc is None:
            return False
        return any(f.name == loc.file and not f.privileged for f in self.table.files)

    def visit_FunctionCall(self, node: ast.FunctionCall):
        for a in node.args:
            self.visit(a)
        fns = self.table.find_functions(node.name)
        if not fns:
            sim = similar_names(node.name, self.table.function_names())
            msg = f"unresolved function {node.name}"
            if sim:
                msg += f" (similar: {', '.join(sim)})"
            self.table.errors.append(StapError(msg, node.loc, _desc(node.name)))
            return
        same = [f for f in fns if len(f.formal_args) == len(node.args)]
        if not same:
            f0 = fns[0]
            err = StapError(f"arity mismatch found (function '{node.name}' takes "
                            f"{len(f0.formal_args)} args)", node.loc, _desc(node.name))
            err.extra_tokens = [(f0.tok_desc or _desc(f0.name), f0.loc)]
            self.table.errors.append(err)
            return
        node.referents = same
        reason = _not_on_ebpf(same[0])
        if reason:
            # a documented function eBPF cannot offer (tapsets/not_on_ebpf.stp)
            self.table.errors.append(StapError(
                f"function '{node.name}' is not available on the BPF runtime: {reason}",
                node.loc, _desc(node.name)))
            return
        if _guru_only(same[0]) and not self._guru() and self._user_call(node):
            # stap: a /* guru */ tapset function called from the script itself
            self.table.errors.append(StapError(
                "function may not be used unless -g is specified", node.loc, _desc(node.name)))
            return
        for f in same:
            if self.table.mark_used(f):
                self.pending.append(f)


def _guru_only(fn) -> bool:
    body = fn.body
    return isinstance(body, ast.EmbeddedCode) and "/* guru */" in body.code


def _not_on_ebpf(fn) -> str:
    """The reason a tapset function is marked `/* not-on-ebpf: REASON */`."""
    body = fn.body
    if isinstance(body, ast.EmbeddedCode) and "/* not-on-ebpf:" in body.code:
        return body.code.split("/* not-on-ebpf:", 1)[1].split("*/", 1)[0].strip()
    return ""


def resolve_function(table: SymbolTable, fn: ast.FunctionDecl, pending: list) -> None:
    scope = Scope(fn, fn.formal_args)
    if isinstance(fn.body, ast.Node):
        Resolver(table, scope, pending).visit(fn.body)
    fn.locals = scope.locals


def resolve_probe(table: SymbolTable, dp, pending: list) -> None:
    scope = Scope(dp)
    r = Resolver(table, scope, pending)
    if dp.condition is not None:
        # conditions see globals only (stap); resolve in the same scope
        r.visit(dp.condition)
    r.visit(dp.body)
    dp.locals = scope.locals
