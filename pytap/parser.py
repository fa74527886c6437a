"""Pass 1: SystemTap script text -> ast.StapFile, with PLY yacc.

stap's own parser is hand-written recursive descent; this grammar mirrors
its precedence levels one nonterminal per level so the trees (and the -p1
dump) come out the same.  Two things LALR cannot do comfortably are done on
the token stream first (see `probe_point_tokens`): gluing probe point
components such as `kernel.function("*@fs/*.c")` or `syscall.*` out of
adjacent tokens, and expanding `{a,b}` brace alternatives.

The grammar tables are built once and kept (JSON) under the cache dir,
keyed by a hash of the grammar (see `_get_parser`).
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from typing import List, Optional

from ply import yacc

from . import ast
from .diagnostics import SOURCES, Diagnostics, PassFailed, StapError
from .lexer import KEYWORD_TYPES, KEYWORDS, TOKEN_TYPES, Token, tokenize
from .preprocess import Preprocessor, library_macros, perr

PASS1_FOOTER = "Pass 1: parse failed.  [man error::pass1]"

tokens = TOKEN_TYPES + ["AT_CAST", "AT_DEFINED", "AT_ENTRY", "AT_VAR", "AT_CONST", "AT_PERF",
                        "AT_STAT", "AT_HIST", "AT_PROBEWRITE", "AT_KREGISTER", "AT_UREGISTER",
                        "AT_KDEREF", "AT_UDEREF", "AT_MODULE", "PPFUNCTOR", "JUNK"]

precedence = (
    ("nonassoc", "IFX"),
    ("nonassoc", "ELSE"),
)

PRINT_NAMES = {"print", "println", "printf", "sprint", "sprintln", "sprintf",
               "printd", "printdln", "sprintd", "sprintdln"}


class ParseAbort(Exception):
    """Raised from p_error / actions to stop this parse attempt."""

    def __init__(self, err: Optional[StapError], tok_index: Optional[int] = None,
                 resume: Optional[int] = None):
        super().__init__(err.message if err else "")
        self.err = err            # None: already recorded
        self.tok_index = tok_index
        self.resume = resume      # restart top-level parsing at this token index


def _tok(p, i) -> Token:
    return p.slice[i]


def _loc(p, i) -> ast.Loc:
    t = p.slice[i]
    if isinstance(t, Token):
        return t.loc
    v = t.value
    return v.loc if isinstance(v, ast.Node) else ast.NOLOC


def _mk(cls, tok, *args, **kw):
    node = cls(*args, **kw)
    node.loc = tok.loc
    node.tok_desc = tok.desc()
    return node


def _at(node, src):
    """Copy location of src (node or token) onto node."""
    node.loc = src.loc
    node.tok_desc = src.tok_desc if isinstance(src, ast.Node) else src.desc()
    return node


# ================================================================ top level

def p_file(p):
    """file : items"""
    p[0] = p[1]


def p_items_empty(p):
    """items : """
    p[0] = []


def p_items_more(p):
    """items : items item"""
    p[1].extend(p[2])
    p[0] = p[1]


def p_item_probe(p):
    """item : probe_decl
            | function_decl
            | global_decl"""
    p[0] = p[1]


def p_item_private(p):
    """item : PRIVATE function_decl
            | PRIVATE global_decl"""
    for x in p[2]:
        x.private = True
    p[0] = p[2]


def p_item_private_var(p):
    """item : PRIVATE global_vars opt_semi"""
    for x in p[2]:
        x.private = True
    p[0] = p[2]


def p_item_embedded(p):
    """item : EMBEDDED"""
    t = _tok(p, 1)
    # privilege checked when the token is read (_TokenFeed), before any lookahead
    p[0] = [_mk(ast.EmbeddedCode, t, t.value)]


# ---------------------------------------------------------------- probes

def p_probe_decl(p):
    """probe_decl : PROBE pp_list block"""
    node = _mk(ast.Probe, _tok(p, 1), p[2], p[3], privileged=_state.privileged)
    _check_probe_body(p[3])
    p[0] = [node]


def _check_probe_body(body):
    """stap's parser rejects `return` in a probe handler.  Return statements
    are noted as they are built (see p_simple_return*); declarations reduce
    in order, so the ones pending now are this probe's."""
    pending, _state.returns = _state.returns, []
    if pending:
        n = pending[0]
        raise ParseAbort(StapError("found 'return' not in function context", n.loc,
                                   tok_desc="keyword", kind="parse"))


def p_probe_alias(p):
    """probe_decl : PROBE pp_list ASSIGN pp_list block
                  | PROBE pp_list PLUSEQ pp_list block"""
    _single_alias_name(p)
    node = _mk(ast.ProbeAlias, _tok(p, 1), p[2], p[4], p[5],
               epilogue=(p.slice[3].type == "PLUSEQ"), privileged=_state.privileged)
    _check_probe_body(p[5])
    p[0] = [node]


def p_probe_alias_combined(p):
    """probe_decl : PROBE pp_list ASSIGN pp_list block COMMA block
                  | PROBE pp_list PLUSEQ pp_list block COMMA block"""
    if p.slice[3].type == "PLUSEQ":
        raise ParseAbort(perr("Combined prologue and epilogue cannot be defined with '+='",
                              _tok(p, 6)))
    _single_alias_name(p)
    node = _mk(ast.ProbeAlias, _tok(p, 1), p[2], p[4], p[5], privileged=_state.privileged)
    node.epilogue_body = p[7]
    _check_probe_body(p[5])
    p[0] = [node]


def _single_alias_name(p):
    """An alias defines one name: `probe a, b = c` is rejected at the '=';
    and that name is not optional (`?`) nor sufficient (`!`)."""
    if len(p[2]) != 1:
        raise ParseAbort(perr("expected probe point specifier", _tok(p, 3)))
    pt = p[2][0]
    if pt.optional or pt.sufficient:
        c = pt.components[0]
        desc = "keyword" if c.functor in KEYWORDS else \
            (f"operator '{c.functor}'" if c.functor == "*" else f"identifier '{c.functor}'")
        raise ParseAbort(StapError("probe point alias name cannot be optional nor sufficient",
                                   c.loc, tok_desc=desc, kind="parse", label="at"))


def p_pp_list_one(p):
    """pp_list : probe_point"""
    p[0] = p[1]


def p_pp_list_more(p):
    """pp_list : pp_list COMMA probe_point"""
    p[0] = p[1] + p[3]


def p_probe_point(p):
    """probe_point : pp_components pp_flags pp_cond"""
    comps = p[1]
    opt, suff = p[2]
    pt = ast.ProbePoint(comps, optional=opt, sufficient=suff, condition=p[3])
    _at(pt, comps[0])
    p[0] = [pt]


def p_pp_components_one(p):
    """pp_components : pp_component"""
    p[0] = [p[1]]


def p_pp_components_more(p):
    """pp_components : pp_components DOT pp_component"""
    p[0] = p[1] + [p[3]]


def p_pp_component(p):
    """pp_component : PPFUNCTOR"""
    p[0] = _mk(ast.ProbePointComponent, _tok(p, 1), p[1])


def p_pp_component_arg(p):
    """pp_component : PPFUNCTOR LPAREN pp_literal RPAREN"""
    p[0] = _mk(ast.ProbePointComponent, _tok(p, 1), p[1], p[3])


def p_pp_literal(p):
    """pp_literal : number
                  | string"""
    p[0] = p[1]


def p_pp_literal_neg(p):
    """pp_literal : MINUS NUMBER"""
    t = _tok(p, 2)
    p[0] = _number(t, negate=True)


def p_pp_flags_empty(p):
    """pp_flags : """
    p[0] = (False, False)


def p_pp_flags_opt(p):
    """pp_flags : QUESTION"""
    p[0] = (True, False)


def p_pp_flags_suff(p):
    """pp_flags : NOT"""
    p[0] = (True, True)


def p_pp_cond_empty(p):
    """pp_cond : """
    p[0] = None


def p_pp_cond(p):
    """pp_cond : IF LPAREN expr RPAREN"""
    p[0] = p[3]


# ---------------------------------------------------------------- globals

def p_global_decl(p):
    """global_decl : GLOBAL global_vars opt_semi"""
    p[0] = p[2]


def p_opt_semi(p):
    """opt_semi :
                | SEMI"""


def p_global_vars_one(p):
    """global_vars : global_var"""
    p[0] = [p[1]]


def p_global_vars_more(p):
    """global_vars : global_vars COMMA global_var"""
    p[0] = p[1] + [p[3]]


def _new_global(t: Token):
    if t.value in _state.global_names:
        raise ParseAbort(perr("duplicate global name", t))
    _state.global_names.add(t.value)


def p_global_var(p):
    """global_var : IDENT global_wrap global_size"""
    t = _tok(p, 1)
    _new_global(t)
    p[0] = _mk(ast.VarDecl, t, t.value, maxsize=p[3], wrap=p[2], file_name=t.file)


