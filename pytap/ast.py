"""The one syntax tree every pass works on.

Node kinds mirror SystemTap's own parse tree (staptree), because pass 1 and
pass 2 dumps must print exactly what `stap -p1/-p2` prints and because the
elaborator's rules (alias expansion, type inference) are phrased over these
kinds.  Every node carries `loc`, the source coordinate of the token that
introduced it (stap reports errors at that token).

Passes walk the tree with `Visitor` (read-only) or `Transformer`
(returns replacement nodes); both dispatch on the class name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import List, Optional, Union


@dataclass(frozen=True)
class Loc:
    """Where a token starts: file name as given, 1-based line and column."""
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOLOC = Loc("<internal>", 0, 0)


# Fields that are not sub-trees: the source coordinate, and the links
# elaboration adds (Symbol.referent, FunctionCall.referents), which point at
# declarations elsewhere -- walking them would wander into other bodies.
_NOT_CHILDREN = frozenset(("loc", "tok_desc", "referent", "referents"))


@dataclass(eq=False)
class Node:
    loc: Loc = field(default=NOLOC, kw_only=True)
    # Token text that introduced the node, as stap quotes it in messages
    # ("operator '/'", "identifier 'x'", ...).  Set by the parser.
    tok_desc: str = field(default="", kw_only=True, repr=False)

    def children(self):
        """Yield direct child nodes (in field order, lists flattened)."""
        for f in fields(self):
            if f.name in _NOT_CHILDREN:
                continue
            v = getattr(self, f.name)
            if isinstance(v, Node):
                yield v
            elif isinstance(v, list):
                for x in v:
                    if isinstance(x, Node):
                        yield x
                    elif isinstance(x, tuple):
                        for y in x:
                            if isinstance(y, Node):
                                yield y


# --------------------------------------------------------------- expressions

@dataclass(eq=False)
class Expr(Node):
    # Filled by elaboration: "long", "string", "stats", or None (unknown).
    type: Optional[str] = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Number(Expr):
    """Integer literal; `value` is the signed 64-bit value, `text` as written."""
    value: int
    text: str = ""


@dataclass(eq=False)
class String(Expr):
    """String literal; `value` holds the raw text between the quotes, with
    escapes as written (stap prints them back unchanged)."""
    value: str


@dataclass(eq=False)
class EmbeddedExpr(Expr):
    """`%{ code %}` used as an expression (guru mode)."""
    code: str


@dataclass(eq=False)
class Symbol(Expr):
    """A plain identifier: local, global, or (in elaboration) resolved."""
    name: str
    # Set by elaboration: the VarDecl this symbol refers to.
    referent: Optional["VarDecl"] = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Binary(Expr):
    """Arithmetic/bitwise: + - * / % << >> >>> & | ^"""
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Unary(Expr):
    """Prefix - + ! ~ (not ++/--, see PreCrement)."""
    op: str
    operand: Expr


@dataclass(eq=False)
class PreCrement(Expr):
    op: str          # "++" or "--"
    operand: Expr


@dataclass(eq=False)
class PostCrement(Expr):
    op: str
    operand: Expr


@dataclass(eq=False)
class LogicalOr(Expr):
    left: Expr
    right: Expr


@dataclass(eq=False)
class LogicalAnd(Expr):
    left: Expr
    right: Expr


@dataclass(eq=False)
class Comparison(Expr):
    """== != < <= > >= (on longs or strings)."""
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class RegexMatch(Expr):
    """`left =~ "re"` / `!~`; the right side must be a string literal."""
    op: str
    left: Expr
    right: String


@dataclass(eq=False)
class Concat(Expr):
    left: Expr
    right: Expr


@dataclass(eq=False)
class Ternary(Expr):
    cond: Expr
    truevalue: Expr
    falsevalue: Expr


@dataclass(eq=False)
class Assignment(Expr):
    """= += -= *= /= %= <<= >>= &= |= ^= .= <<<"""
    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class ArrayIndex(Expr):
    """base[i1, i2, ...]; base is a Symbol or a HistOp (`@hist_log(s)[3]`).
    An index may be None for a wildcard `*` in foreach/delete patterns."""
    base: Expr
    indexes: List[Optional[Expr]]


@dataclass(eq=False)
class ArrayIn(Expr):
    """`k in a` / `[k1, k2] in a`; operand is the ArrayIndex being tested."""
    operand: ArrayIndex


@dataclass(eq=False)
class FunctionCall(Expr):
    name: str
    args: List[Expr]
    # Set by elaboration: the FunctionDecl(s) called (overloads).
    referents: List["FunctionDecl"] = field(default_factory=list, kw_only=True, repr=False)


@dataclass(eq=False)
class PrintFormat(Expr):
    """print, println, printf, sprint, sprintln, sprintf, printd, printdln,
    sprintd, sprintdln.  `print_name` is the name as written."""
    print_name: str
    args: List[Expr]
    fmt: Optional[str] = None        # raw format string for *printf (escapes as written)
    delimiter: Optional[str] = None  # raw delimiter for *printd*
    hist: Optional["HistOp"] = None  # print(@hist_*(...))

    @property
    def to_stream(self) -> bool:
        return not self.print_name.startswith("s")

    @property
    def newline(self) -> bool:
        return self.print_name.endswith("ln")

    @property
    def is_format(self) -> bool:
        return self.print_name.endswith("printf")

    @property
    def is_delim(self) -> bool:
        return "printd" in self.print_name


@dataclass(eq=False)
class StatOp(Expr):
    """@count @sum @min @max @avg @variance(stat [, bit_shift])."""
    op: str           # "count", "sum", "min", "max", "avg", "variance"
    stat: Expr
    params: List[int] = field(default_factory=list)


@dataclass(eq=False)
class HistOp(Expr):
    """@hist_linear(stat, start, stop, interval) / @hist_log(stat)."""
    kind: str         # "linear" or "log"
    stat: Expr
    params: List[int] = field(default_factory=list)


@dataclass(eq=False)
class TargetComponent(Node):
    """One `->field`, `[index]` or `->$`/`->$$` pretty-print suffix.
    kind: "member" (name), "index" (expr or literal number), "pretty"
    (name is "$" or "$$")."""
    kind: str
    name: str = ""
    index: Optional[Expr] = None


@dataclass(eq=False)
class TargetSymbol(Expr):
    """$var, $var->a[1], $$vars, $$parms, $$locals, $$return, &$var."""
    name: str                       # including the leading "$" / "$$"
    components: List[TargetComponent] = field(default_factory=list)
    addressof: bool = False


@dataclass(eq=False)
class CastOp(Expr):
    """@cast(operand, "type" [, "module"])->components."""
    operand: Expr
    type_name: str
    module: Optional[str] = None
    components: List[TargetComponent] = field(default_factory=list)
    addressof: bool = False


@dataclass(eq=False)
class AutoCastOp(Expr):
    """A parenthesised expression followed by -> components (`(x)->y`)."""
    operand: Expr
    components: List[TargetComponent] = field(default_factory=list)
    addressof: bool = False


@dataclass(eq=False)
class AtVarOp(Expr):
    """@var("name[@cu]" [, "module"])->components."""
    target_name: str
    cu_name: str = ""
    module: Optional[str] = None
    components: List[TargetComponent] = field(default_factory=list)
    addressof: bool = False


@dataclass(eq=False)
class DefinedOp(Expr):
    """@defined(expr)."""
    operand: Expr


@dataclass(eq=False)
class EntryOp(Expr):
    """@entry(expr)."""
    operand: Expr


@dataclass(eq=False)
class PerfOp(Expr):
    """@perf("name")."""
    operand: String


@dataclass(eq=False)
class ConstOp(Expr):
    """@const("C expression") (guru mode)."""
    operand: String


@dataclass(eq=False)
class ProbeWriteOp(Expr):
    """@probewrite(var): was var written by an earlier handler (tapsets)."""
    operand: Symbol


@dataclass(eq=False)
class RegisterOp(Expr):
    """@kregister(N) / @uregister(N) (guru mode): a raw register."""
    kind: str         # "kregister" or "uregister"
    operand: Expr


@dataclass(eq=False)
class DerefOp(Expr):
    """@kderef(SIZE, addr) (guru mode) / @uderef(SIZE, addr): SIZE bytes
    read from a kernel / user address, as an unsigned integer."""
    kind: str         # "kderef" or "uderef"
    size: int
    operand: Expr


# ---------------------------------------------------------------- statements

@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class EmbeddedCode(Stmt):
    """`%{ code %}`: as a statement (guru), a function body, or top level."""
    code: str


@dataclass(eq=False)
class Block(Stmt):
    statements: List[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class TryBlock(Stmt):
    try_block: Block
    catch_block: Block
    catch_var: Optional[Symbol] = None


@dataclass(eq=False)
class ExprStatement(Stmt):
    value: Expr


@dataclass(eq=False)
class IfStatement(Stmt):
    cond: Expr
    then: Stmt
    else_: Optional[Stmt] = None


@dataclass(eq=False)
class ForLoop(Stmt):
    """for (init; cond; incr) body.  `while (c) body` is a ForLoop with no
    init/incr (stap prints it as `for (; c; )`)."""
    init: Optional[Stmt]
    cond: Expr
    incr: Optional[Stmt]
    body: Stmt


@dataclass(eq=False)
class ForeachLoop(Stmt):
    """foreach ([value =] [k1, k2] in base [limit N]) body.
    base is a Symbol (array) or a HistOp (iterating histogram buckets).
    sort_column: 0 = value, i>0 = key i, None = unsorted;
    sort_direction: +1 / -1 / 0.
    array_slice: optional pattern `in a[k, *]` (None entries are `*`)."""
    indexes: List[Symbol]
    base: Expr
    body: Stmt
    value: Optional[Symbol] = None
    sort_column: Optional[int] = None
    sort_direction: int = 0
    sort_aggr: str = "."            # aggregate used when sorting stats by value (@count etc)
    limit: Optional[Expr] = None
    array_slice: Optional[List[Optional[Expr]]] = None


@dataclass(eq=False)
class ReturnStatement(Stmt):
    value: Optional[Expr] = None


@dataclass(eq=False)
class DeleteStatement(Stmt):
    value: Expr


@dataclass(eq=False)
class NextStatement(Stmt):
    pass


@dataclass(eq=False)
class BreakStatement(Stmt):
    pass


@dataclass(eq=False)
class ContinueStatement(Stmt):
    pass


@dataclass(eq=False)
class NullStatement(Stmt):
    pass


# -------------------------------------------------------------- declarations

@dataclass(eq=False)
class ProbePointComponent(Node):
    """One dotted piece: functor with an optional literal argument.
    arg is a Number or String literal (after $1/@1 substitution), or None.
    from_glob: functor contains * or ** wildcards."""
    functor: str
    arg: Optional[Expr] = None


@dataclass(eq=False)
class ProbePoint(Node):
    components: List[ProbePointComponent]
    optional: bool = False       # trailing ?
    sufficient: bool = False     # trailing !
    condition: Optional[Expr] = None  # if (expr)
    # Set when a point came from `{a,b}` brace expansion etc.: nothing to print.

    def text(self) -> str:
        """stap's printed form, without ?/! and condition (used in pp())."""
        from .printer import probe_point_text
        return probe_point_text(self, with_flags=False)


