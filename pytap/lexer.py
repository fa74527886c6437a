"""Tokenizer for SystemTap scripts.

Hand-written around one compiled regex (faster to start than PLY's lex,
which rebuilds its master regex each run) but producing PLY-compatible
tokens (`type`, `value`, `lineno`, `lexpos`) so PLY yacc can consume them.

Token types:
  IDENT     plain identifier (also `$var`, `$$vars`: those are TARGET)
  TARGET    `$name` / `$$name` (context variables)
  ATWORD    `@name` (builtin operators and macro invocations); value "@name"
  ARGREF    `$1` `@1` `$#` `@#` (script arguments; the preprocessor replaces them)
  NUMBER    integer literal, value is the text as written
  STRING    string literal, value is the raw text between the quotes
  EMBEDDED  `%{ ... %}`, value is the code between the markers
  keywords  upper-cased keyword (PROBE, GLOBAL, ...)
  operators named in OPERATORS below; PLY literal names for one-char ones
  EOF       appended at the end
"""
from __future__ import annotations

import re
from typing import List, Optional

from .ast import Loc
from .diagnostics import StapError

KEYWORDS = {
    "probe", "global", "private", "function", "if", "else", "for", "foreach",
    "in", "limit", "return", "delete", "while", "break", "continue", "next",
    "string", "long", "try", "catch",
}

# Longest first: the regex alternation tries them in this order.
OPERATORS = {
    "<<<": "LLL", ">>>": "RRR", "<<=": "LSHIFTEQ", ">>=": "RSHIFTEQ",
    "==": "EQ", "!=": "NE", "<=": "LE", ">=": "GE", "&&": "ANDAND", "||": "OROR",
    "++": "INCR", "--": "DECR", "+=": "PLUSEQ", "-=": "MINUSEQ", "*=": "TIMESEQ",
    "/=": "DIVEQ", "%=": "MODEQ", "&=": "ANDEQ", "^=": "XOREQ", "|=": "OREQ",
    ".=": "DOTEQ", "<<": "LSHIFT", ">>": "RSHIFT", "->": "ARROW", "=~": "MATCH",
    "!~": "NOMATCH", "%(": "PP_OPEN", "%?": "PP_THEN", "%:": "PP_ELSE",
    "%)": "PP_CLOSE",
    "=": "ASSIGN", "+": "PLUS", "-": "MINUS", "*": "TIMES", "/": "DIVIDE",
    "%": "MOD", "<": "LT", ">": "GT", "!": "NOT", "~": "TILDE", "&": "AND",
    "|": "OR", "^": "XOR", "?": "QUESTION", ":": "COLON", ".": "DOT",
    ",": "COMMA", ";": "SEMI", "(": "LPAREN", ")": "RPAREN", "[": "LBRACKET",
    "]": "RBRACKET", "{": "LBRACE", "}": "RBRACE",
}

def keyword_type(word: str) -> str:
    """Token type of a keyword; `string` is STRING_KW (STRING is a literal)."""
    return "STRING_KW" if word == "string" else word.upper()


KEYWORD_TYPES = {keyword_type(k) for k in KEYWORDS}

TOKEN_TYPES = sorted(set(OPERATORS.values()) | KEYWORD_TYPES | {
    "IDENT", "TARGET", "ATWORD", "ARGREF", "NUMBER", "STRING", "EMBEDDED"})