def p_global_var_init(p):
    """global_var : IDENT global_wrap global_size ASSIGN global_literal"""
    t = _tok(p, 1)
    _new_global(t)
    if p[3] is not None:
        raise ParseAbort(perr("only scalar globals can be initialized", _tok(p, 4)))
    p[0] = _mk(ast.VarDecl, t, t.value, init=p[5], maxsize=p[3], wrap=p[2], file_name=t.file)


def p_global_wrap(p):
    """global_wrap :
                   | MOD"""
    p[0] = len(p) > 1


def p_global_size_none(p):
    """global_size : """
    p[0] = None


def p_global_size(p):
    """global_size : LBRACKET NUMBER RBRACKET
                   | LBRACKET MINUS NUMBER RBRACKET"""
    size = _number(_tok(p, len(p) - 2)).value
    if len(p) == 5:
        size = -size
    if size <= 0:
        # stap: no token to show (it has swallowed the number)
        t = _tok(p, 1)
        raise ParseAbort(StapError("array size out of range", None, tok_desc=f"{t.file} EOF",
                                   kind="parse"))
    p[0] = size


def p_global_literal(p):
    """global_literal : number
                      | string"""
    p[0] = p[1]


def p_global_literal_neg(p):
    """global_literal : MINUS NUMBER"""
    p[0] = _number(_tok(p, 2), negate=True)


# ---------------------------------------------------------------- functions

def p_function_decl(p):
    """function_decl : FUNCTION IDENT opt_type LPAREN opt_params RPAREN function_body"""
    t = _tok(p, 2)
    seen = set()
    for a in p[5]:
        if a.name in seen:
            raise ParseAbort(StapError("duplicate parameter names", a.loc, tok_desc=a.tok_desc,
                                       kind="parse"))
        seen.add(a.name)
    fd = _mk(ast.FunctionDecl, t, t.value, p[5], p[7], type=p[3], declared_type=p[3])
    _state.returns = []
    p[0] = [fd]


def p_function_body(p):
    """function_body : block"""
    p[0] = p[1]


def p_function_body_embedded(p):
    """function_body : EMBEDDED"""
    t = _tok(p, 1)
    # privilege checked when the token is read (_TokenFeed), before any lookahead
    p[0] = _mk(ast.EmbeddedCode, t, t.value)


def p_opt_type_none(p):
    """opt_type : """
    p[0] = None


def p_opt_type(p):
    """opt_type : COLON LONG
                | COLON STRING_KW"""
    p[0] = "long" if p.slice[2].type == "LONG" else "string"


def p_opt_params_none(p):
    """opt_params : """
    p[0] = []


def p_opt_params(p):
    """opt_params : params
                  | params COMMA"""
    p[0] = p[1]


def p_params_one(p):
    """params : param"""
    p[0] = [p[1]]


def p_params_more(p):
    """params : params COMMA param"""
    p[0] = p[1] + [p[3]]


def p_param(p):
    """param : IDENT opt_type"""
    t = _tok(p, 1)
    p[0] = _mk(ast.VarDecl, t, t.value, type=p[2], arity=0)


# ================================================================ statements

def p_block(p):
    """block : LBRACE statements RBRACE"""
    p[0] = _mk(ast.Block, _tok(p, 1), p[2])


def p_statements_empty(p):
    """statements : """
    p[0] = []


def p_statements_more(p):
    """statements : statements statement"""
    p[1].append(p[2])
    p[0] = p[1]


def p_statement_block(p):
    """statement : block
                 | if_statement
                 | for_statement
                 | foreach_statement
                 | try_statement
                 | simple_statement"""
    p[0] = p[1]


def p_statement_null(p):
    """statement : SEMI"""
    p[0] = _mk(ast.NullStatement, _tok(p, 1))


def p_simple_statement(p):
    """simple_statement : simple
                        | simple SEMI"""
    p[0] = p[1]


def p_simple_embedded(p):
    """simple : EMBEDDED"""
    t = _tok(p, 1)
    _state.deny_embedded_expr(t)
    p[0] = _mk(ast.EmbeddedCode, t, t.value)


def p_simple_expr(p):
    """simple : expr"""
    p[0] = _at(ast.ExprStatement(p[1]), p[1])


def p_simple_return(p):
    """simple : RETURN"""
    p[0] = _mk(ast.ReturnStatement, _tok(p, 1))
    _state.returns.append(p[0])


def p_simple_return_value(p):
    """simple : RETURN expr"""
    p[0] = _mk(ast.ReturnStatement, _tok(p, 1), p[2])
    _state.returns.append(p[0])


def p_simple_delete(p):
    """simple : DELETE expr"""
    p[0] = _mk(ast.DeleteStatement, _tok(p, 1), p[2])


def p_simple_next(p):
    """simple : NEXT"""
    p[0] = _mk(ast.NextStatement, _tok(p, 1))


def p_simple_break(p):
    """simple : BREAK"""
    p[0] = _mk(ast.BreakStatement, _tok(p, 1))


def p_simple_continue(p):
    """simple : CONTINUE"""
    p[0] = _mk(ast.ContinueStatement, _tok(p, 1))


def p_if_statement(p):
    """if_statement : IF LPAREN expr RPAREN statement %prec IFX"""
    p[0] = _mk(ast.IfStatement, _tok(p, 1), p[3], p[5])


def p_if_else_statement(p):
    """if_statement : IF LPAREN expr RPAREN statement ELSE statement"""
    p[0] = _mk(ast.IfStatement, _tok(p, 1), p[3], p[5], p[7])


def p_while_statement(p):
    """for_statement : WHILE LPAREN expr RPAREN statement"""
    p[0] = _mk(ast.ForLoop, _tok(p, 1), None, p[3], None, p[5])


def p_for_statement(p):
    """for_statement : FOR LPAREN opt_expr_stmt SEMI expr SEMI opt_expr_stmt RPAREN statement"""
    p[0] = _mk(ast.ForLoop, _tok(p, 1), p[3], p[5], p[7], p[9])


def p_for_statement_nocond(p):
    """for_statement : FOR LPAREN opt_expr_stmt SEMI SEMI opt_expr_stmt RPAREN statement"""
    t = _tok(p, 1)
    one = _mk(ast.Number, t, 1, "1")
    p[0] = _mk(ast.ForLoop, t, p[3], one, p[6], p[8])


def p_opt_expr_stmt_none(p):
    """opt_expr_stmt : """
    p[0] = None


def p_opt_expr_stmt(p):
    """opt_expr_stmt : expr"""
    p[0] = _at(ast.ExprStatement(p[1]), p[1])


def p_try_statement(p):
    """try_statement : TRY block CATCH block"""
    p[0] = _mk(ast.TryBlock, _tok(p, 1), p[2], p[4])


def p_try_statement_var(p):
    """try_statement : TRY block CATCH LPAREN IDENT RPAREN block"""
    t = _tok(p, 5)
    p[0] = _mk(ast.TryBlock, _tok(p, 1), p[2], p[7], _mk(ast.Symbol, t, t.value))


def p_foreach_statement(p):
    """foreach_statement : FOREACH LPAREN foreach_vars IN foreach_base foreach_sort foreach_limit RPAREN statement"""
    t = _tok(p, 1)
    value, keys = p[3]
    base, slc = p[5]
    node = _mk(ast.ForeachLoop, t, [k for k, _ in keys], base, p[9])
    node.limit = p[7]
    node.array_slice = slc
    sorts = []
    if value is not None:
        node.value = value[0]
        if value[1]:
            sorts.append((0, value[1], value[2]))
    for i, (k, mark) in enumerate(keys):
        if mark:
            sorts.append((i + 1, mark[0], mark[1]))
    aggr, mark = p[6]
    if mark:
        sorts.append((0, mark[0], mark[1]))
    if aggr is not None:
        node.sort_aggr = aggr
    if len(sorts) > 1:
        raise ParseAbort(perr("multiple sort directives", sorts[1][2]))
    if sorts:
        node.sort_column, node.sort_direction = sorts[0][0], sorts[0][1]
    p[0] = node


def p_foreach_vars_keys(p):
    """foreach_vars : foreach_keys"""
    p[0] = (None, p[1])


def p_foreach_vars_value(p):
    """foreach_vars : IDENT sort_mark ASSIGN foreach_keys"""
    t = _tok(p, 1)
    sym = _mk(ast.Symbol, t, t.value)
    mark = p[2]
    p[0] = ((sym, mark[0] if mark else 0, mark[1] if mark else None), p[4])


def p_foreach_keys_one(p):
    """foreach_keys : IDENT sort_mark"""
    t = _tok(p, 1)
    p[0] = [(_mk(ast.Symbol, t, t.value), p[2])]


def p_foreach_keys_list(p):
    """foreach_keys : LBRACKET foreach_keylist RBRACKET"""
    p[0] = p[2]


def p_foreach_keylist_one(p):
    """foreach_keylist : IDENT sort_mark"""
    t = _tok(p, 1)
    p[0] = [(_mk(ast.Symbol, t, t.value), p[2])]


