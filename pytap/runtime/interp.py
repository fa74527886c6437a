"""A tree-walking interpreter for elaborated probe handlers.

Runs begin/end/error probes and the "user"-mode handlers of kernel events
(DESIGN.md pass 3) with SystemTap's semantics:

- longs are s64 and wrap; / and % truncate like C and raise
  "division by 0"; strings are cut to MAXSTRINGLEN-1 characters;
- globals live in a GlobalStore, locals in a per-call frame;
- reading a missing array element gives 0 / "" without creating it;
- foreach iterates a snapshot, sorted by key or value on request;
- MAXACTION (statements per handler; x10 for begin/end/error, which stap
  runs "interruptible") and MAXNESTING (function call depth) end the
  handler with stap's run-time errors;
- exit() only marks the session as stopping: the handler runs to its end,
  then run_probe raises ExitRequested.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional

from .. import ast
from . import builtins as _builtins
from .errors import CapturedError, ExitRequested, ScriptRuntimeError
from .format import (FormatError, from_bytes, stap_print, stap_printd, stap_sprintf,
                     to_bytes, to_s64, unescape)
from .histogram import render_linear, render_log
from .stats import Stat, cdiv, cmod
from .store import GlobalStore


@dataclass
class ProbeContext:
    """What a user-mode handler may ask about the event that fired it."""
    pid: int = 0
    tid: int = 0
    ppid: int = 0
    uid: int = 0
    gid: int = 0
    euid: int = 0
    cpu: int = 0
    execname: str = ""
    pp: str = ""
    probefunc: str = ""
    target: int = 0
    ktime_ns: int = 0
    # $name -> value snapshot for target variables (filled by codegen's
    # trigger records when it supports them)
    target_values: Dict[str, Any] = field(default_factory=dict)
    # set by the interpreter while a handler runs
    interp: Any = None
    exit_requested: bool = False
    last_match: Any = None          # re.Match of the last =~, for matched()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Next(Exception):
    pass


class _Return(Exception):
    def __init__(self, value):
        self.value = value


_ARITH = {"+", "-", "*", "/", "%", "<<", ">>", ">>>", "&", "|", "^"}


def _default(type_: Optional[str]):
    return "" if type_ == "string" else 0


def int_params(params) -> List[int]:
    """HistOp/StatOp parameters as ints (literal Number nodes or ints)."""
    out = []
    for p in params or []:
        if isinstance(p, ast.Number):
            out.append(to_s64(p.value))
        elif isinstance(p, ast.Unary) and p.op == "-" and isinstance(p.operand, ast.Number):
            out.append(to_s64(-p.operand.value))
        else:
            out.append(int(p))
    return out


def shift_left(x: int, n: int) -> int:
    # stap emits `(int64_t)x << (n & 63)`
    return to_s64(x << (n & 63))


def shift_right(x: int, n: int) -> int:
    return x >> (n & 63)


def shift_right_logical(x: int, n: int) -> int:
    return to_s64((x & ((1 << 64) - 1)) >> (n & 63))


class _HasLoop(Exception):
    pass


class _StaticCost:
    """Statement counts of loop-free code, the way stap's translator sizes
    its `actionremaining < N` pre-check: a statement costs 1, an if costs
    1 plus its dearer branch, a call adds the callee's own cost (0 for
    native functions and for recursion)."""

    def __init__(self, interp: "Interpreter"):
        self.interp = interp
        self.active: set = set()

    def probe_cost(self, body) -> Optional[int]:
        try:
            return self.stmt(body)
        except _HasLoop:
            return None

    def stmt(self, s) -> int:
        if s is None:
            return 0
        if isinstance(s, (ast.ForLoop, ast.ForeachLoop)):
            raise _HasLoop()
        if isinstance(s, ast.Block):
            return sum(self.stmt(x) for x in s.statements)
        if isinstance(s, ast.IfStatement):
            return 1 + self.expr(s.cond) + max(self.stmt(s.then), self.stmt(s.else_))
        if isinstance(s, ast.TryBlock):
            return 1 + self.stmt(s.try_block) + self.stmt(s.catch_block)
        return 1 + self.expr(s)

    def expr(self, node) -> int:
        """Cost of the script functions an expression calls."""
        total = 0
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.FunctionCall):
                for d in n.referents or self.interp.functions.get(n.name, []):
                    if isinstance(d.body, ast.Block) and id(d) not in self.active:
                        self.active.add(id(d))
                        try:
                            total += self.stmt(d.body)
                        finally:
                            self.active.discard(id(d))
                        break
            if isinstance(n, ast.Node):
                for f in fields(n):
                    if f.name in ("loc", "tok_desc", "referent", "referents", "type"):
                        continue
                    v = getattr(n, f.name)
                    if isinstance(v, ast.Node) and not isinstance(v, ast.Stmt):
                        stack.append(v)
                    elif isinstance(v, list):
                        stack.extend(x for x in v if isinstance(x, ast.Node)
                                     and not isinstance(x, ast.Stmt))
        return total


def posix_ere_to_python(pattern: str) -> str:
    """Translate a POSIX extended regex to Python's re syntax: bracket
    classes ([:alpha:] ...) and escape Python-only specials."""
    classes = {
        "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
        "lower": "a-z", "space": " \\t\\n\\r\\f\\v", "blank": " \\t",
        "punct": "!-/:-@\\[-`{-~", "xdigit": "0-9A-Fa-f", "cntrl": "\\x00-\\x1f\\x7f",
        "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e", "word": "a-zA-Z0-9_",
    }
    out = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(pattern[i:i + 2])
            i += 2
        elif ch == "[":
            # copy a bracket expression, translating [:class:]
            j = i + 1
            out.append("[")
            if j < n and pattern[j] == "^":
                out.append("^")
                j += 1
            if j < n and pattern[j] == "]":
                out.append("\\]")
                j += 1
            while j < n and pattern[j] != "]":
                if pattern.startswith("[:", j):
                    end = pattern.find(":]", j + 2)
                    if end > 0:
                        out.append(classes.get(pattern[j + 2:end], ""))
                        j = end + 2
                        continue
                c = pattern[j]
                out.append("\\" + c if c in "\\[" else c)
                j += 1
            out.append("]")
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class Interpreter:
    def __init__(self, session, store: GlobalStore, write: Callable[[str], None], opts=None):
        self.session = session
        self.store = store
        self.write = write
        self.opts = opts if opts is not None else getattr(session, "options", None)
        d = self.opts.define_int if self.opts is not None else (lambda n, v: v)
        self.maxstringlen = d("MAXSTRINGLEN", 128)
        self.maxaction = d("MAXACTION", 1000)
        self.maxaction_interruptible = d("MAXACTION_INTERRUPTIBLE", self.maxaction * 10)
        self.maxnesting = d("MAXNESTING", 10)
        self.hist_elision = d("HIST_ELISION", 2)
        self.global_ids = {id(g): g for g in getattr(session, "globals", [])}
        self.global_names = {g.name: g for g in getattr(session, "globals", [])}
        self.functions: Dict[str, List[ast.FunctionDecl]] = {}
        for f in getattr(session, "functions", []):
            self.functions.setdefault(f.name, []).append(f)
        self._regex_cache: Dict[str, re.Pattern] = {}
        self._fmt_cache: Dict[int, str] = {}
        self.ctx: ProbeContext = ProbeContext()
        self.frame: Dict[str, Any] = {}
        self.actions = 0
        self.pending = 0
        self.action_limit = self.maxaction
        self.nesting = -1
        self.exit_requested = False
        self.cur_stmt: Optional[ast.Node] = None
        self._static_costs: Dict[int, Optional[int]] = {}
        # global name -> {key: value or Stat} while a foreach walks it: the
        # body reads the values the loop sorted, as under stap's array lock,
        # although BPF handlers keep writing the map meanwhile.  Our own
        # write to that array drops the snapshot (see _thaw).
        self._frozen: Dict[str, dict] = {}
        # each script call level takes a few dozen Python frames
        need = self.maxnesting * 80 + 1000
        if sys.getrecursionlimit() < need:
            sys.setrecursionlimit(need)
        self._declare_linear_histograms()

    def _declare_linear_histograms(self) -> None:
        """A MemoryStore must know which aggregates keep linear buckets
        (@hist_linear(x, start, stop, interval) anywhere in the session)."""
        specs = getattr(self.store, "hist_specs", None)
        if specs is None:
            return
        found: Dict[str, tuple] = {}
        interp = self

        from .report import TreeVisitor

        shifts = getattr(self.store, "stat_shifts", None)

        class _Find(TreeVisitor):
            def visit_StatOp(self, node):
                if node.op == "variance" and node.params and shifts is not None:
                    base = node.stat.base if isinstance(node.stat, ast.ArrayIndex) else node.stat
                    if isinstance(base, ast.Symbol):
                        g = interp._global_of(base)
                        if g is not None:
                            shifts.setdefault(g.name, int_params(node.params)[0])
                self.generic_visit(node)

            def visit_HistOp(self, node):
                if node.kind == "linear" and len(node.params) >= 3:
                    base = node.stat.base if isinstance(node.stat, ast.ArrayIndex) else node.stat
                    if isinstance(base, ast.Symbol):
                        g = interp._global_of(base)
                        if g is not None:
                            found.setdefault(g.name, tuple(int_params(node.params)[:3]))
                self.generic_visit(node)

        finder = _Find()
        for p in getattr(self.session, "probes", []):
            finder.visit(p.body)
        for f in getattr(self.session, "functions", []):
            if isinstance(f.body, ast.Node):
                finder.visit(f.body)
        for name, spec in found.items():
            specs.setdefault(name, spec)

    # ----------------------------------------------------------- entry
    def init_globals(self) -> None:
        """Give globals their declared initial values (`global x = 5`,
        -G NAME=VALUE)."""
        overrides = getattr(self.opts, "globals_init", {}) or {}
        for g in getattr(self.session, "globals", []):
            if g.name in overrides:
                raw = overrides[g.name]
                if g.type == "string":
                    val = raw
                else:
                    try:
                        val = to_s64(int(raw, 0))
                    except ValueError:
                        val = 0
                self.store.set(g.name, (), val)
            elif g.init is not None and g.type != "stats" and (g.arity or 0) <= 0:
                self.store.set(g.name, (), self.literal(g.init))

    def literal(self, e: ast.Expr):
        if isinstance(e, ast.Number):
            return to_s64(e.value)
        if isinstance(e, ast.String):
            return self.clip(unescape(e.value))
        if isinstance(e, ast.Unary) and e.op == "-":
            return to_s64(-self.literal(e.operand))
        return self.eval(e)

    def run_probe(self, probe, ctx: Optional[ProbeContext] = None) -> None:
        """Run one derived probe's handler.  Raises ScriptRuntimeError on a
        run-time error and ExitRequested when exit() was called."""
        self.ctx = ctx if ctx is not None else ProbeContext()
        self.ctx.interp = self
        self.ctx.probe = probe          # pn()/pnlabel() name it
        self.ctx.exit_requested = False
        self.actions = 0
        self.pending = 0
        family = getattr(getattr(probe, "resolved", None), "family", None)
        if family is None:
            pt = getattr(probe, "point", None)
            family = pt.components[0].functor if pt is not None and pt.components else ""
        # (procfs handlers run in process context too: a prometheus dump
        # of a large array gets the same budget as begin/end)
        interruptible = family in ("begin", "end", "error", "procfs")
        self.action_limit = self.maxaction_interruptible if interruptible else self.maxaction
        self.nesting = -1
        self.frame = {}
        for v in getattr(probe, "locals", []) or []:
            self.frame[v.name] = _default(v.type)
        try:
            cond = getattr(probe, "condition", None)
            if cond is not None and not self.truth(self.eval(cond)):
                return
            static_cost = self._static_cost(probe)
            if static_cost is not None and self.action_limit < static_cost:
                # stap checks a loop-free handler's whole cost up front, with
                # no statement to name
                raise ScriptRuntimeError("MAXACTION exceeded")
            try:
                self.exec(probe.body)
            except _Next:
                pass
            except _Return:
                pass
            except (_Break, _Continue):
                pass                  # elaboration rejects these outside loops
            except ExitRequested:
                self.exit_requested = True     # abort(): handler stops at once
                raise
            except ScriptRuntimeError:
                raise
            except RecursionError:
                raise self.error("MAXNESTING exceeded", self.cur_stmt) from None
            except Exception as err:  # an interpreter bug must not be a traceback
                raise self.error(f"internal error in user-space handler: "
                                 f"{type(err).__name__}: {err}", self.cur_stmt) from err
            if static_cost is None:
                self._check_actions(probe.body)
        finally:
            self.frame = {}
        if self.ctx.exit_requested:
            self.exit_requested = True
            raise ExitRequested()

    # ----------------------------------------------------------- helpers
    def clip(self, s: str) -> str:
        """Cut a string to MAXSTRINGLEN-1 bytes, as stap's fixed buffers do."""
        lim = self.maxstringlen - 1
        if len(s) <= lim and (s.isascii() or len(to_bytes(s)) <= lim):
            return s
        return from_bytes(to_bytes(s)[:lim])

    @staticmethod
    def truth(v) -> bool:
        return bool(v) if not isinstance(v, str) else v != ""

    def error(self, msg: str, node: Optional[ast.Node], tok_desc: str = "") -> ScriptRuntimeError:
        loc = node.loc if node is not None else None
        return ScriptRuntimeError(msg, loc, tok_desc or (node.tok_desc if node is not None else ""))

    def _static_cost(self, probe) -> Optional[int]:
        """For a handler without loops: the most statements one run can
        execute (called script functions included, as stap's pre-check
        counts them); None when the handler has a loop."""
        key = id(probe)
        if key not in self._static_costs:
            self._static_costs[key] = _StaticCost(self).probe_cost(probe.body)
        return self._static_costs[key]

    # MAXACTION accounting, shaped like stap's generated code: each
    # statement costs 1 and a loop 1 more per iteration; the budget is
    # checked when a loop starts, at the end of each iteration (near the
    # body's last statement), every 10 straight-line statements, and at
    # the end of the handler (near its opening brace).
    def _count_action(self, stmt: ast.Stmt) -> None:
        self.actions += 1
        self.pending += 1
        if self.pending >= 10:
            self._check_actions(stmt)

    def _check_actions(self, node: ast.Node) -> None:
        self.pending = 0
        if self.actions >= self.action_limit:
            node = ast.first_token(node)
            raise self.error("MAXACTION exceeded", node)

    def _loop_iteration_done(self, body: ast.Stmt) -> None:
        self.actions += 1
        last = body
        while isinstance(last, ast.Block) and last.statements:
            last = last.statements[-1]
        self._check_actions(last)

    def _global_of(self, sym: ast.Symbol) -> Optional[ast.VarDecl]:
        ref = sym.referent
        if ref is not None:
            return self.global_ids.get(id(ref))
        if sym.name in self.frame:
            return None
        return self.global_names.get(sym.name)

    def _sym_desc(self, sym: ast.Node) -> str:
        if sym.tok_desc:
            return sym.tok_desc
        name = getattr(sym, "name", "")
        return f"identifier '{name}'" if name else ""

    def _with_loc(self, err: ScriptRuntimeError, node: ast.Node) -> ScriptRuntimeError:
        """Store errors carry no location: give them the identifier's."""
        if err.loc is None:
            err.loc = node.loc
            err.tok_desc = self._sym_desc(node)
        return err

    def _keys(self, idx: ast.ArrayIndex) -> tuple:
        return tuple(self.eval(i) for i in idx.indexes)

    # ----------------------------------------------------------- statements
    def exec(self, s: ast.Stmt) -> None:
        meth = getattr(self, "exec_" + type(s).__name__, None)
        if meth is None:
            raise self.error(f"unsupported statement {type(s).__name__}", s)
        if not isinstance(s, ast.Block):
            self.cur_stmt = s
            self._count_action(s)
        meth(s)

    def exec_Block(self, s: ast.Block) -> None:
        for st in s.statements:
            self.exec(st)

    def exec_NullStatement(self, s) -> None:
        pass

    def exec_EmbeddedCode(self, s) -> None:
        raise self.error("embedded C cannot run in user space", s)

    def exec_ExprStatement(self, s: ast.ExprStatement) -> None:
        self.eval(s.value)

    def exec_IfStatement(self, s: ast.IfStatement) -> None:
        if self.truth(self.eval(s.cond)):
            self.exec(s.then)
        elif s.else_ is not None:
            self.exec(s.else_)

    def exec_ForLoop(self, s: ast.ForLoop) -> None:
        if s.init is not None:
            self._exec_uncounted(s.init)
        self._check_actions(s)
        while True:
            if s.cond is not None and not self.truth(self.eval(s.cond)):
                break
            try:
                self.exec(s.body)
            except _Break:
                break
            except _Continue:
                pass
            self._loop_iteration_done(s.body)
            if s.incr is not None:
                self._exec_uncounted(s.incr)

    def _exec_uncounted(self, s: ast.Stmt) -> None:
        """for-loop init/increment: expressions in stap, no action cost."""
        if isinstance(s, ast.ExprStatement):
            self.eval(s.value)
        else:
            self.exec(s)

    def exec_BreakStatement(self, s) -> None:
        raise _Break()

    def exec_ContinueStatement(self, s) -> None:
        raise _Continue()

    def exec_NextStatement(self, s) -> None:
        raise _Next()

    def exec_ReturnStatement(self, s: ast.ReturnStatement) -> None:
        raise _Return(self.eval(s.value) if s.value is not None else None)

    def exec_TryBlock(self, s: ast.TryBlock) -> None:
        try:
            self.exec(s.try_block)
        except ScriptRuntimeError as e:
            if s.catch_var is not None:
                self.assign_to(s.catch_var, e.message)
            self.exec(s.catch_block)

    def exec_DeleteStatement(self, s: ast.DeleteStatement) -> None:
        target = s.value
        if isinstance(target, ast.ArrayIndex):
            g = self._global_of(target.base) if isinstance(target.base, ast.Symbol) else None
            if g is None:
                raise self.error("cannot delete this", s)
            self._thaw(g.name)
            if any(i is None for i in target.indexes):
                pattern = [None if i is None else self.eval(i) for i in target.indexes]
                for key, _ in self._elements(g):
                    if all(p is None or p == k for p, k in zip(pattern, key)):
                        self.store.delete(g.name, key)
            else:
                self.store.delete(g.name, self._keys(target))
            return
        if isinstance(target, ast.Symbol):
            g = self._global_of(target)
            if g is not None:
                self._thaw(g.name)
                self.store.delete(g.name, None if (g.arity or 0) > 0 else ())
                if (g.arity or 0) <= 0 and g.type != "stats":
                    self.store.set(g.name, (), _default(g.type))
            else:
                self.frame[target.name] = _default(target.type or getattr(target.referent, "type", None))
            return
        raise self.error("cannot delete this", s)

    def _elements(self, g: ast.VarDecl):
        if g.type == "stats":
            return self.store.stat_items(g.name)
        return self.store.items(g.name)

    def _frozen_get(self, name: str, keys: tuple, live):
        snap = self._frozen.get(name)
        if snap is not None and keys in snap:
            return snap[keys]
        return live(name, keys)

    def _thaw(self, name: str) -> None:
        self._frozen.pop(name, None)

    def exec_ForeachLoop(self, s: ast.ForeachLoop) -> None:
        name = None
        g = self._global_of(s.base) if isinstance(s.base, ast.Symbol) else None
        if g is not None:
            name = g.name
        had, before = (name in self._frozen), self._frozen.get(name)
        try:
            self._foreach(s, name)
        finally:
            if name is not None:
                if had:
                    self._frozen[name] = before
                else:
                    self._frozen.pop(name, None)

    def _foreach(self, s: ast.ForeachLoop, name: Optional[str]) -> None:
        self._raw_rows = None
        rows = self._foreach_rows(s)
        if name is not None and self._raw_rows is not None:
            self._frozen[name] = dict(self._raw_rows)
        limit = None
        if s.limit is not None:
            limit = self.eval(s.limit)
        count = 0
        self._check_actions(s)
        for key, value in rows:
            if limit is not None and count >= limit:
                break
            count += 1
            for sym, k in zip(s.indexes, key):
                self.assign_to(sym, k)
            if s.value is not None:
                self.assign_to(s.value, value)
            try:
                self.exec(s.body)
            except _Break:
                break
            except _Continue:
                continue
            self._loop_iteration_done(s.body)

    def _foreach_rows(self, s: ast.ForeachLoop):
        base = s.base
        if isinstance(base, ast.HistOp):
            st = self.stat_of(base.stat)
            buckets = self._hist_buckets(base, st)
            rows = [((i,), c) for i, c in enumerate(buckets)]
            is_stats = False
        else:
            g = self._global_of(base) if isinstance(base, ast.Symbol) else None
            if g is None:
                raise self.error("foreach over a non-array", base)
            is_stats = g.type == "stats"
            rows = list(self._elements(g))
        if s.array_slice:
            pattern = [None if e is None else self.eval(e) for e in s.array_slice]
            rows = [r for r in rows
                    if all(p is None or p == k for p, k in zip(pattern, r[0]))]
        col = s.sort_column
        if col is not None and s.sort_direction:
            reverse = s.sort_direction < 0
            if col == 0:
                if is_stats:
                    aggr = (s.sort_aggr or "count").lstrip("@")
                    if aggr in (".", ""):
                        aggr = "count"
                    keyf = lambda r: self._stat_value(aggr, r[1], None, None)  # noqa: E731
                else:
                    keyf = lambda r: r[1]  # noqa: E731
            else:
                keyf = lambda r: r[0][col - 1]  # noqa: E731
            rows.sort(key=keyf, reverse=reverse)
            reorder = getattr(self.store, "reorder", None)
            if reorder is not None and not is_stats and not s.array_slice \
                    and isinstance(base, ast.Symbol):
                reorder(g.name, [k for k, _ in rows])
        self._raw_rows = rows
        if is_stats:
            # the value variable of a stats array is the sort aggregate
            aggr = (s.sort_aggr or "count").lstrip("@")
            if aggr in (".", ""):
                aggr = "count"
            rows = [(k, v.count if aggr == "count" else self._stat_value(aggr, v, None, None))
                    for k, v in rows]
        return rows

    # ----------------------------------------------------------- expressions
    def eval(self, e: ast.Expr):
        tv = self.ctx.target_values
        if tv and id(e) in tv:
            # evaluated by the probe's BPF stub (codegen/capture.py)
            return self.captured(tv[id(e)])
        meth = getattr(self, "eval_" + type(e).__name__, None)
        if meth is None:
            raise self.error(f"unsupported expression {type(e).__name__}", e)
        return meth(e)

    @staticmethod
    def captured(value):
        """A value from the BPF stub; one it failed to evaluate raises its
        error now, where the handler reads it."""
        if isinstance(value, CapturedError):
            raise value.error
        return value

    def eval_Number(self, e: ast.Number):
        return to_s64(e.value)

    def eval_String(self, e: ast.String):
        cached = self._fmt_cache.get(id(e))
        if cached is None:
            cached = self._fmt_cache[id(e)] = self.clip(unescape(e.value))
        return cached

    def eval_Symbol(self, e: ast.Symbol):
        g = self._global_of(e)
        if g is not None:
            return self.store.get(g.name, ())
        if e.name in self.frame:
            return self.frame[e.name]
        return _default(e.type or getattr(e.referent, "type", None))

    def eval_TargetSymbol(self, e: ast.TargetSymbol):
        # captured by the probe's BPF stub, keyed by node (codegen's
        # CompiledProbe.captures); by name for hand-made contexts
        tv = self.ctx.target_values
        if id(e) in tv:
            return self.captured(tv[id(e)])
        if e.name in self.ctx.target_values:
            return self.ctx.target_values[e.name]
        raise self.error(f"target variable {e.name} is not available in user space", e)

    def eval_EntryOp(self, e: ast.EntryOp):
        tv = self.ctx.target_values
        if id(e) in tv:
            return self.captured(tv[id(e)])
        raise self.error("@entry is not available in user space", e)

    def arith(self, op: str, a: int, b: int, node: ast.Node) -> int:
        if op == "+":
            return to_s64(a + b)
        if op == "-":
            return to_s64(a - b)
        if op == "*":
            return to_s64(a * b)
        if op in ("/", "%"):
            if b == 0:
                raise self.error("division by 0", node, node.tok_desc or f"operator '{op}'")
            return cdiv(a, b) if op == "/" else cmod(a, b)
        if op == "<<":
            return shift_left(a, b)
        if op == ">>":
            return shift_right(a, b)
        if op == ">>>":
            return shift_right_logical(a, b)
        if op == "&":
            return to_s64(a & b)
        if op == "|":
            return to_s64(a | b)
        if op == "^":
            return to_s64(a ^ b)
        raise self.error(f"unknown operator {op}", node)

    def eval_Binary(self, e: ast.Binary):
        a = self.eval(e.left)
        b = self.eval(e.right)
        return self.arith(e.op, int(a), int(b), e)

    def eval_Unary(self, e: ast.Unary):
        v = self.eval(e.operand)
        if e.op == "-":
            return to_s64(-v)
        if e.op == "+":
            return v
        if e.op == "!":
            return 0 if self.truth(v) else 1
        if e.op == "~":
            return to_s64(~v)
        raise self.error(f"unknown operator {e.op}", e)

    def eval_LogicalOr(self, e):
        return 1 if (self.truth(self.eval(e.left)) or self.truth(self.eval(e.right))) else 0

    def eval_LogicalAnd(self, e):
        return 1 if (self.truth(self.eval(e.left)) and self.truth(self.eval(e.right))) else 0

    def eval_Comparison(self, e: ast.Comparison):
        a = self.eval(e.left)
        b = self.eval(e.right)
        op = e.op
        r = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
             ">": a > b, ">=": a >= b}[op]
        return 1 if r else 0

    def regex(self, raw: str, node) -> re.Pattern:
        rx = self._regex_cache.get(raw)
        if rx is None:
            try:
                rx = re.compile(posix_ere_to_python(unescape(raw)))
            except re.error as err:
                raise self.error(f"regex compilation error: {err}", node)
            self._regex_cache[raw] = rx
        return rx

    def eval_RegexMatch(self, e: ast.RegexMatch):
        text = self.eval(e.left)
        m = self.regex(e.right.value, e).search(str(text))
        self.ctx.last_match = m
        hit = m is not None
        return 1 if (hit if e.op == "=~" else not hit) else 0

    def eval_Concat(self, e: ast.Concat):
        return self.clip(str(self.eval(e.left)) + str(self.eval(e.right)))

    def eval_Ternary(self, e: ast.Ternary):
        return self.eval(e.truevalue) if self.truth(self.eval(e.cond)) else self.eval(e.falsevalue)

    # -- lvalues
    def read_lvalue(self, target: ast.Expr):
        if isinstance(target, ast.ArrayIndex):
            g = self._global_of(target.base)
            return self._frozen_get(g.name, self._keys(target), self.store.get) if g else 0
        return self.eval(target)

    def assign_to(self, target: ast.Expr, value, keys: Optional[tuple] = None):
        if isinstance(target, ast.Symbol):
            g = self._global_of(target)
            if g is not None:
                try:
                    self.store.set(g.name, (), value)
                except ScriptRuntimeError as err:
                    raise self._with_loc(err, target)
            else:
                self.frame[target.name] = value
            return value
        if isinstance(target, ast.ArrayIndex) and isinstance(target.base, ast.Symbol):
            g = self._global_of(target.base)
            if g is None:
                raise self.error("not an array", target)
            if keys is None:
                keys = self._keys(target)
            self._thaw(g.name)
            try:
                self.store.set(g.name, keys, value)
            except ScriptRuntimeError as err:
                raise self._with_loc(err, target.base)
            return value
        raise self.error("invalid assignment target", target)

    def eval_Assignment(self, e: ast.Assignment):
        # stap's order (-p3): the index, then the right side, then (for
        # compound operators) the old value, then the store
        op = e.op
        if op == "<<<":
            if isinstance(e.left, ast.ArrayIndex):
                keys = self._keys(e.left)
                v = self.eval(e.right)
                self.stat_add(e.left, v, keys)
            else:
                v = self.eval(e.right)
                self.stat_add(e.left, v)
            return v
        keys = self._keys(e.left) if isinstance(e.left, ast.ArrayIndex) else None
        rhs = self.eval(e.right)
        if op == "=":
            new = self.clip(rhs) if isinstance(rhs, str) else rhs
            return self.assign_to(e.left, new, keys)
        if keys is not None:
            g = self._global_of(e.left.base)
            old = self._frozen_get(g.name, keys, self.store.get) if g else 0
        else:
            old = self.eval(e.left)
        if op == ".=":
            new = self.clip(str(old) + str(rhs))
        else:
            new = self.arith(op[:-1], int(old), int(rhs), e)
        return self.assign_to(e.left, new, keys)

    def _crement(self, e, post: bool):
        target = e.operand
        keys = self._keys(target) if isinstance(target, ast.ArrayIndex) else None
        if keys is not None:
            g = self._global_of(target.base)
            old = self._frozen_get(g.name, keys, self.store.get) if g else 0
        else:
            old = self.eval(target)
        new = to_s64(old + (1 if e.op == "++" else -1))
        self.assign_to(target, new, keys)
        return old if post else new

    def eval_PreCrement(self, e):
        return self._crement(e, post=False)

    def eval_PostCrement(self, e):
        return self._crement(e, post=True)

    def eval_ArrayIndex(self, e: ast.ArrayIndex):
        if isinstance(e.base, ast.HistOp):
            st = self.stat_of(e.base.stat)
            buckets = self._hist_buckets(e.base, st)
            i = self.eval(e.indexes[0])
            return buckets[i] if 0 <= i < len(buckets) else 0
        g = self._global_of(e.base) if isinstance(e.base, ast.Symbol) else None
        if g is None:
            raise self.error("not an array", e)
        return self._frozen_get(g.name, self._keys(e), self.store.get)

    def eval_ArrayIn(self, e: ast.ArrayIn):
        idx = e.operand
        g = self._global_of(idx.base) if isinstance(idx.base, ast.Symbol) else None
        if g is None:
            raise self.error("not an array", e)
        if any(i is None for i in idx.indexes):
            pattern = [None if i is None else self.eval(i) for i in idx.indexes]
            return 1 if any(all(p is None or p == k for p, k in zip(pattern, key))
                            for key, _ in self._elements(g)) else 0
        return 1 if self.store.exists(g.name, self._keys(idx)) else 0

    # -- statistics
    def stat_add(self, target: ast.Expr, v: int, keys: Optional[tuple] = None) -> None:
        if isinstance(target, ast.ArrayIndex):
            sym = target.base
            if keys is None:
                keys = self._keys(target)
        else:
            sym, keys = target, ()
        g = self._global_of(sym) if isinstance(sym, ast.Symbol) else None
        if g is None:
            raise self.error("<<< needs a global aggregate", target)
        self._thaw(g.name)
        try:
            self.store.stat_add(g.name, keys, int(v))
        except ScriptRuntimeError as err:
            raise self._with_loc(err, sym)

    def stat_of(self, target: ast.Expr) -> Stat:
        if isinstance(target, ast.ArrayIndex):
            sym, keys = target.base, self._keys(target)
        else:
            sym, keys = target, ()
        g = self._global_of(sym) if isinstance(sym, ast.Symbol) else None
        if g is None:
            raise self.error("not an aggregate", target)
        return self._frozen_get(g.name, keys, self.store.stat)

    def _stat_value(self, op: str, st: Stat, e, params):
        if op == "count":
            return st.count
        if op == "sum":
            return st.sum
        if st.count == 0:
            raise self.error("empty aggregate", e)
        if op == "min":
            return st.min
        if op == "max":
            return st.max
        if op == "avg":
            return st.avg()
        if op == "variance":
            return st.variance(params[0] if params else st.shift)
        raise self.error(f"unknown statistic @{op}", e)

    def eval_StatOp(self, e: ast.StatOp):
        return self._stat_value(e.op, self.stat_of(e.stat), e, int_params(e.params))

    def _hist_buckets(self, h: ast.HistOp, st: Stat) -> List[int]:
        if h.kind == "log":
            return st.log
        start, stop, interval = (int_params(h.params) + [0, 0, 1])[:3]
        if st.linear is not None and st.linear_spec == (start, stop, interval):
            return st.linear
        # a Stat without these linear buckets: cannot rebuild counts
        raise self.error("histogram has no linear buckets", h)

    def render_hist(self, h: ast.HistOp, where: Optional[ast.Node] = None) -> str:
        st = self.stat_of(h.stat)
        if st.count == 0:
            raise self.error("empty aggregate", where or h)
        if h.kind == "log":
            return render_log(st, self.hist_elision)
        start, stop, interval = int_params(h.params)[:3]
        self._hist_buckets(h, st)
        return render_linear(st, start, stop, interval, self.hist_elision)

    def eval_HistOp(self, e: ast.HistOp):
        return self.render_hist(e)

    # -- printing
    def eval_PrintFormat(self, e: ast.PrintFormat):
        if e.hist is not None:
            # an empty histogram is reported near the print call (stap -p3)
            text = self.render_hist(e.hist, e)
            if e.newline:
                text += "\n"
        else:
            args = [self.eval(a) for a in e.args]
            if e.is_format:
                fmt = self._fmt_cache.get(id(e))
                if fmt is None:
                    fmt = self._fmt_cache[id(e)] = unescape(e.fmt or "")
                try:
                    text = stap_sprintf(fmt, args)
                except FormatError as err:
                    raise self.error(str(err), e)
                if e.newline:
                    text += "\n"
            elif e.is_delim:
                text = stap_printd(unescape(e.delimiter or ""), args, e.newline)
            else:
                text = stap_print(args, e.newline)
        if e.to_stream:
            self.write(text)
            return 0
        nul = text.find("\0")          # a C string ends at its first NUL
        return self.clip(text if nul < 0 else text[:nul])

    # -- calls
    def eval_FunctionCall(self, e: ast.FunctionCall):
        if id(e) in self.ctx.target_values:
            # taken by the BPF stub: event-state natives (backtrace() ...) and
            # kernel-only natives on event values (codegen/capture.py)
            return self.captured(self.ctx.target_values[id(e)])
        decls = e.referents or self.functions.get(e.name, [])
        args = [self.eval(a) for a in e.args]
        if not decls:
            return self.call_builtin(e.name, args, e)
        # `next` in a function falls through to the next overload (stap -p3);
        # after the last overload a lone function reports the call, an
        # overloaded one yields the default value
        for decl in decls:
            try:
                return self.call_function(decl, args, e)
            except _Next:
                continue
        if len(decls) == 1:
            raise self.error("all functions exhausted", e, e.tok_desc or f"identifier '{e.name}'")
        return _default(decls[-1].type)

    def call_builtin(self, name: str, args: list, node, decl=None):
        """Run a native function's Python twin.  An error it raises is
        placed where stap's last_stmt would point: the function's own
        declaration (its prologue sets it), else the call."""
        fn = _builtins.BUILTINS.get(name)
        if fn is None:
            raise self.error(f"function {name}() has no user-space implementation", node)
        try:
            result = fn(self.ctx, *args)
        except ScriptRuntimeError as err:
            if err.loc is None and not err.unlocated:
                where = decl if decl is not None and decl.loc.line > 0 else node
                err.loc = where.loc
                err.tok_desc = where.tok_desc or f"identifier '{name}'"
            raise
        if isinstance(result, str) and not getattr(result, "unclipped", False):
            result = self.clip(result)
        return result

    def call_function(self, decl: ast.FunctionDecl, args: list, node):
        if self.nesting + 1 >= self.maxnesting:
            # stap's function prologue names the function's own declaration
            raise self.error("MAXNESTING exceeded", decl,
                             decl.tok_desc or f"identifier '{decl.name}'")
        if isinstance(decl.body, ast.EmbeddedCode):
            self.nesting += 1
            try:
                # (functions pass 2 synthesizes name the twin they run)
                return self.call_builtin(getattr(decl, "twin_name", None) or decl.name,
                                         args, node, decl)
            finally:
                self.nesting -= 1
        saved = self.frame
        frame = {}
        for p, a in zip(decl.formal_args, args):
            frame[p.name] = a
        for v in decl.locals:
            frame.setdefault(v.name, _default(v.type))
        self.frame = frame
        self.nesting += 1
        try:
            self.exec(decl.body)
        except _Return as r:
            v = r.value
            if v is None:
                v = _default(decl.type)
            return self.clip(v) if isinstance(v, str) else v
        finally:
            self.nesting -= 1
            self.frame = saved
        return _default(decl.type)

    # -- not runnable in user space
    def eval_EmbeddedExpr(self, e):
        raise self.error("embedded C cannot run in user space", e)

    def eval_CastOp(self, e):
        """`&@cast(p, "T")->m[i]` in user space: address arithmetic over
        this kernel's types (@cast_sizeof, @offsetof); reading the kernel's
        memory is for BPF handlers only."""
        from ..codegen.btf_offsets import TypeView, kernel_types, parse_type, static_address
        base = self.eval(e.operand)
        mod = (e.module or "").strip()
        bt, ref = None, None
        if mod.startswith("<") and mod.endswith(">") or "/" in mod and not mod.startswith("kernel"):
            # a header's or a program's own types (see TargetMixin._cast_program)
            from ..platform import current
            from ..platform.dwarf import header_types
            dw = header_types(mod[1:-1]) if mod.startswith("<") else current().dwarf_info(mod)
            ref = dw.parse_type(e.type_name or "") if dw is not None else None
            if ref is None:
                raise self.error(f"unknown type '{e.type_name}' in {mod}", e)
        else:
            bt = kernel_types()
            ref = parse_type(bt, e.type_name or "") if bt is not None else None
        if ref is None:
            raise self.error(f"unknown type '{e.type_name}' in this kernel's BTF", e)
        if not e.addressof:
            raise self.error("@cast cannot read kernel memory in user space", e)

        def index_value(comp):
            if comp.index is not None and isinstance(comp.index, ast.Expr):
                return int(self.eval(comp.index))
            return int(comp.name or 0)
        try:
            return static_address(TypeView(bt), ref, int(base), e.components, index_value)
        except ValueError as err:
            raise self.error(f"@cast in user space: {err}", e)

    def eval_ConstOp(self, e):
        from ..codegen.kconst import ConstError, value
        try:
            return value(e.operand.value)
        except ConstError as err:
            raise self.error(str(err), e)

    def eval_DefinedOp(self, e: ast.DefinedOp):
        # elaboration normally folds @defined; a surviving one is false
        return 0