@dataclass(eq=False)
class VarDecl(Node):
    """A global, a local, or a function parameter.
    arity: -1 unknown, 0 scalar, N array with N indexes.
    index_types: per-index types once inferred."""
    name: str
    init: Optional[Expr] = None        # global initialiser literal
    maxsize: Optional[int] = None      # global a[N]
    wrap: bool = False                 # global a%
    private: bool = False
    type: Optional[str] = None         # "long" / "string" / "stats"
    arity: int = -1
    index_types: List[Optional[str]] = field(default_factory=list)
    # Elaboration: True for globals synthesised from tapsets, etc.
    synthetic: bool = field(default=False, kw_only=True)
    # Set by the parser for globals: the file that declared it.
    file_name: str = field(default="", kw_only=True)


@dataclass(eq=False)
class FunctionDecl(Node):
    name: str
    formal_args: List[VarDecl]
    body: Union[Block, EmbeddedCode]
    type: Optional[str] = None          # declared/inferred return type
    declared_type: Optional[str] = None # as written (":long"), for printing
    locals: List[VarDecl] = field(default_factory=list)
    priority: int = 0                   # overload priority (stap `function f:long (...) /* priority */`)
    private: bool = False
    synthetic: bool = field(default=False, kw_only=True)


@dataclass(eq=False)
class Probe(Node):
    """`probe P1, P2 { body }`: a use of one or more probe points."""
    locations: List[ProbePoint]
    body: Block
    privileged: bool = False    # declared in a tapset file (stap's "privileged")
    # Set by elaboration: locals, and the derivation chain of aliases.
    locals: List[VarDecl] = field(default_factory=list, kw_only=True)