def p_foreach_keylist_more(p):
    """foreach_keylist : foreach_keylist COMMA IDENT sort_mark"""
    t = _tok(p, 3)
    p[0] = p[1] + [(_mk(ast.Symbol, t, t.value), p[4])]


def p_sort_mark_none(p):
    """sort_mark : """
    p[0] = None


def p_sort_mark(p):
    """sort_mark : PLUS
                 | MINUS"""
    p[0] = (1 if p[1] == "+" else -1, _tok(p, 1))


def p_foreach_base(p):
    """foreach_base : IDENT"""
    t = _tok(p, 1)
    p[0] = (_mk(ast.Symbol, t, t.value), None)


def p_foreach_base_slice(p):
    """foreach_base : IDENT LBRACKET index_list RBRACKET"""
    t = _tok(p, 1)
    p[0] = (_mk(ast.Symbol, t, t.value), p[3])


def p_foreach_base_hist(p):
    """foreach_base : hist_op"""
    p[1]._ok = True
    p[0] = (p[1], None)


def p_foreach_sort(p):
    """foreach_sort : sort_mark"""
    p[0] = (None, p[1])


def p_foreach_sort_aggr(p):
    """foreach_sort : AT_STAT PLUS
                    | AT_STAT MINUS"""
    p[0] = (p[1][1:], (1 if p[2] == "+" else -1, _tok(p, 2)))


def p_foreach_limit_none(p):
    """foreach_limit : """
    p[0] = None


def p_foreach_limit(p):
    """foreach_limit : LIMIT expr"""
    p[0] = p[2]


# ================================================================ expressions

def p_expr(p):
    """expr : assignment"""
    p[0] = p[1]


def p_assignment_pass(p):
    """assignment : ternary"""
    p[0] = p[1]


def p_assignment(p):
    """assignment : ternary assign_op expr"""
    t = p[2]
    p[0] = _mk(ast.Assignment, t, t.value, p[1], p[3])


def p_assign_op(p):
    """assign_op : ASSIGN
                 | PLUSEQ
                 | MINUSEQ
                 | TIMESEQ
                 | DIVEQ
                 | MODEQ
                 | LSHIFTEQ
                 | RSHIFTEQ
                 | ANDEQ
                 | OREQ
                 | XOREQ
                 | DOTEQ
                 | LLL"""
    p[0] = _tok(p, 1)


def p_ternary_pass(p):
    """ternary : logical_or"""
    p[0] = p[1]


def p_ternary(p):
    """ternary : logical_or QUESTION expr COLON ternary"""
    p[0] = _mk(ast.Ternary, _tok(p, 2), p[1], p[3], p[5])


def p_logical_or_pass(p):
    """logical_or : logical_and"""
    p[0] = p[1]


def p_logical_or(p):
    """logical_or : logical_or OROR logical_and"""
    p[0] = _mk(ast.LogicalOr, _tok(p, 2), p[1], p[3])


def p_logical_and_pass(p):
    """logical_and : bit_or"""
    p[0] = p[1]


def p_logical_and(p):
    """logical_and : logical_and ANDAND bit_or"""
    p[0] = _mk(ast.LogicalAnd, _tok(p, 2), p[1], p[3])


def p_bit_or_pass(p):
    """bit_or : bit_xor"""
    p[0] = p[1]


def p_bit_or(p):
    """bit_or : bit_or OR bit_xor"""
    p[0] = _mk(ast.Binary, _tok(p, 2), "|", p[1], p[3])


def p_bit_xor_pass(p):
    """bit_xor : bit_and"""
    p[0] = p[1]


def p_bit_xor(p):
    """bit_xor : bit_xor XOR bit_and"""
    p[0] = _mk(ast.Binary, _tok(p, 2), "^", p[1], p[3])


def p_bit_and_pass(p):
    """bit_and : array_in"""
    p[0] = p[1]


def p_bit_and(p):
    """bit_and : bit_and AND array_in"""
    p[0] = _mk(ast.Binary, _tok(p, 2), "&", p[1], p[3])


def p_array_in_pass(p):
    """array_in : comparison"""
    p[0] = p[1]


def p_array_bracketed(p):
    """array_in : LBRACKET index_list RBRACKET"""
    # stap: a bracketed list not followed by `in` is its single expression
    # (and ends the expression there); more than one is an error
    if len(p[2]) != 1:
        feed = _state.feed
        la = feed.toks[min(feed.i - 1, len(feed.toks) - 1)] if feed is not None else _tok(p, 3)
        raise ParseAbort(perr("unexpected comma-separated expression list", la))
    p[0] = p[2][0]


def p_array_in(p):
    """array_in : comparison IN in_base"""
    base, tok = p[3]
    ai = _mk(ast.ArrayIndex, tok, base, [p[1]])
    p[0] = _mk(ast.ArrayIn, _tok(p, 2), ai)


def p_array_in_list(p):
    """array_in : LBRACKET index_list RBRACKET IN in_base"""
    base, tok = p[5]
    ai = _mk(ast.ArrayIndex, tok, base, p[2])
    p[0] = _mk(ast.ArrayIn, _tok(p, 4), ai)


def p_in_base(p):
    """in_base : IDENT"""
    t = _tok(p, 1)
    p[0] = (_mk(ast.Symbol, t, t.value), t)


def p_in_base_hist(p):
    """in_base : hist_op"""
    p[1]._ok = True
    p[0] = (p[1], p[1])


def p_index_list_one(p):
    """index_list : index_item"""
    p[0] = [p[1]]


def p_index_list_more(p):
    """index_list : index_list COMMA index_item"""
    p[0] = p[1] + [p[3]]


def p_index_item(p):
    """index_item : expr"""
    p[0] = p[1]


def p_index_item_star(p):
    """index_item : TIMES"""
    p[0] = None


def p_comparison_pass(p):
    """comparison : shift"""
    p[0] = p[1]


def p_comparison(p):
    """comparison : comparison EQ shift
                  | comparison NE shift
                  | comparison LT shift
                  | comparison LE shift
                  | comparison GT shift
                  | comparison GE shift"""
    p[0] = _mk(ast.Comparison, _tok(p, 2), p[2], p[1], p[3])


def p_comparison_regex(p):
    """comparison : comparison MATCH string
                  | comparison NOMATCH string"""
    if isinstance(p[1], ast.RegexMatch):
        # stap's comparison loop ends after a regex match
        raise ParseAbort(perr("expected literal string or number", _tok(p, 2)))
    p[0] = _mk(ast.RegexMatch, _tok(p, 2), p[2], p[1], p[3])


def p_shift_pass(p):
    """shift : concat"""
    p[0] = p[1]


def p_shift(p):
    """shift : shift LSHIFT concat
             | shift RSHIFT concat
             | shift RRR concat"""
    p[0] = _mk(ast.Binary, _tok(p, 2), p[2], p[1], p[3])


def p_concat_pass(p):
    """concat : additive"""
    p[0] = p[1]


def p_concat(p):
    """concat : concat DOT additive"""
    p[0] = _mk(ast.Concat, _tok(p, 2), p[1], p[3])


def p_additive_pass(p):
    """additive : multiplicative"""
    p[0] = p[1]


def p_additive(p):
    """additive : additive PLUS multiplicative
                | additive MINUS multiplicative"""
    p[0] = _mk(ast.Binary, _tok(p, 2), p[2], p[1], p[3])


def p_multiplicative_pass(p):
    """multiplicative : unary"""
    p[0] = p[1]


def p_multiplicative(p):
    """multiplicative : multiplicative TIMES unary
                      | multiplicative DIVIDE unary
                      | multiplicative MOD unary"""
    p[0] = _mk(ast.Binary, _tok(p, 2), p[2], p[1], p[3])


def p_unary_pass(p):
    """unary : postfix"""
    p[0] = p[1]


def p_unary(p):
    """unary : PLUS unary
             | MINUS unary
             | NOT unary
             | TILDE unary"""
    p[0] = _mk(ast.Unary, _tok(p, 1), p[1], p[2])


def p_unary_crement(p):
    """unary : INCR primary
             | DECR primary"""
    p[0] = _mk(ast.PreCrement, _tok(p, 1), p[1], p[2])


def p_unary_addressof(p):
    """unary : AND primary"""
    v = p[2]
    if isinstance(v, (ast.TargetSymbol, ast.CastOp, ast.AtVarOp, ast.AutoCastOp)) and not v.addressof:
        v.addressof = True
        p[0] = v
    else:
        # stap accepts `&expr` here and prints it as a unary operator;
        # elaboration rejects it unless it is a $target.
        p[0] = _mk(ast.Unary, _tok(p, 1), "&", v)


def p_postfix_pass(p):
    """postfix : primary"""
    p[0] = p[1]


def p_postfix(p):
    """postfix : primary INCR
               | primary DECR"""
    p[0] = _mk(ast.PostCrement, _tok(p, 2), p[2], p[1])


# ---------------------------------------------------------------- primaries

def p_primary_literal(p):
    """primary : number
               | string"""
    p[0] = p[1]


def p_number(p):
    """number : NUMBER"""
    p[0] = _number(_tok(p, 1))


