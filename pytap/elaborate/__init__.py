"""Pass 2: elaboration (stap's semantic_pass).

    elaborate(script, opts) -> Session
    elaborate_source(text, tapset_dirs=None, options=None, filename="<input>") -> Session

Steps, in stap's order: derive probes (alias expansion + point resolution,
aliases.py), resolve symbols pulling in tapset files on demand (symbols.py),
infer types (types.py), optimize (optimize.py), prune, add the probes that
print write-only globals at exit (globals_at_exit.py).
"""
from __future__ import annotations

import sys
from typing import List, Optional

from .. import ast
from ..diagnostics import PassFailed, StapError
from ..options import Options
from .session import DerivedProbe, Session
from .report import Reporter

__all__ = ["elaborate", "elaborate_source", "Session", "DerivedProbe"]

FOOTER = "Pass 2: analysis failed.  [man error::pass2]"


def elaborate_source(text: str, tapset_dirs=None, options: Optional[Options] = None,
                     filename: str = "<input>") -> Session:
    """Library entry: parse `text` and elaborate it."""
    from ..parser import parse
    opts = options or Options()
    if tapset_dirs is not None:
        if isinstance(tapset_dirs, (str, bytes)):
            tapset_dirs = [tapset_dirs]
        opts.include_dirs = list(tapset_dirs[:-1]) + list(opts.include_dirs)
        opts.tapset_dir = str(tapset_dirs[-1]) if tapset_dirs else opts.tapset_dir
    from ..diagnostics import SOURCES
    SOURCES.add(filename, text)
    script = parse(text, filename, opts)
    return elaborate(script, opts)


def elaborate(script: ast.StapFile, opts: Optional[Options] = None, library=None,
              stream=None) -> Session:
    opts = opts or Options()
    rep = Reporter(opts, stream)
    try:
        return _elaborate(script, opts, library, rep)
    finally:
        rep.finish()


def _fail(rep: Reporter, errors: List[StapError]):
    from .report import footer_for
    rep.flush_warnings()
    d = rep.diagnostics(errors)
    footer = footer_for(d, FOOTER)
    if rep.suppressed and not rep.opts.suppress_warnings:
        # stap counts suppressed warnings after the pass footer
        footer += (f"\nNumber of similar warning messages suppressed: {rep.suppressed}.\n"
                   "Rerun with -v to see them.")
        rep.suppressed = 0
    raise PassFailed(footer, d)


def _elaborate(script, opts, library, rep) -> Session:
    from ..tapsets import TapsetLibrary
    from .aliases import AliasTable, Deriver
    from .symbols import SymbolTable, resolve_function, resolve_probe
    from .types import infer_types
    from .optimize import Optimizer, prune_locals
    from .globals_at_exit import add_exit_printers
    from .procfs_value import add_procfs_embed, check_procfs_paths, expand_procfs_values

    lib = library if library is not None else TapsetLibrary(opts)
    errors: List[StapError] = []
    table = AliasTable(lib)
    syms = SymbolTable(script, lib, errors)
    deriver = Deriver(table, errors)
    session = Session(options=opts, script=script)

    # derive probes file by file: the script, then every tapset file that
    # symbol resolution pulls in (its own probes join the session)
    queue = [script]
    pending_fns: list = []
    while queue:
        f = queue.pop(0)
        table.add_file(f)
        for p in f.probes:
            for dp in deriver.derive(p):
                _pull_alias_files(syms, lib, dp)
                expand_procfs_values(syms, dp, errors)
                resolve_probe(syms, dp, pending_fns)
                session.probes.append(dp)
            while pending_fns:
                resolve_function(syms, pending_fns.pop(0), pending_fns)
        queue.extend(syms.new_files)
        syms.new_files = []
    session.files = syms.files
    rep.user_files = {script.name}
    for f in syms.files:
        session.embeds.extend(f.embeds)
    check_procfs_paths(session, errors)
    add_procfs_embed(session)
    if errors:
        _fail(rep, errors)

    session.functions = list(syms.used_functions)
    _number_overloads(session, syms)
    _collect_globals(session, syms)
    from .checks import check_after_types, check_conditions, check_lvalues, check_deletes
    check_conditions(session, errors)
    if errors:
        _fail(rep, errors)
    _warn_never_assigned(session, syms, rep)
    if not opts.unoptimized:
        # (stap makes this check while optimizing: -u skips it)
        check_lvalues(session, errors)
        if errors:
            _fail(rep, errors)
    if not session.probes:
        _fail(rep, [StapError("no probes found")])

    from .targets import check_targets
    check_targets(session, errors)       # reported with the type errors

    # stap optimizes before it checks types: what it elides is never
    # type-checked, and its warnings come first
    if not opts.unoptimized:
        opt = Optimizer(session, rep.warn)
        opt.run()
        for p in session.probes:
            prune_locals(p)
        for f in session.functions:
            if isinstance(f.body, ast.Block):
                prune_locals(f)
        opt.elide_empty_probes()
        _prune_functions(session)
        _collect_globals(session, syms)
    if not session.probes:
        _fail(rep, [StapError("no probes found")])

    # (target-variable errors wait for the type errors; these do not)
    delete_errors: List[StapError] = []
    check_deletes(session, delete_errors)
    if delete_errors:
        _fail(rep, delete_errors)
    from .types import check_print_formats
    check_print_formats(session, errors)
    infer_types(session, errors)
    if errors:
        _fail(rep, errors)
    check_after_types(session, errors)
    if errors:
        _fail(rep, errors)
    if not opts.unoptimized:
        from .dedup import merge_duplicate_functions
        merge_duplicate_functions(session)
        _collect_globals(session, syms)

    _add_condition_begin(session, opts)
    if not opts.unoptimized:
        from .stable import hoist_stable_calls
        hoist_stable_calls(session)
    add_exit_printers(session)
    for i, p in enumerate(session.probes):
        p.index = i
    rep.flush_warnings()
    return session