@dataclass(eq=False)
class ProbeAlias(Node):
    """`probe name = P1, P2 { prologue }` / `probe name += P { epilogue }`.
    alias_names: the names being defined (one or more ProbePoints, usually
    one); locations: what they expand to."""
    alias_names: List[ProbePoint]
    locations: List[ProbePoint]
    body: Block
    epilogue: bool = False      # += form
    privileged: bool = False
    # `probe a = b { prologue }, { epilogue }`: the second block, run after
    # the user's body (stap's -p1 does not print it).
    epilogue_body: Optional[Block] = None


@dataclass(eq=False)
class StapFile(Node):
    """One parsed file: a script or a tapset."""
    name: str
    probes: List[Probe] = field(default_factory=list)
    aliases: List[ProbeAlias] = field(default_factory=list)
    functions: List[FunctionDecl] = field(default_factory=list)
    globals: List[VarDecl] = field(default_factory=list)
    embeds: List[EmbeddedCode] = field(default_factory=list)
    # Everything at top level in source order (for -p1, which prints
    # globals, probes and aliases, then functions, as stap does).
    items: List[Node] = field(default_factory=list)
    privileged: bool = False    # a tapset file
    synthetic: bool = False


def first_token(node: Node) -> Node:
    """The node of a statement's (or expression's) first token.  stap names
    a statement by its first token (`x++` -> identifier 'x') in runtime
    errors; our parser marks a binary node at its operator."""
    if isinstance(node, ExprStatement):
        node = node.value
    while True:
        if isinstance(node, PostCrement):
            node = node.operand
        elif isinstance(node, (Binary, Comparison, Assignment, Concat,
                               LogicalOr, LogicalAnd, RegexMatch)):
            node = node.left
        elif isinstance(node, Ternary):
            node = node.cond
        elif isinstance(node, ArrayIndex):
            node = node.base
        else:
            return node


# ------------------------------------------------------------------ walking

class Visitor:
    """Read-only walk: define visit_<ClassName>(node); unhandled nodes
    recurse into their children."""

    def visit(self, node):
        if node is None:
            return None
        meth = getattr(self, "visit_" + type(node).__name__, None)
        if meth is not None:
            return meth(node)
        return self.generic_visit(node)

    def generic_visit(self, node):
        for c in node.children():
            self.visit(c)


class Transformer(Visitor):
    """Rebuild walk: each visit_ returns the replacement node (or the same
    node).  generic_visit replaces child fields in place."""

    def generic_visit(self, node):
        for f in fields(node):
            if f.name in _NOT_CHILDREN:
                continue
            v = getattr(node, f.name)
            if isinstance(v, Node):
                setattr(node, f.name, self.visit(v))
            elif isinstance(v, list):
                new = []
                for x in v:
                    new.append(self.visit(x) if isinstance(x, Node) else x)
                setattr(node, f.name, new)
        return node