def p_string(p):
    """string : STRING"""
    t = _tok(p, 1)
    p[0] = _mk(ast.String, t, t.value)
    p[0]._tok = t     # for errors about what follows it (print formats)


def p_primary_paren(p):
    """primary_plain : LPAREN expr RPAREN"""
    p[0] = p[2]


def p_primary_embedded(p):
    """primary : EMBEDDED"""
    t = _tok(p, 1)
    _state.deny_embedded_expr(t)
    p[0] = _mk(ast.EmbeddedExpr, t, t.value)


def p_primary_symbol(p):
    """primary_plain : IDENT"""
    t = _tok(p, 1)
    p[0] = _mk(ast.Symbol, t, t.value)


def p_primary_index(p):
    """primary_plain : IDENT LBRACKET index_list RBRACKET"""
    t = _tok(p, 1)
    p[0] = _mk(ast.ArrayIndex, t, _mk(ast.Symbol, t, t.value), p[3])


def p_primary_hist_index(p):
    """primary_plain : hist_op LBRACKET index_list RBRACKET"""
    p[1]._ok = True
    p[0] = _at(ast.ArrayIndex(p[1], p[3]), p[1])


def p_primary_call(p):
    """primary_plain : IDENT LPAREN opt_args RPAREN"""
    t = _tok(p, 1)
    p[0] = _call(t, p[3], _tok(p, 2), _tok(p, 4))


def p_opt_args_none(p):
    """opt_args : """
    p[0] = []


def p_opt_args(p):
    """opt_args : args"""
    p[0] = p[1]


def p_args_one(p):
    """args : expr"""
    p[0] = [p[1]]


def p_args_more(p):
    """args : args COMMA expr"""
    p[0] = p[1] + [p[3]]


def p_primary_target(p):
    """primary : TARGET opt_components"""
    t = _tok(p, 1)
    name, comps = _split_pretty(t)
    p[0] = _mk(ast.TargetSymbol, t, name, comps + p[2])


def p_primary_autocast(p):
    """primary : primary_plain arrow_components"""
    p[0] = _at(ast.AutoCastOp(p[1], p[2]), p[1])


def p_primary_paren_components(p):
    """primary : LPAREN expr RPAREN target_components"""
    p[0] = _at(ast.AutoCastOp(p[2], p[4]), p[2])


def p_primary_plain(p):
    """primary : primary_plain"""
    p[0] = p[1]


def p_arrow_components(p):
    """arrow_components : ARROW member_name"""
    p[0] = _member(p, 2)


def p_arrow_components_index(p):
    """arrow_components : LBRACKET expr RBRACKET"""
    p[0] = [_mk(ast.TargetComponent, _tok(p, 1), "index", index=p[2])]


def p_arrow_components_more(p):
    """arrow_components : arrow_components target_component"""
    p[0] = p[1] + p[2]


def p_target_components_one(p):
    """target_components : target_component"""
    p[0] = p[1]


def p_target_components_more(p):
    """target_components : target_components target_component"""
    p[0] = p[1] + p[2]


def p_target_component_member(p):
    """target_component : ARROW member_name"""
    p[0] = _member(p, 2)


def p_member_name(p):
    """member_name : IDENT
                   | TARGET
                   | PROBE
                   | GLOBAL
                   | PRIVATE
                   | FUNCTION
                   | IF
                   | ELSE
                   | FOR
                   | FOREACH
                   | IN
                   | LIMIT
                   | RETURN
                   | DELETE
                   | WHILE
                   | BREAK
                   | CONTINUE
                   | NEXT
                   | STRING_KW
                   | LONG
                   | TRY
                   | CATCH"""
    p[0] = _tok(p, 1)


def _member(p, i):
    """`->name`, `->$`, `->$$`, and `->name$` / `->name$$` (pretty-print
    suffix glued to the field name): a list of components."""
    t = p[i]
    if t.type == "TARGET":
        if t.value in ("$", "$$"):
            return [_mk(ast.TargetComponent, t, "pretty", t.value)]
        raise ParseAbort(perr("expected field name", t))
    m = re.fullmatch(r"([^$]+)(\$\$?)", t.value)
    if m:
        return [_mk(ast.TargetComponent, t, "member", m.group(1)),
                _mk(ast.TargetComponent, t, "pretty", m.group(2))]
    return [_mk(ast.TargetComponent, t, "member", t.value)]


def p_target_component_index(p):
    """target_component : LBRACKET expr RBRACKET"""
    p[0] = [_mk(ast.TargetComponent, _tok(p, 1), "index", index=p[2])]


def p_primary_stat(p):
    """primary : AT_STAT LPAREN expr RPAREN
               | AT_STAT LPAREN expr COMMA NUMBER RPAREN"""
    t = _tok(p, 1)
    params = [_number(_tok(p, 5)).value] if len(p) > 5 else []
    p[0] = _mk(ast.StatOp, t, t.value[1:], p[3], params)


def p_primary_hist(p):
    """primary : hist_op"""
    p[0] = p[1]


def p_hist_op(p):
    """hist_op : AT_HIST LPAREN expr hist_params RPAREN"""
    t = _tok(p, 1)
    kind = "log" if t.value == "@hist_log" else "linear"
    pairs = p[4]
    params = [n for _, n in pairs]
    want = 0 if kind == "log" else 3
    if len(params) < want:
        raise ParseAbort(perr("expected ','", _tok(p, 5)))
    if len(params) > want:
        raise ParseAbort(perr("expected ')'", pairs[want][0]))
    node = _mk(ast.HistOp, t, kind, p[3], [x.value for x in params])
    node._end = _tok(p, 5)
    node._ok = False
    node._params = params
    _state.hists.append(node)
    p[0] = node


def p_hist_params_none(p):
    """hist_params : """
    p[0] = []


def p_hist_params_more(p):
    """hist_params : hist_params COMMA hist_number"""
    p[0] = p[1] + [(_tok(p, 2), p[3])]


def p_hist_number(p):
    """hist_number : NUMBER
                   | MINUS NUMBER"""
    p[0] = _number(_tok(p, len(p) - 1), negate=len(p) > 2)


def p_primary_defined(p):
    """primary : AT_DEFINED LPAREN expr RPAREN"""
    p[0] = _mk(ast.DefinedOp, _tok(p, 1), p[3])


def p_primary_entry(p):
    """primary : AT_ENTRY LPAREN expr RPAREN"""
    p[0] = _mk(ast.EntryOp, _tok(p, 1), p[3])


def p_primary_perf(p):
    """primary : AT_PERF LPAREN string RPAREN"""
    if p[3].value == "":
        # stap looks at the token after the string when it complains
        raise ParseAbort(perr("expected non-empty string", _tok(p, 4)))
    p[0] = _mk(ast.PerfOp, _tok(p, 1), p[3])


def p_primary_const(p):
    """primary : AT_CONST LPAREN string RPAREN"""
    t = _tok(p, 1)
    _state.deny_operator(t, "using @const operator not permitted; need stap -g")
    p[0] = _mk(ast.ConstOp, t, p[3])


def p_primary_cast(p):
    """primary : AT_CAST LPAREN expr COMMA string RPAREN opt_components
               | AT_CAST LPAREN expr COMMA string COMMA string RPAREN opt_components"""
    t = _tok(p, 1)
    if len(p) == 8:
        p[0] = _mk(ast.CastOp, t, p[3], p[5].value, None, p[7])
    else:
        p[0] = _mk(ast.CastOp, t, p[3], p[5].value, p[7].value, p[9])


def p_primary_atvar(p):
    """primary : AT_VAR LPAREN string RPAREN opt_components
               | AT_VAR LPAREN string COMMA string RPAREN opt_components"""
    t = _tok(p, 1)
    name = p[3].value
    tname, _, cu = name.partition("@")
    if len(p) == 6:
        p[0] = _mk(ast.AtVarOp, t, tname, cu, None, p[5])
    else:
        p[0] = _mk(ast.AtVarOp, t, tname, cu, p[5].value, p[7])
    p[0]._raw_name = name


def p_primary_probewrite(p):
    """primary : AT_PROBEWRITE LPAREN IDENT RPAREN"""
    t = _tok(p, 3)
    p[0] = _mk(ast.ProbeWriteOp, _tok(p, 1), _mk(ast.Symbol, t, t.value))


def p_primary_register(p):
    """primary : AT_KREGISTER LPAREN expr RPAREN
               | AT_UREGISTER LPAREN expr RPAREN"""
    t = _tok(p, 1)
    _state.deny_operator(t, f"using {t.value} operator not permitted; need stap -g")
    p[0] = _mk(ast.RegisterOp, t, t.value[1:], p[3])


def p_primary_deref(p):
    """primary : AT_KDEREF LPAREN deref_size COMMA expr RPAREN
               | AT_UDEREF LPAREN deref_size COMMA expr RPAREN"""
    t = _tok(p, 1)
    p[0] = _mk(ast.DerefOp, t, t.value[1:], p[3], p[5])