_op_re = "|".join(re.escape(o) for o in sorted(OPERATORS, key=len, reverse=True))
_MASTER = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*|//[^\n]*)
  | (?P<ccomment>/\*)
  | (?P<embedded>%\{)
  | (?P<string>")
  | (?P<argref>[$@](?:[0-9]+|\#))
  | (?P<target>\$[A-Za-z0-9_$]*)
  | (?P<atword>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>[0-9][A-Za-z0-9_]*)
  | (?P<op>""" + _op_re + r""")
""", re.X)


_KEPT_ESCAPES = set('abfnrtv\\"x01234567')


class Token:
    """One token.  `ws_before`: whitespace or a comment precedes it (probe
    point components are glued from adjacent tokens only).  `file`/`col`
    give stap's coordinates; `lineno`/`lexpos` satisfy PLY."""
    __slots__ = ("type", "value", "lineno", "lexpos", "col", "file", "ws_before",
                 "text", "expanded_from", "macro_depth", "lexer", "orig_type")

    def __init__(self, type_, value, line, col, file, pos=0, ws_before=False, text=None):
        self.type = type_
        self.value = value
        self.lineno = line
        self.col = col
        self.file = file
        self.lexpos = pos
        self.ws_before = ws_before
        self.text = value if text is None else text   # source text as written
        self.expanded_from = None
        self.macro_depth = 0
        self.orig_type = None

    @property
    def loc(self) -> Loc:
        return Loc(self.file, self.lineno, self.col)

    def copy(self) -> "Token":
        t = Token(self.type, self.value, self.lineno, self.col, self.file, self.lexpos,
                  self.ws_before, self.text)
        t.expanded_from = self.expanded_from
        t.macro_depth = self.macro_depth
        t.orig_type = self.orig_type
        return t

    def desc(self) -> str:
        """stap's wording for this token in error messages."""
        t = self.type
        if t == "EOF":
            return f"{self.file} EOF"
        if t in ("IDENT", "TARGET"):
            return f"identifier '{self.text}'"
        if t == "PPFUNCTOR":
            # glued probe point component: stap keeps the first token's kind
            # with the whole text
            t = self.orig_type or "IDENT"
            if t in ("IDENT", "TARGET"):
                return f"identifier '{self.text}'"
            if t == "NUMBER":
                return f"number '{self.text}'"
            if t in KEYWORD_TYPES:
                return "keyword"
            return f"operator '{self.text}'"
        if t == "NUMBER":
            return f"number '{self.text}'"
        if t == "STRING":
            return f"string '{self.value}'"
        if t == "EMBEDDED":
            return "embedded-code"
        if t == "JUNK":
            # stap's lexer makes a stray ASCII character a one-char operator;
            # other bytes are junk, shown escaped
            if self.text.isascii():
                return f"operator '{self.text}'"
            raw = self.text.encode("utf-8", "surrogateescape")
            return "junk '" + "".join(f"\\x{b:02x}" for b in raw) + "'"
        if t in KEYWORD_TYPES and self.text in KEYWORDS:
            return "keyword"
        return f"operator '{self.text}'"

    def __repr__(self):
        return f"Token({self.type}, {self.value!r}, {self.lineno}:{self.col})"


class LexError(StapError):
    pass


def _lex_error(msg: str, file: str, line: int, col: int, text: str = "") -> StapError:
    return StapError(msg, Loc(file, line, col), tok_desc=f"junk '{text}'", kind="parse", label="at")


def tokenize(text: str, file: str, errors: Optional[list] = None) -> List[Token]:
    """Split `text` into tokens (with a final EOF token).  A lexical error
    ends the stream with a LEXERR token whose value is the StapError (the
    parser reports it when it gets there, as stap does); with `errors`
    given it is also appended there."""
    toks: List[Token] = []
    ascii_text = text.isascii()
    pos = 0
    n = len(text)
    line = 1
    line_start = 0
    ws = True
    match = _MASTER.match
    try:
        while pos < n:
            m = match(text, pos)
            # stap counts columns in bytes
            col = pos - line_start + 1 if ascii_text else _byte_col(text, line_start, pos)
            if m is None:
                # a character no token starts with: a JUNK token the parser rejects
                toks.append(Token("JUNK", text[pos], line, col, file, pos, ws))
                ws = False
                pos += 1
                continue
            kind = m.lastgroup
            end = m.end()
            if kind == "ws":
                ws = True
            elif kind == "nl":
                line += 1
                line_start = end
                ws = True
            elif kind == "comment":
                ws = True
            elif kind == "ccomment":
                close = text.find("*/", end)
                if close < 0:
                    close = n - 2   # stap: an unclosed comment runs to the end of file
                chunk = text[pos:close + 2]
                nls = chunk.count("\n")
                if nls:
                    line += nls
                    line_start = pos + chunk.rfind("\n") + 1
                end = close + 2
                ws = True
            elif kind == "embedded":
                close = text.find("%}", end)
                if close < 0:
                    raise _lex_error("Could not find matching '%}' to close embedded function block",
                                     file, line, col)
                code = text[end:close]
                toks.append(Token("EMBEDDED", code, line, col, file, pos, ws, text[pos:close + 2]))
                nls = code.count("\n")
                if nls:
                    line += nls
                    line_start = end + code.rfind("\n") + 1
                end = close + 2
                ws = False
            elif kind == "string":
                i = end
                buf = []
                while True:
                    if i >= n:
                        raise _lex_error("Could not find matching closing quote", file, line, col)
                    c = text[i]
                    if c == '"':
                        break
                    if c == "\\" and i + 1 < n:
                        # C escapes stay as written (stap prints them back
                        # verbatim); any other backslash is dropped, as stap does
                        nxt = text[i + 1]
                        buf.append(text[i:i + 2] if nxt in _KEPT_ESCAPES else nxt)
                        if text[i + 1] == "\n":
                            line += 1
                            line_start = i + 2
                        i += 2
                        continue
                    if c == "\n":
                        raise _lex_error("Could not find matching closing quote", file, line, col)
                    buf.append(c)
                    i += 1
                raw = "".join(buf)
                toks.append(Token("STRING", raw, line, col, file, pos, ws, '"' + raw + '"'))
                end = i + 1
                ws = False
            else:
                val = m.group()
                if kind == "ident":
                    typ = keyword_type(val) if val in KEYWORDS else "IDENT"
                elif kind == "number":
                    typ = "NUMBER"
                elif kind == "target":
                    typ = "TARGET"
                elif kind == "atword":
                    typ = "ATWORD"
                elif kind == "argref":
                    typ = "ARGREF"
                else:
                    typ = OPERATORS[val]
                toks.append(Token(typ, val, line, col, file, pos, ws))
                ws = False
            pos = end
    except StapError as e:
        if errors is not None:
            errors.append(e)
        # stap stops at a lexical error; end the stream here
        toks.append(Token("LEXERR", e, line, pos - line_start + 1, file, pos, True))
        toks.append(Token("EOF", "", line, pos - line_start + 1, file, pos, True))
        return toks
    toks.append(Token("EOF", "", line, pos - line_start + 1, file, pos, True))
    return toks


def _byte_col(text: str, line_start: int, pos: int) -> int:
    return len(text[line_start:pos].encode("utf-8", "surrogateescape")) + 1


def _junk(text, pos, file, line, col):
    ch = text[pos]
    return StapError("unexpected character", Loc(file, line, col),
                     tok_desc=f"junk '{ch}'", kind="parse", label="at")
