"""Print the AST back in stap's dump syntax.

`dump_p1(file)` is exactly `stap -p1`: every sub-expression of an operator
is parenthesised, statements of a block each end with ';' on their own
line.  `print_expr` / `print_stmt` / `probe_point_text` are shared with the
pass-2 dump (pytap/elaborate/dump.py), which lays out blocks differently
(see `print_block_p2`).
"""
from __future__ import annotations

from typing import List

from . import ast


# ---------------------------------------------------------------- strings

def string_literal(raw: str) -> str:
    """A string literal as stap prints it: escapes as written."""
    return '"' + raw + '"'


def format_literal(raw: str) -> str:
    """A *printf format / printd delimiter: stap re-escapes its backslashes
    (the lexer only decoded \\" ), so `\\n` prints as `\\\\n`."""
    out = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            if nxt == '"':
                out.append('\\"')
            else:
                out.append("\\\\" + ("\\\\" if nxt == "\\" else nxt))
            i += 2
            continue
        if c == '"':
            out.append('\\"')
        else:
            out.append(c)
        i += 1
    return '"' + "".join(out) + '"'


# ---------------------------------------------------------------- expressions

def _p(e) -> str:
    return "(" + print_expr(e) + ")"


def _components(comps) -> str:
    out = []
    for c in comps:
        if c.kind == "member":
            out.append("->" + c.name)
        elif c.kind == "pretty":
            out.append("->" + c.name)
        else:
            idx = c.index
            out.append("[" + (print_expr(idx) if isinstance(idx, ast.Node) else str(idx)) + "]")
    return "".join(out)


def _index_list(indexes) -> str:
    return ", ".join("*" if i is None else print_expr(i) for i in indexes)


def print_expr(e) -> str:
    """One expression in stap's dump form (operands parenthesised)."""
    k = type(e).__name__
    f = _EXPR.get(k)
    if f is None:
        return f"<{k}>"
    return f(e)


def _number(e):
    return str(e.value)


def _hist(e):
    if e.kind == "log":
        return f"@hist_log({print_expr(e.stat)})"
    params = "".join(f", {v}" for v in e.params)
    return f"@hist_linear({print_expr(e.stat)}{params})"


def _print_format(e):
    parts = []
    if e.fmt is not None:
        parts.append(format_literal(e.fmt))
    if e.delimiter is not None:
        parts.append(format_literal(e.delimiter))
    if e.hist is not None:
        parts.append(print_expr(e.hist))
    parts.extend(print_expr(a) for a in e.args)
    return f"{e.print_name}({', '.join(parts)})"


def _stat(e):
    extra = "".join(f", {v}" for v in e.params)
    return f"@{e.op}({print_expr(e.stat)}{extra})"


def _cast(e):
    mod = f", {string_literal(e.module)}" if e.module is not None else ""
    amp = "&" if e.addressof else ""
    return f"{amp}@cast({print_expr(e.operand)}, {string_literal(e.type_name)}{mod}){_components(e.components)}"


def _atvar(e):
    name = getattr(e, "_raw_name", None)
    if name is None:
        name = e.target_name + ("@" + e.cu_name if e.cu_name else "")
    mod = f", {string_literal(e.module)}" if e.module is not None else ""
    amp = "&" if e.addressof else ""
    return f"{amp}@var({string_literal(name)}{mod}){_components(e.components)}"


def _target(e):
    amp = "&" if e.addressof else ""
    return amp + e.name + _components(e.components)


def _autocast(e):
    amp = "&" if e.addressof else ""
    return f"{amp}({print_expr(e.operand)}){_components(e.components)}"


_EXPR = {
    "Number": _number,
    "String": lambda e: string_literal(e.value),
    "EmbeddedExpr": lambda e: "%{ " + e.code + " %}",
    "Symbol": lambda e: e.name,
    "Binary": lambda e: f"{_p(e.left)} {e.op} {_p(e.right)}",
    "Comparison": lambda e: f"{_p(e.left)} {e.op} {_p(e.right)}",
    "RegexMatch": lambda e: f"{_p(e.left)} {e.op} {print_expr(e.right)}",
    "Concat": lambda e: f"{_p(e.left)} . {_p(e.right)}",
    "LogicalOr": lambda e: f"{_p(e.left)} || {_p(e.right)}",
    "LogicalAnd": lambda e: f"{_p(e.left)} && {_p(e.right)}",
    "Unary": lambda e: f"{e.op}{_p(e.operand)}",
    "PreCrement": lambda e: f"{e.op}{_p(e.operand)}",
    "PostCrement": lambda e: f"{_p(e.operand)}{e.op}",
    "Ternary": lambda e: f"{_p(e.cond)}?{_p(e.truevalue)}:{_p(e.falsevalue)}",
    "Assignment": lambda e: f"{_p(e.left)} {e.op} {_p(e.right)}",
    "ArrayIndex": lambda e: f"{print_expr(e.base)}[{_index_list(e.indexes)}]",
    "ArrayIn": lambda e: f"[{_index_list(e.operand.indexes)}] in {print_expr(e.operand.base)}",
    "FunctionCall": lambda e: f"{e.name}({', '.join(print_expr(a) for a in e.args)})",
    "PrintFormat": _print_format,
    "StatOp": _stat,
    "HistOp": _hist,
    "TargetSymbol": _target,
    "CastOp": _cast,
    "AutoCastOp": _autocast,
    "AtVarOp": _atvar,
    "DefinedOp": lambda e: f"@defined({print_expr(e.operand)})",
    "EntryOp": lambda e: f"@entry({print_expr(e.operand)})",
    "PerfOp": lambda e: f"@perf({print_expr(e.operand)})",
    "ProbeWriteOp": lambda e: f"@probewrite({print_expr(e.operand)})",
    "RegisterOp": lambda e: f"@{e.kind}({print_expr(e.operand)})",
    "DerefOp": lambda e: f"@{e.kind}({e.size}, {print_expr(e.operand)})",
    "ConstOp": lambda e: "%{ /* pure */ /* unprivileged */ /* stable */ " + e.operand.value + " %}",
}