def p_deref_size(p):
    """deref_size : NUMBER
                  | MINUS NUMBER"""
    # stap keeps SIZE as an unsigned int (-4 prints as 4294967292)
    n = _number(_tok(p, len(p) - 1)).value
    p[0] = (-n if len(p) == 3 else n) & 0xFFFFFFFF


def p_opt_components(p):
    """opt_components :
                      | target_components"""
    p[0] = p[1] if len(p) > 1 else []


def p_error(tok):
    raise ParseAbort(_state.syntax_error(tok))


# ================================================================ helpers

def _number(t: Token, negate=False) -> ast.Number:
    text = t.value
    try:
        if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
            v = int(text, 16)
        elif re.fullmatch(r"0[0-7]*", text):
            v = int(text, 8)
        elif re.fullmatch(r"[1-9][0-9]*", text):
            v = int(text)
        else:
            raise ValueError
        if v >= 1 << 64:
            raise ValueError
    except ValueError:
        raise ParseAbort(perr("number invalid or out of range", t))
    if v >= 1 << 63:
        v -= 1 << 64
    if negate:
        v = -v
        if v >= 1 << 63:
            v -= 1 << 64
    n = _mk(ast.Number, t, v, ("-" if negate else "") + text)
    return n


def _split_pretty(t: Token):
    """`$var$` / `$var$$`: trailing dollars are a pretty-print request."""
    name = t.value
    comps = []
    m = re.fullmatch(r"(\$\$?[^$]+)(\$\$?)", name)
    if m:
        name = m.group(1)
        c = _mk(ast.TargetComponent, t, "pretty", m.group(2))
        comps.append(c)
    return name, comps


def _next_tok(tok: Token) -> Token:
    i = _state.index.get(id(tok))
    if i is None or i + 1 >= len(_state.toks):
        return tok
    return _state.toks[i + 1]


def _call(t: Token, args, lparen: Token, rparen: Token):
    name = t.value
    if name not in PRINT_NAMES:
        return _mk(ast.FunctionCall, t, name, args)
    node = _mk(ast.PrintFormat, t, name, list(args))
    if node.is_format or node.is_delim:
        first = args[0] if args else None
        if not isinstance(first, ast.String):
            where = _next_tok(lparen)
            raise ParseAbort(perr("expected literal string", where))
        if node.is_format:
            node.fmt = first.value
            msg = check_format(first.value)
            if msg:
                raise ParseAbort(perr(msg, _next_tok(first._tok)))
        else:
            node.delimiter = first.value
        node.args = list(args[1:])
        if node.is_delim and len(node.args) < 2:
            raise ParseAbort(perr("expected literal string or number", _next_tok(rparen)))
    elif not args and name in ("print", "sprint"):
        raise ParseAbort(perr("expected literal string or number", rparen))
    if len(node.args) == 1 and isinstance(node.args[0], ast.HistOp) and not node.is_format \
            and not node.is_delim:
        node.hist = node.args[0]
        node.hist._ok = True
        node.args = []
    elif not node.is_format and not node.is_delim and isinstance(node.args[0] if node.args else None,
                                                                 ast.HistOp):
        # a histogram prints alone: stap wants ')' right after it
        raise ParseAbort(perr("expected ')'", _next_tok(node.args[0]._end)))
    return node


_FMT_CONVERSIONS = set("diuoxXpscbmM")


def check_format(raw: str) -> Optional[str]:
    """stap checks *printf formats at parse time: flags, width, precision,
    an optional `l`, then one of its conversions.  Returns stap's message
    for a bad one, else None."""
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        i += 1
        if c != "%":
            continue
        if i < n and raw[i] == "%":
            i += 1
            continue
        start = i
        while i < n and raw[i] in "-+ #0":
            i += 1
        if i < n and raw[i] == "*":
            i += 1
        else:
            while i < n and raw[i].isdigit():
                i += 1
        if i < n and raw[i] == ".":
            i += 1
            if i < n and raw[i] == "*":
                i += 1
            else:
                while i < n and raw[i].isdigit():
                    i += 1
        spec_started = i > start
        if i < n and raw[i] == "l":
            i += 1
            if i >= n:
                return "trailing incomplete print format conversion" if spec_started else None
        if i >= n:
            return "trailing incomplete print format conversion" if spec_started \
                else "invalid or missing conversion specifier"
        if raw[i] not in _FMT_CONVERSIONS:
            return "invalid or missing conversion specifier"
        i += 1
    return None


# ================================================================ token pass

_FUNCTOR_TYPES = {"IDENT", "TIMES", "NUMBER"} | KEYWORD_TYPES
_PP_START = {"PROBE", "COMMA", "ASSIGN", "PLUSEQ"}


def probe_point_tokens(toks: List[Token]) -> List[Token]:
    """After `probe` (and after `=`/`+=` of an alias), glue adjacent
    tokens of each probe point component into one PPFUNCTOR token and
    expand `{a,b}` alternatives into comma-separated points."""
    toks = _join_strings(toks)
    out: List[Token] = []
    i = 0
    n = len(toks)
    depth = 0
    while i < n:
        t = toks[i]
        if t.type == "PROBE" and depth == 0:
            out.append(t)
            i = _pp_list(toks, i + 1, out)
            continue
        if t.type == "LBRACE":
            depth += 1
        elif t.type == "RBRACE":
            depth = max(0, depth - 1)
        out.append(t)
        i += 1
    return out


def _join_strings(toks: List[Token]) -> List[Token]:
    """Adjacent string literals are one literal ("a" "b" is "ab")."""
    out: List[Token] = []
    for t in toks:
        if t.type == "STRING" and out and out[-1].type == "STRING":
            prev = out[-1].copy()
            prev.value += t.value
            prev.text = '"' + prev.value + '"'
            out[-1] = prev
            continue
        out.append(t)
    return out


def _is_alternation(toks, j, prev) -> bool:
    """Is toks[j] == '{' the start of `{a,b}` probe point alternatives
    rather than the probe body?  After '.' or at a point's start it is;
    glued to a functor (`sys{a,b}` vs `foo.return{ body`) only if the
    group holds a comma and nothing but point syntax."""
    if prev is None or prev.type == "DOT":
        return True
    if prev.type in _FUNCTOR_TYPES and not toks[j].ws_before:
        # stap 4.8 does not glue `sys{a,b}`: the '{' starts the body
        return False
    if prev.type not in _FUNCTOR_TYPES or toks[j].ws_before:
        return False
    d = 0
    comma = False
    for k in range(j + 1, len(toks)):
        u = toks[k]
        if u.type == "LBRACE":
            d += 1
        elif u.type == "RBRACE":
            if d == 0:
                return comma
            d -= 1
        elif u.type == "COMMA" and d == 0:
            comma = True
        elif u.type == "LPAREN":
            # only `functor("literal")` may appear inside alternatives
            if not (k + 3 < len(toks) and toks[k - 1].type in _FUNCTOR_TYPES
                    and toks[k + 1].type in ("STRING", "NUMBER") and toks[k + 2].type == "RPAREN"
                    and toks[k + 3].type in ("COMMA", "DOT", "RBRACE")):
                return False
        elif u.type not in _FUNCTOR_TYPES and u.type not in ("DOT", "RPAREN", "STRING"):
            return False
    return False


def _pp_list(toks, i, out):
    """Scan comma-separated points (and alias `=`/`+=` targets) up to the
    body's `{`; returns the index of that `{`."""
    n = len(toks)
    while i < n:
        # one point: gather its raw tokens up to , = += { ? ! if at depth 0
        j = i
        paren = 0
        brace = 0
        raw = []
        while j < n:
            t = toks[j]
            if t.type == "EOF":
                break
            if paren == 0 and brace == 0:
                if t.type in ("COMMA", "ASSIGN", "PLUSEQ", "QUESTION", "NOT", "IF", "SEMI"):
                    break
                if t.type == "LBRACE":
                    if not _is_alternation(toks, j, raw[-1] if raw else None):
                        break
                    brace += 1
                    raw.append(t)
                    j += 1
                    continue
            if t.type == "LPAREN":
                paren += 1
            elif t.type == "RPAREN":
                paren -= 1
                if paren < 0:
                    break
            elif t.type == "LBRACE" and brace:
                brace += 1
            elif t.type == "RBRACE" and brace:
                brace -= 1
                nxt = toks[j + 1] if j + 1 < n else None
                if brace == 0 and paren == 0 and nxt is not None and \
                        nxt.type in _FUNCTOR_TYPES and not nxt.ws_before:
                    # stap: nothing may be glued after an alternatives group
                    raise ParseAbort(perr("expected one of ', { } = +='", nxt))
            raw.append(t)
            j += 1
        # flags and condition stay as ordinary tokens after each copy
        k = j
        while k < n and toks[k].type in ("QUESTION", "NOT"):
            k += 1
        if k < n and toks[k].type == "IF":
            k = _balanced(toks, k + 1)
        tail = toks[j:k]
        alts = _expand_braces(raw)
        for ai, alt in enumerate(alts):
            if ai:
                c = tail[0].copy() if tail else alt[0].copy()
                c.type, c.value, c.text = "COMMA", ",", ","
                out.append(c)
            out.extend(_glue(alt))
            out.extend(tail)
        i = k
        if i < n and toks[i].type in ("COMMA", "ASSIGN", "PLUSEQ"):
            out.append(toks[i])
            i += 1
            continue
        return i
    return i


