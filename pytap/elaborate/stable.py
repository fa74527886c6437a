"""Hoisting of "stable" function calls (stap's stable_functional).

A function whose embedded body is marked `/* stable */` (pp(), execname(),
pid() ...) returns the same value throughout one probe hit, so stap
evaluates it once per statement list: each call becomes a local
`__stable_<mangled name>_value`, assigned at the start of the innermost
block holding the call.  A call under a single-statement if/for/foreach
body gets a new block around that statement.  This runs after the
optimizer, as in stap, and shows in the -p2 dump.
"""
from __future__ import annotations

from typing import Dict, List

from .. import ast


# Context functions SystemTap 4.8 marks stable (same value for a whole
# probe hit).  A library function of one of these names is treated as
# stable even when its embedded body (ours, BPF) does not carry the marker,
# so our -p2 dumps match stap's.
STABLE_NAMES = frozenset("""
    __is_idle addr cpu egid euid execname gid is_myproc is_return
    module_name ns_egid ns_euid ns_gid ns_pgrp ns_pid ns_ppid ns_sid ns_tid
    ns_uid pexecname pgrp pn pnlabel pp ppfunc ppid probe_type probemod
    registers_valid sid sprint_loadavg stack_size stack_unused stack_used
    stp_pid uaddr uid user_mode""".split())


def _is_stable(f: ast.FunctionDecl) -> bool:
    if f.formal_args or not isinstance(f.body, ast.EmbeddedCode):
        return False
    if "/* stable */" in f.body.code:
        return True
    return f.name in STABLE_NAMES and getattr(f, "_library", False)


class _Hoister:
    def __init__(self, session, owner):
        self.session = session
        self.owner = owner
        self.decls: Dict[int, ast.VarDecl] = {}

    def _local(self, f: ast.FunctionDecl) -> ast.VarDecl:
        v = self.decls.get(id(f))
        if v is None:
            idx = self.session.overload_index.get(id(f), 0)
            # (functions stap synthesizes keep their own name: procfs $value)
            mangled = getattr(f, "mangled_name", None) or f"__global_{f.name}__overload_{idx}"
            name = f"__stable_{mangled}_value"
            for old in self.owner.locals:
                if old.name == name:
                    v = old
                    break
            else:
                v = ast.VarDecl(name, type=f.type, arity=0, loc=f.loc)
                self.owner.locals.append(v)
            self.decls[id(f)] = v
        return v

    def _calls_in_expr(self, e, found: List[ast.FunctionDecl]):
        """Replace stable calls inside expression e; return the new e."""
        hoister = self

        class T(ast.Transformer):
            def visit_FunctionCall(self, n):
                self.generic_visit(n)
                if len(n.referents) == 1 and not n.args and _is_stable(n.referents[0]):
                    f = n.referents[0]
                    if all(x is not f for x in found):
                        found.append(f)
                    v = hoister._local(f)
                    return ast.Symbol(v.name, referent=v, type=v.type, loc=n.loc,
                                      tok_desc=n.tok_desc)
                return n

        return T().visit(e) if e is not None else None

    def _assigns(self, found) -> List[ast.Stmt]:
        """stap inserts each hoisted call at the block's start as it finds
        it, so the last one found comes first."""
        out = []
        for f in reversed(found):
            v = self._local(f)
            call = ast.FunctionCall(f.name, [], referents=[f], type=f.type, loc=f.loc)
            lhs = ast.Symbol(v.name, referent=v, type=v.type, loc=f.loc)
            out.append(ast.ExprStatement(ast.Assignment("=", lhs, call, type=f.type, loc=f.loc),
                                         loc=f.loc))
        return out

    def stmt(self, s, found):
        """Process statement s whose direct calls belong to `found`'s list."""
        if isinstance(s, ast.Block):
            self.block(s)
            return s
        if isinstance(s, ast.ExprStatement):
            s.value = self._calls_in_expr(s.value, found)
        elif isinstance(s, ast.ReturnStatement):
            s.value = self._calls_in_expr(s.value, found)
        elif isinstance(s, ast.DeleteStatement):
            s.value = self._calls_in_expr(s.value, found)
        elif isinstance(s, ast.IfStatement):
            s.cond = self._calls_in_expr(s.cond, found)
            s.then = self.slot(s.then)
            if s.else_ is not None:
                s.else_ = self.slot(s.else_)
        elif isinstance(s, ast.ForLoop):
            if s.init is not None:
                s.init = self.stmt(s.init, found)
            s.cond = self._calls_in_expr(s.cond, found)
            if s.incr is not None:
                s.incr = self.stmt(s.incr, found)
            s.body = self.slot(s.body)
        elif isinstance(s, ast.ForeachLoop):
            if s.limit is not None:
                s.limit = self._calls_in_expr(s.limit, found)
            s.body = self.slot(s.body)
        elif isinstance(s, ast.TryBlock):
            self.block(s.try_block)
            self.block(s.catch_block)
        return s

    def slot(self, s):
        if isinstance(s, ast.Block):
            self.block(s)
            return s
        found: List[ast.FunctionDecl] = []
        s = self.stmt(s, found)
        if found:
            return ast.Block(self._assigns(found) + [s], loc=s.loc)
        return s

    def block(self, b: ast.Block):
        found: List[ast.FunctionDecl] = []
        b.statements = [self.stmt(s, found) for s in b.statements]
        if found:
            b.statements = self._assigns(found) + b.statements


def hoist_stable_calls(session) -> None:
    owners = list(session.probes) + [f for f in session.functions if isinstance(f.body, ast.Block)]
    for o in owners:
        _Hoister(session, o).block(o.body)