# ---------------------------------------------------------------- statements

def print_block(b: ast.Block) -> str:
    return "{\n" + "".join(print_stmt(s) + ";\n" for s in b.statements) + "}"


def _foreach(s):
    keys = ", ".join(_sorted_name(k.name, s, i + 1) for i, k in enumerate(s.indexes))
    head = "foreach ("
    if s.value is not None:
        head += _sorted_name(s.value.name, s, 0, is_value=True) + " = "
    head += f"[{keys}] in {print_expr(s.base)}"
    if s.array_slice is not None:
        head += f"[{_index_list(s.array_slice)}]"
    if s.sort_column == 0 and s.sort_direction:
        if s.sort_aggr not in (".", "", None):
            head += " @" + s.sort_aggr
        head += "+" if s.sort_direction > 0 else "-"
    if s.limit is not None:
        head += f" limit {print_expr(s.limit)}"
    return head + ") " + print_stmt(s.body)


def _sorted_name(name, s, col, is_value=False):
    if s.sort_column == col and s.sort_direction and col > 0:
        return name + ("+" if s.sort_direction > 0 else "-")
    return name


def _if(s):
    out = f"if ({print_expr(s.cond)}) {print_stmt(s.then)}\n"
    if s.else_ is not None:
        out += f"else {print_stmt(s.else_)}\n"
    return out


def _for(s):
    init = print_stmt(s.init) if s.init is not None else ""
    incr = print_stmt(s.incr) if s.incr is not None else ""
    return f"for ({init}; {print_expr(s.cond)}; {incr}) {print_stmt(s.body)}"


def _try(s):
    out = "try {\n" + print_stmt(s.try_block) + "\n} catch"
    if s.catch_var is not None:
        out += f" ({s.catch_var.name})"
    out += " {\n" + print_stmt(s.catch_block) + "\n}\n"
    return out


_STMT = {
    "Block": print_block,
    # as a statement stap pads the code with a space each side
    "EmbeddedCode": lambda s: "%{ " + s.code + " %}",
    "ExprStatement": lambda s: print_expr(s.value),
    "NullStatement": lambda s: ";",
    "IfStatement": _if,
    "ForLoop": _for,
    "ForeachLoop": _foreach,
    "TryBlock": _try,
    "ReturnStatement": lambda s: "return" + (" " + print_expr(s.value) if s.value is not None else ""),
    "DeleteStatement": lambda s: "delete " + print_expr(s.value),
    "NextStatement": lambda s: "next",
    "BreakStatement": lambda s: "break",
    "ContinueStatement": lambda s: "continue",
}


def print_stmt(s) -> str:
    """One statement in stap's -p1 layout (no trailing ';': the enclosing
    block adds it)."""
    f = _STMT.get(type(s).__name__)
    if f is None:
        return f"<{type(s).__name__}>"
    return f(s)


# ---------------------------------------------------------------- probe points

def probe_point_text(point: ast.ProbePoint, with_flags: bool = True) -> str:
    parts = []
    for c in point.components:
        if c.arg is None:
            parts.append(c.functor)
        else:
            parts.append(f"{c.functor}({print_expr(c.arg)})")
    out = ".".join(parts)
    if with_flags:
        if point.sufficient:
            out += "!"
        elif point.optional:
            out += "?"
        if point.condition is not None:
            out += f" if ({print_expr(point.condition)})"
    return out


# ---------------------------------------------------------------- declarations

def print_global(v: ast.VarDecl) -> str:
    out = "global " + v.name
    if v.wrap:
        out += "%"
    if v.maxsize is not None:
        out += f"[{v.maxsize}]"
    if v.init is not None:
        out += " = " + print_expr(v.init)
    return out


def print_probe(pr: ast.Probe) -> str:
    pts = ",".join(probe_point_text(p) for p in pr.locations)
    return f"probe {pts}{print_block(pr.body)}"


def print_alias(al: ast.ProbeAlias) -> str:
    names = ",".join(probe_point_text(p) for p in al.alias_names)
    pts = ", ".join(probe_point_text(p) for p in al.locations)
    op = "+=" if al.epilogue else "="
    return f"probe {names} {op} {pts}{print_block(al.body)}"


def print_function(fd: ast.FunctionDecl) -> str:
    args = ", ".join(a.name for a in fd.formal_args)
    body = fd.body
    if isinstance(body, ast.EmbeddedCode):
        b = "%{" + body.code + "%}"
    else:
        b = print_block(body)
    return f"function {fd.name} ({args})\n{b}"


def dump_p1(f: ast.StapFile) -> str:
    out: List[str] = ["# parse tree dump\n", f"# file {f.name}\n"]
    for e in f.embeds:
        out.append("%{" + e.code + "%}")
    for g in f.globals:
        out.append(print_global(g) + "\n")
    for a in f.aliases:
        out.append(print_alias(a) + "\n")
    for p in f.probes:
        out.append(print_probe(p) + "\n")
    for fn in f.functions:
        out.append(print_function(fn) + "\n")
    out.append("\n")
    return "".join(out)