def _balanced(toks, k):
    """k at '(' : index after the matching ')'."""
    n = len(toks)
    if k >= n or toks[k].type != "LPAREN":
        return k
    d = 0
    while k < n and toks[k].type != "EOF":
        if toks[k].type == "LPAREN":
            d += 1
        elif toks[k].type == "RPAREN":
            d -= 1
            if d == 0:
                return k + 1
        k += 1
    return k


def _expand_braces(raw: List[Token]) -> List[List[Token]]:
    """Cartesian expansion of the first `{a,b}` group, recursively."""
    paren = 0
    for idx, t in enumerate(raw):
        if t.type == "LPAREN":
            paren += 1
        elif t.type == "RPAREN":
            paren -= 1
        elif t.type == "LBRACE" and paren == 0:
            d = 0
            alts = [[]]
            end = None
            for j in range(idx + 1, len(raw)):
                u = raw[j]
                if u.type == "LBRACE":
                    d += 1
                elif u.type == "RBRACE":
                    if d == 0:
                        end = j
                        break
                    d -= 1
                elif u.type == "COMMA" and d == 0:
                    alts.append([])
                    continue
                alts[-1].append(u)
            if end is None:
                return [raw]
            for a_i, a in enumerate(alts):
                if not a:
                    # `{}` / `{a,}`: the token where a functor was needed
                    pos = idx + 1 + sum(len(x) + 1 for x in alts[:a_i])
                    bad = raw[pos] if pos < len(raw) else raw[end]
                    raise ParseAbort(perr("expected identifier or '*' or '{'", bad))
            result = []
            after = raw[end + 1:]
            for a in alts:
                a = [x.copy() for x in a]
                if a:
                    a[0].ws_before = t.ws_before
                aft = [x.copy() for x in after]
                if aft and not after[0].ws_before:
                    aft[0].ws_before = False
                result.extend(_expand_braces(raw[:idx] + a + aft))
            return result
    return [raw]


def _glue(raw: List[Token]) -> List[Token]:
    out: List[Token] = []
    i = 0
    n = len(raw)
    at_start = True
    while i < n:
        t = raw[i]
        if at_start and t.type in _FUNCTOR_TYPES and t.type != "NUMBER":
            text = t.value
            j = i + 1
            while j < n and raw[j].type in _FUNCTOR_TYPES and not raw[j].ws_before:
                text += raw[j].value
                j += 1
            g = t.copy()
            g.orig_type = t.type
            g.type, g.value, g.text = "PPFUNCTOR", text, text
            out.append(g)
            i = j
            at_start = False
            continue
        if t.type == "LPAREN":
            k = _balanced(raw, i)
            out.extend(raw[i:k])
            i = k
            continue
        at_start = t.type == "DOT"
        out.append(t)
        i += 1
    return out


# ================================================================ driver

class _State:
    """Per-parse state the grammar actions consult (PLY actions are module
    functions, so this is module-level; parses never run concurrently)."""

    def __init__(self):
        self.privileged = False
        self.guru = False
        self.errors: List[StapError] = []
        self.hists = []
        self.returns = []
        self.global_names = set()
        self.parser = None
        self.toks: List[Token] = []
        self.index = {}
        self.pos = 0
        self.saw_top = False
        self.feed = None

    def deny_embedded_expr(self, tok: Token):
        """`%{ %}` inside a body without -g: stap reports it, gives up on the
        declaration and carries on from that same token at top level (where
        it is reported again as top-level embedded code)."""
        if not (self.privileged or self.guru):
            self.errors.append(perr(
                "embedded expression code in unprivileged script; need stap -g", tok))
            raise ParseAbort(None, resume=self.index.get(id(tok)))

    def deny_operator(self, tok: Token, msg: str):
        """@const & co without -g: reported, then parsing resumes at top
        level right after the operator."""
        if not (self.privileged or self.guru):
            i = self.index.get(id(tok))
            raise ParseAbort(perr(msg, tok), resume=None if i is None else i + 1)

    def check_embedded(self, tok: Token, msg: str):
        if not (self.privileged or self.guru):
            # stap reports it and carries on parsing
            self.errors.append(perr(msg, tok))

    def syntax_error(self, tok) -> StapError:
        eof = tok is None or tok.type == "EOF"
        if eof:
            tok = self.toks[-1]
        try:
            syms = list(self.parser.symstack)
        except Exception:
            syms = []
        types = [getattr(x, "type", "") for x in syms]
        if types and types[-1] == "ARROW":
            return perr("expected identifier or keyword", tok) if not eof else \
                StapError("expected identifier or keyword", None, tok_desc=f"{tok.file} EOF",
                          kind="parse")
        if eof and types and (types[-1] == "PROBE" or
                              (types[-1] == "ASSIGN" and "GLOBAL" in types)):
            # stap blames the last token it had
            return perr("unexpected end-of-file", syms[-1])
        if not eof and tok.type == "COMMA" and len(types) >= 3 and types[-3] == "AT_STAT":
            return perr("not more than 1 parameter allowed", tok, label="at")
        if not eof and tok.type == "COMMA" and len(types) >= 5 and types[-5] == "AT_STAT":
            if syms[-5].value != "@variance":
                return perr("not more than 1 parameter allowed", syms[-2], label="at")
            return perr("not more than 2 parameters allowed", tok, label="at")
        msg = self._expected(tok, eof)
        site = _context(types)
        if eof:
            # stap names the file's end without a position or source line
            e = StapError(msg, None, tok_desc=f"{tok.file} EOF", kind="parse")
        else:
            e = perr(msg, tok)
        e.site = site
        return e

    def _expected(self, tok: Token, eof: bool) -> str:
        if not eof and tok.type == "ATWORD":
            return f"unknown operator {tok.value}"
        try:
            state = self.parser.statestack[-1]
            expected = set(self.parser.action[state].keys())
            stack = [getattr(x, "type", "") for x in self.parser.symstack]
        except Exception:
            expected, stack = set(), []
        return _describe_expected(expected, None if eof else tok, stack)


# Tokens that can continue an already complete expression: dropped from an
# expected-set before naming what was really missing.
_CONTINUATIONS = {
    "ASSIGN", "PLUSEQ", "MINUSEQ", "TIMESEQ", "DIVEQ", "MODEQ", "LSHIFTEQ", "RSHIFTEQ",
    "ANDEQ", "OREQ", "XOREQ", "DOTEQ", "LLL", "QUESTION", "OROR", "ANDAND", "OR", "XOR",
    "AND", "IN", "EQ", "NE", "LT", "LE", "GT", "GE", "MATCH", "NOMATCH", "LSHIFT", "RSHIFT",
    "RRR", "DOT", "PLUS", "MINUS", "TIMES", "DIVIDE", "MOD", "INCR", "DECR", "LBRACKET",
    "ARROW", "LPAREN",
}
_EXPR_ONLY = {"EQ", "TIMES", "OROR", "QUESTION"}


# Symbols that end a complete value: an error right after one means the
# token cannot continue the expression, and stap's message comes from the
# construct around it.
_COMPLETE = {
    "NUMBER", "STRING", "IDENT", "TARGET", "RPAREN", "RBRACKET", "INCR", "DECR", "EMBEDDED",
    "number", "string", "primary", "primary_plain", "postfix", "unary", "multiplicative",
    "additive", "concat", "shift", "comparison", "array_in", "bit_and", "bit_xor", "bit_or",
    "logical_and", "logical_or", "ternary", "assignment", "expr", "member_name",
    "target_components", "arrow_components", "opt_components", "simple",
}


def _symbol_value(k: int):
    """The value of the k-th symbol on the parser's stack (None if unknown)."""
    try:
        return getattr(_state.parser.symstack[k], "value", None)
    except (AttributeError, IndexError, TypeError):
        return None