def _pull_alias_files(syms, lib, dp) -> None:
    """A tapset file whose alias a probe uses joins the session, as in
    stap: its globals (private ones included: input.line's prologue keeps
    its state in one) resolve, its own probes are derived too."""
    for d in dp.derivation:
        if isinstance(d, ast.ProbeAlias) and d.loc.file and hasattr(lib, "parsed"):
            f = lib.parsed(d.loc.file)
            if f is not None:
                syms.pull(f)


def _number_overloads(session: Session, syms) -> None:
    """stap names overloads by declaration order among same-name functions."""
    for name, fns in syms.functions.items():
        for i, f in enumerate(fns):
            session.overload_index[id(f)] = i


def _reachable_functions(session: Session) -> list:
    seen, order = set(), []

    class V(ast.Visitor):
        def visit_FunctionCall(self, n):
            self.generic_visit(n)
            for f in n.referents:
                if id(f) not in seen:
                    seen.add(id(f))
                    order.append(f)
                    if isinstance(f.body, ast.Node):
                        self.visit(f.body)

    v = V()
    for p in session.probes:
        if p.condition is not None:
            v.visit(p.condition)
        v.visit(p.body)
    return order


def _prune_functions(session: Session) -> None:
    live = {id(f) for f in _reachable_functions(session)}
    session.functions = [f for f in session.functions if id(f) in live]


def _collect_globals(session: Session, syms) -> None:
    """Globals some live body refers to, in declaration order."""
    used = set()

    class V(ast.Visitor):
        def visit_Symbol(self, n):
            if n.referent is not None:
                used.add(id(n.referent))

    for p in session.probes:
        V().visit(p.body)
        if p.condition is not None:
            V().visit(p.condition)
    for f in session.functions:
        if isinstance(f.body, ast.Node):
            V().visit(f.body)
    for g in syms.global_order:
        g._is_global = True
    script = session.script
    own = [g for g in script.globals] if script is not None else []
    own_ids = {id(g) for g in own}
    order = own + [g for g in syms.ref_order if id(g) not in own_ids] + \
        [g for g in syms.global_order if id(g) not in own_ids]
    seen, out = set(), []
    for g in order:
        if id(g) in used and id(g) not in seen:
            seen.add(id(g))
            out.append(g)
    session.globals = out


def _warn_never_assigned(session: Session, syms, rep) -> None:
    """stap: "never-assigned local variable 'x'" at its first use, and the
    same for globals that nothing writes and nothing initialises."""
    from .optimize import _reads_writes
    from .aliases import similar_names
    all_writes = set()
    owners = list(session.probes) + [f for f in session.functions if isinstance(f.body, ast.Node)]
    for o in owners:
        reads, writes = set(), set()
        _reads_writes(o.body, reads, writes)
        all_writes |= writes
        for v in o.locals:
            if id(v) not in writes:
                rep.warn(f"never-assigned local variable '{v.name}'", v, f"identifier '{v.name}'")
    names = [g.name for g in syms.global_order]
    for g in syms.global_order:
        if g.init is None and id(g) not in all_writes and _global_used(session, g) \
                and not getattr(g, "file_name", "").startswith("/usr/share/systemtap"):
            if g.file_name and session.script is not None and g.file_name != session.script.name:
                continue
            # stap's list starts with the variable itself
            sim = ([g.name] + [n for n in similar_names(g.name, names) if n != g.name])[:5]
            rep.warn(f"never-assigned global variable '{g.name}' (similar: {', '.join(sim)})",
                     g, f"identifier '{g.name}'")


def _global_used(session: Session, g) -> bool:
    found = [False]

    class V(ast.Visitor):
        def visit_Symbol(self, n):
            if n.referent is g:
                found[0] = True

    for p in session.probes:
        V().visit(p.body)
    return found[0]


def _add_condition_begin(session: Session, opts) -> None:
    """stap adds one empty `begin` probe when a probe condition reads a
    global (it is where the condition state starts)."""
    uses = [False]

    class V(ast.Visitor):
        def visit_Symbol(self, n):
            if n.referent is not None and getattr(n.referent, "_is_global", False):
                uses[0] = True

    for p in session.probes:
        if p.condition is not None:
            V().visit(p.condition)
    if not uses[0]:
        return
    from .globals_at_exit import resolve_synthetic
    point = ast.ProbePoint([ast.ProbePointComponent("begin")])
    body = ast.Block([] if opts.unoptimized else [ast.NullStatement()])
    user = ast.Probe([point], body)
    rp = resolve_synthetic(point)
    session.probes.append(DerivedProbe(point=point, derivation=[user], body=body,
                                       resolved=rp, synthetic=True, origin=user))


# `pytap.elaborate(source, ...)` is the library entry (pytap/__init__.py),
# but importing this subpackage rebinds the name `pytap.elaborate` to the
# module.  Make the module itself callable with the same signature so both
# spellings keep working.
import types as _types  # noqa: E402


class _CallableModule(_types.ModuleType):
    def __call__(self, source, tapset_dirs=None, options=None, filename="<input>"):
        return elaborate_source(source, tapset_dirs=tapset_dirs, options=options,
                                filename=filename)


sys.modules[__name__].__class__ = _CallableModule