def _after_expression(stack, tok, is_kw) -> str:
    eof = tok is None
    top = len(stack) - 1
    if stack[top] == "RPAREN":
        # a statement header `if (...)` just closed, or a parenthesised value
        d = 0
        for j in range(top, -1, -1):
            if stack[j] == "RPAREN":
                d += 1
            elif stack[j] == "LPAREN":
                d -= 1
                if d == 0:
                    if j and stack[j - 1] in ("IF", "WHILE", "FOR", "FOREACH"):
                        return "expected statement" if eof or is_kw else \
                            "expected literal string or number"
                    top = j - 1
                    break
    for i in range(top, -1, -1):
        sym = stack[i]
        before = stack[i - 1] if i else ""
        if sym == "LPAREN":
            if eof:
                return "unexpected end-of-file"
            if before == "IDENT":
                # stap's print-family parser lists the comma first
                return "expected one of ', )'" if _symbol_value(i - 1) in PRINT_NAMES \
                    else "expected one of ') ,'"
            if before == "AT_CAST" and stack[i:].count("COMMA") == 0:
                return "expected ','"
            if before in ("AT_CAST", "AT_VAR"):
                return "expected ')'"
            if before == "FOR":
                semis = stack[i:].count("SEMI")
                return "expected ';'" if semis < 2 else "expected ')'"
            return "expected ')'"
        if sym == "LBRACKET":
            return "unexpected end-of-file" if eof else "expected one of '] ,'"
        if sym == "QUESTION":
            return "unexpected end-of-file" if eof else "expected ':'"
        if sym == "LIMIT":
            return "unexpected end-of-file" if eof else "expected ')'"
        if sym in ("LBRACE", "statements", "ELSE", "block"):
            break
        if sym == "RPAREN" and i < len(stack) - 1:
            break   # if (...) / while (...) / for (...) header done: a statement
    if eof or is_kw:
        return "expected statement"
    return "expected literal string or number"


def _context(stack) -> str:
    """Which header the parser is inside, from the symbols on its stack."""
    for sym in reversed(stack):
        if sym in ("LBRACE", "block", "statements"):
            return "body"
        if sym == "FUNCTION":
            return "function"
        if sym == "FOREACH":
            return "foreach"
        if sym == "GLOBAL":
            return "global"
        if sym in ("PRIVATE",):
            return "private"
    return ""


def _describe_expected(expected: set, tok: Optional[Token], stack=()) -> str:
    """Name what stap's recursive-descent parser would have asked for, from
    the LALR state's acceptable tokens (tok None: end of file)."""
    e = expected
    eof = tok is None
    ctx = _context(stack)
    if not eof and e and e <= {"NUMBER", "MINUS"} and "NUMBER" in e:
        # stap's expect_number: @kderef/@uderef sizes, global array sizes
        opener = stack[-2] if stack[-1:] == ["MINUS"] and len(stack) > 1 else stack[-1:][0] \
            if stack else ""
        k = len(stack) - (2 if stack[-1:] == ["MINUS"] else 1)
        before = stack[k - 1] if k >= 1 else ""
        if opener == "LPAREN" and before in ("AT_KDEREF", "AT_UDEREF") or \
                opener == "LBRACKET" and "GLOBAL" in stack and "LBRACE" not in stack:
            return "expected number"
    # keywords (and non-ASCII junk) cannot start an expression statement
    is_kw = tok is not None and (tok.type in KEYWORD_TYPES or
                                 tok.type == "JUNK" and not tok.text.isascii())
    if ctx in ("body", "foreach") and stack and stack[-1] in _COMPLETE and \
            (ctx == "body" or "LIMIT" in stack):
        return _after_expression(stack, tok, is_kw)
    if stack and stack[-1] == "PRIVATE":
        return "expected 'function' or identifier"
    if ctx == "function":
        if "LPAREN" in stack[stack.index("FUNCTION"):]:
            if eof:
                return "unexpected end-of-file"
            if stack[-1] in ("LPAREN", "COMMA"):
                return "expected identifier"
            if e & {"RPAREN", "COMMA"}:
                return "expected ',' or ')'"
        elif e & {"LPAREN"}:
            return "expected '('"
    if stack and stack[-1] == "MINUS" and "PPFUNCTOR" in stack:
        return "expected literal string or number"
    if ctx == "global" and eof:
        return "unexpected end-of-file"
    if "PROBE" in e and "GLOBAL" in e:
        return "expected 'probe', 'global', 'private', 'function', or '%{'"
    if "IF" in e and "FOR" in e and "SEMI" in e:
        # a statement starts here: stap tries an expression unless it sees a keyword
        return "expected statement" if eof or is_kw else "expected literal string or number"
    if "NUMBER" in e and "IDENT" in e:
        return "expected value" if eof else "expected literal string or number"
    if "LBRACE" in e and "COMMA" in e and "ASSIGN" in e:
        return "expected one of ', { } = +='"
    if "PPFUNCTOR" in e:
        return "expected identifier or '*' or '{'"
    if "CATCH" in e:
        return "expected 'catch'"
    if e >= {"LONG", "STRING_KW"}:
        return "expected 'string' or 'long'"
    if "ARROW" in e and "IDENT" in e or e >= {"IDENT", "PROBE", "TARGET"}:
        return "expected identifier or keyword"
    if "AT_HIST" in e and "IDENT" in e:
        return "expected identifier or statistical operation"
    in_expr = bool(e & _EXPR_ONLY)
    rest = e - _CONTINUATIONS if in_expr else e
    if "NUMBER" in rest and "STRING" in rest:
        return "expected literal string or number"
    if ctx == "global" and "NUMBER" in rest:
        return "expected number"
    if eof and not rest & {"COLON", "SEMI"}:
        return "unexpected end-of-file"
    if ctx == "function" and rest & {"RPAREN", "COMMA"} and "LPAREN" not in rest:
        return "expected ',' or ')'"
    if ctx == "foreach" and rest & {"RBRACKET", "COMMA"}:
        return "expected ',' or ']'"
    if rest == {"RPAREN", "COMMA"}:
        return "expected one of ') ,'"
    if rest == {"RBRACKET", "COMMA"}:
        return "expected one of '] ,'"
    if "IN" in e and ctx == "foreach" and not in_expr:
        return "expected 'in'"
    if rest == {"STRING"}:
        near = next((x for x in reversed(stack) if x in ("AT_CAST", "AT_VAR", "AT_PERF",
                                                          "AT_CONST", "MATCH", "NOMATCH")), "")
        return "expected string" if near in ("AT_CAST", "AT_VAR") else "expected literal string"
    singles = [("RPAREN", "')'"), ("RBRACKET", "']'"), ("LPAREN", "'('"), ("COLON", "':'"),
               ("SEMI", "';'"), ("COMMA", "','"), ("RBRACE", "'}'"), ("LBRACE", "'{'")]
    for typ, text in singles:
        if rest == {typ}:
            return f"expected {text}"
    if "IDENT" in rest:
        return "expected identifier"
    for typ, text in singles:
        if typ in rest:
            return f"expected {text}"
    return "unexpected end-of-file" if eof else "syntax error"


_state = _State()
_PARSER = None


def _grammar_hash() -> str:
    h = hashlib.sha1()
    mod = sys.modules[__name__]
    for name in sorted(dir(mod)):
        if name.startswith("p_"):
            h.update(name.encode())
            h.update((getattr(mod, name).__doc__ or "").encode())
    h.update(repr(tokens).encode())
    h.update(repr(precedence).encode())
    return h.hexdigest()[:16]


def _get_parser(options=None):
    """PLY's LALR tables, from the cache when a trusted copy of this
    grammar's tables is there, else built (and stored).  The tables are kept
    as plain JSON, read back through PLY's table-module interface, so
    loading them runs no code (PLY's own pickle files would)."""
    global _PARSER
    if _PARSER is not None:
        return _PARSER
    from . import cachefs
    from .options import Options
    root = options.cache_dir if options is not None else Options().cache_dir
    name = f"parsetab-{_grammar_hash()}.json"
    kw = dict(module=sys.modules[__name__], start="file", debug=False,
              errorlog=yacc.NullLogger(), write_tables=False)
    tab = _tables_module(cachefs.load_json(root, name))
    if tab is not None:
        try:
            _PARSER = yacc.yacc(tabmodule=tab, optimize=True, **kw)
            return _PARSER
        except Exception:
            _PARSER = None
    # Build in memory (not optimize mode: that would trust any stale
    # "parsetab" module it finds), then keep the tables for the next run.
    _PARSER = yacc.yacc(tabmodule="pytap_no_such_parsetab", optimize=False, **kw)
    if cachefs.store_json(root, name, _tables_json(_PARSER)):
        for old, _st in cachefs.entries(root):
            if old.startswith("parsetab-") and old != name:
                cachefs.remove(root, old)
    return _PARSER


def _tables_json(parser) -> dict:
    """An LRParser's tables as plain data (what PLY's write_table writes)."""
    return {"tabversion": yacc.__tabversion__, "method": "LALR",
            "action": {str(k): v for k, v in parser.action.items()},
            "goto": {str(k): v for k, v in parser.goto.items()},
            "productions": [[p.str, p.name, p.len, p.func, os.path.basename(p.file or ""), p.line]
                            for p in parser.productions]}


def _tables_module(data):
    """The cached JSON tables as the module object PLY's read_table takes;
    None when absent or of another PLY table version."""
    import types
    if not isinstance(data, dict) or data.get("tabversion") != yacc.__tabversion__:
        return None
    try:
        mod = types.ModuleType("pytap_parsetab")
        mod.__file__ = __file__
        mod._tabversion = data["tabversion"]
        mod._lr_method = data["method"]
        mod._lr_signature = ""
        mod._lr_action = {int(k): v for k, v in data["action"].items()}
        mod._lr_goto = {int(k): v for k, v in data["goto"].items()}
        mod._lr_productions = [tuple(p) for p in data["productions"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return mod


class _TokenFeed:
    def __init__(self, toks, start):
        self.toks = toks
        self.i = start
        _state.feed = self
        _state.parser.symstack = ["$end"]

    def token(self):
        if self.i >= len(self.toks):
            return None
        t = self.toks[self.i]
        self.i += 1
        if t.type == "EOF":
            return None
        if t.type == "LEXERR":
            # a lexical error ends the file for stap's parser
            raise ParseAbort(t.value, resume=len(self.toks))
        if t.type == "PPERR":
            # a preprocessor error, thrown where stap's parser asks for the
            # token; recovery skips to the next declaration
            raise ParseAbort(t.value)
        if t.type == "ARGERR":
            # $N out of range: an error where the parser meets it
            stack = [getattr(x, "type", "") for x in _state.parser.symstack]
            if t.text.startswith("$") and "PROBE" in stack and "LBRACE" not in stack:
                t.value.site = "point-arg" if stack[-1] == "LPAREN" else "point"
            else:
                t.value.site = "value"
            raise ParseAbort(t.value)
        prev = self.toks[self.i - 2] if self.i >= 2 else None
        if t.type in ("ASSIGN", "PLUSEQ") and prev is not None and prev.type in ("QUESTION", "NOT"):
            _optional_alias_name(self.toks, self.i - 1)
        if prev is not None and prev.type == "RETURN" and t.type in KEYWORD_TYPES:
            # stap's `return` takes a value unless ';' or '}' follows
            raise ParseAbort(perr("expected literal string or number", t))
        if t.type in ("AT_CONST", "AT_KREGISTER", "AT_UREGISTER", "AT_KDEREF"):
            _state.deny_operator(t, f"using {t.value} operator not permitted; need stap -g")
        if t.type == "EMBEDDED":
            stack = [getattr(x, "type", "") for x in _state.parser.symstack]
            if stack[-1:] == ["EMBEDDED"]:
                stack = stack[:-1]
            if stack[-1:] == ["items"] or stack == ["$end"] or stack[-1:] == ["RPAREN"] \
                    and "FUNCTION" in stack and "LBRACE" not in stack:
                # top-level or function-body embedded C: reported, parsing goes on
                _state.check_embedded(t, "embedded code in unprivileged script; need stap -g")
        return t


_RESYNC = {"PROBE", "GLOBAL", "FUNCTION", "PRIVATE", "EMBEDDED"}


def _optional_alias_name(toks, i: int) -> None:
    """`probe NAME? = ...`: stap refuses it when it sees the '=' (so before
    anything in the body), naming the alias's first component."""
    stack = [getattr(x, "type", "") for x in _state.parser.symstack]
    if "PROBE" not in stack or "LBRACE" in stack:
        return
    k = i - 1
    while k > 0 and toks[k].type != "PROBE":
        if toks[k].type in ("COMMA", "LBRACE", "RBRACE", "SEMI"):
            return           # a list of points: "expected probe point specifier"
        k -= 1
    if toks[k].type != "PROBE" or k + 1 >= i:
        return
    first = toks[k + 1]
    raise ParseAbort(perr("probe point alias name cannot be optional nor sufficient",
                          first, label="at"))


def parse(text: str, filename: str = "<input>", options=None, privileged: bool = False,
          macros: Optional[dict] = None) -> ast.StapFile:
    """Parse one script or tapset file.  Raises PassFailed with all the
    parse errors (in stap's form) when anything is wrong."""
    SOURCES.add(filename, text)
    errors: List[StapError] = []
    guru = bool(getattr(options, "guru", False))
    items: List[ast.Node] = []
    try:
        toks = tokenize(text, filename)
        pp = Preprocessor(options, errors, library_macros(options), privileged)
        toks = pp.run(toks, macros)
        toks = probe_point_tokens(toks)
    except StapError as e:
        errors.append(e)
        toks = None
    except ParseAbort as e:
        errors.append(e.err)
        toks = None
    if toks is not None and len(toks) == 1:
        raw_empty = all(t.type == "EOF" for t in tokenize(text, filename))
        what = "empty." if raw_empty else "empty after preprocessing."
        if not errors:
            raise PassFailed(f"Input file '{filename}' is {what}\n{PASS1_FOOTER}")
        if any(getattr(e, "no_count", False) for e in errors):
            f = _failure(errors, getattr(options, "verbose", 0))
            f.footer = f"Input file '{filename}' is {what}\n{PASS1_FOOTER}"
            raise f
    if toks is not None and not errors:
        # (after preprocessor errors stap reports nothing more for the file)
        items = _parse_tokens(toks, privileged, guru, errors)
        if errors and not _state.saw_top:
            # every declaration start was a preprocessor error: stap says
            # the file is empty instead of counting
            f = _failure(errors, getattr(options, "verbose", 0))
            f.footer = (f"Input file '{filename}' is empty after preprocessing.\n"
                        + f.footer[f.footer.index(PASS1_FOOTER):])
            raise f
    if errors:
        raise _failure(errors, getattr(options, "verbose", 0))
    return _build_file(filename, items, privileged)


def _failure(errors: List[StapError], verbose: int = 0) -> PassFailed:
    """stap prints an error whose message it already printed only with -v,
    and says how many it held back after the footer."""
    diags = Diagnostics()
    seen = set()
    suppressed = 0
    for e in errors:
        # stap holds back an error raised from the same place in its parser as
        # one already shown; approximated by message, token kind and construct
        key = (e.message, e.tok_desc.split(" ")[0], getattr(e, "site", ""))
        if not verbose and key in seen and not getattr(e, "no_suppress", False):
            suppressed += 1
            continue
        seen.add(key)
        diags.error(e)
    n = len(errors)
    footer = f"{n} parse error{'s' if n != 1 else ''}.\n{PASS1_FOOTER}"
    if any(getattr(e, "no_count", False) for e in errors):
        footer = PASS1_FOOTER
    if suppressed:
        footer += (f"\nNumber of similar error messages suppressed: {suppressed}.\n"
                   "Rerun with -v to see them.")
    return PassFailed(footer, diags)


def _parse_tokens(toks, privileged, guru, errors) -> List[ast.Node]:
    parser = _get_parser()
    _state.privileged = privileged
    _state.guru = guru
    _state.parser = parser
    _state.toks = toks
    _state.index = {id(t): i for i, t in enumerate(toks)}
    _state.global_names = set()
    items: List[ast.Node] = []
    start = 0
    _state.saw_top = False     # stap's `empty`: a declaration start was seen
    while True:
        _state.errors = errors
        _state.hists = []
        _state.returns = []
        if toks[start].type not in ("PPERR", "EOF"):
            _state.saw_top = True
        feed = _TokenFeed(toks, start)
        try:
            items.extend(parser.parse(lexer=feed))
            for h in _state.hists:
                if not h._ok:
                    h_tok = _FakeTok(h)
                    errors.append(StapError("base histogram operator where expression expected",
                                            h.loc, tok_desc=h.tok_desc, kind="parse", label="at"))
            return items
        except ParseAbort as e:
            if e.err is not None:
                errors.append(e.err)
            if e.resume is not None:
                k = max(e.resume, start + 1)
            else:
                # quietly skip to the next token a declaration can start with
                k = max(feed.i - 1, start + 1)
                if k < len(toks) and toks[k].type == "PPERR" and toks[k].value is e.err:
                    k += 1          # consumed by the throw, not met again
                while k < len(toks) and toks[k].type not in _RESYNC and toks[k].type != "EOF":
                    t = toks[k]
                    if t.type == "PPERR":
                        # stap prints preprocessor errors met while skipping
                        errors.append(t.value)
                        k += 1
                        continue
                    if t.type == "PPFUNCTOR" and t.orig_type in _RESYNC and \
                            t.text in ("probe", "global", "function", "private"):
                        # a keyword we had glued into a probe point: stap's
                        # resync stops there too
                        kw = t.copy()
                        kw.type = t.orig_type
                        toks[k] = kw
                        _state.index[id(kw)] = k
                        break
                    k += 1
            if k >= len(toks) or toks[k].type == "EOF":
                return items
            start = k


class _FakeTok:
    def __init__(self, node):
        self.loc = node.loc


def _build_file(filename, items, privileged) -> ast.StapFile:
    f = ast.StapFile(name=filename, privileged=privileged)
    f.loc = ast.Loc(filename, 1, 1)
    for it in items:
        if isinstance(it, ast.Probe):
            f.probes.append(it)
        elif isinstance(it, ast.ProbeAlias):
            f.aliases.append(it)
        elif isinstance(it, ast.FunctionDecl):
            f.functions.append(it)
        elif isinstance(it, ast.VarDecl):
            f.globals.append(it)
        elif isinstance(it, ast.EmbeddedCode):
            f.embeds.append(it)
        f.items.append(it)
    return f


def parse_file(path: str, options=None, privileged: bool = False) -> ast.StapFile:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError:
        raise PassFailed(f"Input file '{path}' is missing.\n{PASS1_FOOTER}")
    return parse(text, path, options, privileged=privileged)
