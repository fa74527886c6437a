"""Syntax check of `=~` / `!~` regular expressions, as stap's regex
compiler (stapregex) reports them in pass 2:

    regex compilation error (at position N): MESSAGE

The literal is checked as written in the script (C escapes such as `\\n`
still in it), so positions count characters of the raw literal text, as
stap's do.  Only the syntax is checked here; matching is done at run time.
"""
from __future__ import annotations

from typing import Optional, Tuple

# stap rejects a bounded repetition count from this value up (its DFA
# would not fit); smaller counts are accepted
MAX_REPEAT = 32767

CHAR_CLASSES = frozenset(("alpha", "upper", "lower", "digit", "xdigit", "alnum", "punct",
                          "blank", "space", "cntrl", "graph", "print", "word"))


class RegexError(Exception):
    def __init__(self, message: str, pos: Optional[int]):
        super().__init__(message)
        self.message = message
        self.pos = pos

    def text(self) -> str:
        if self.pos is None:
            return f"regex compilation error: {self.message}"
        return f"regex compilation error (at position {self.pos}): {self.message}"


class _Cursor:
    """Characters of the literal after C-escape decoding; `pos` is the raw
    index of the next one, `last` the raw index of the last one read."""

    def __init__(self, raw: str):
        self.raw = raw
        self.pos = 0
        self.last = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.raw)

    def _decode(self, i: int) -> Tuple[str, int, bool]:
        """(char, next raw index, is_regex_escape)"""
        c = self.raw[i]
        if c != "\\" or i + 1 >= len(self.raw):
            return c, i + 1, False
        d = self.raw[i + 1]
        if d == "\\":
            return "\\", i + 2, True        # a backslash the regex sees
        return "\x01" + d, i + 2, False     # a C escape: one literal char

    def peek(self) -> Optional[str]:
        if self.at_end():
            return None
        return self._decode(self.pos)[0]

    def next(self) -> Optional[str]:
        if self.at_end():
            return None
        c, nxt, _ = self._decode(self.pos)
        self.last = self.pos
        self.pos = nxt
        return c


def check_regex(raw: str) -> Optional[RegexError]:
    """None if stap accepts the regex, else the error stap reports."""
    cur = _Cursor(raw)
    try:
        _alternation(cur, 0)
        return None
    except RegexError as e:
        return e


def _alternation(cur: _Cursor, depth: int) -> None:
    while True:
        _sequence(cur, depth)
        c = cur.peek()
        if c == "|":
            cur.next()
            continue
        return


def _sequence(cur: _Cursor, depth: int) -> None:
    while True:
        c = cur.peek()
        if c is None or c == "|" or (c == ")" and depth > 0):
            return
        anchor = _atom(cur, depth)
        _closures(cur, anchor)


def _atom(cur: _Cursor, depth: int) -> bool:
    """Reads one atom; True when it is an anchor (^ or $)."""
    c = cur.next()
    if c in ("*", "+", "?", "{"):
        raise RegexError(f"unexpected '{c}'", cur.last)
    if c == "(":
        if cur.peek() == "?":
            cur.next()
            d = cur.next()
            raise RegexError(f"unexpected '(?{d or ''}'" if d else "unexpected '(?", cur.last)
        _alternation(cur, depth + 1)
        if cur.peek() != ")":
            raise RegexError("expected ), found end of regex", cur.last)
        cur.next()
        return False
    if c == "[":
        _char_class(cur)
        return False
    if c == "\\":
        if cur.next() is None:
            raise RegexError("unexpected end of regex", cur.pos)
        return False
    return c in ("^", "$")


def _char_class(cur: _Cursor) -> None:
    raw = cur.raw
    if cur.peek() == "^":
        cur.next()
    first = True
    prev = None
    while True:
        c = cur.next()
        if c is None:
            raise RegexError("unclosed character class", cur.last)
        if c == "]" and not first:
            return
        first = False
        if c == "[" and cur.peek() == ":":
            start = cur.last
            end = raw.find(":]", cur.pos + 1)
            if end < 0 or end + 2 >= len(raw):
                text = raw[start:max(len(raw) - 1, start + 2)]
                raise RegexError(f"unclosed character class '{text}'", len(raw))
            name = raw[start + 2:end]
            if name not in CHAR_CLASSES:
                raise RegexError(f"unknown character class '{name}'", None)
            cur.pos = end + 2
            cur.last = end + 1
            prev = None
            continue
        if c == "\\":
            c = cur.next()
            if c is None:
                raise RegexError("unclosed character class", cur.last)
        if c == "-" and prev is not None and cur.peek() not in (None, "]"):
            hi = cur.next()
            if hi == "\\":
                hi = cur.next() or ""
            lo_ch, hi_ch = prev[-1], hi[-1:] or ""
            if hi_ch and ord(hi_ch) < ord(lo_ch):
                raise RegexError(f"Inverted character range {lo_ch}-{hi_ch}", cur.pos)
            prev = None
            continue
        prev = c


def _closures(cur: _Cursor, anchor: bool) -> None:
    while True:
        c = cur.peek()
        if c not in ("*", "+", "?", "{"):
            return
        cur.next()
        if anchor:
            raise RegexError(f"postfix closure '{c}' applied to anchoring operator", cur.last)
        if c == "{":
            _repeat(cur)


def _number(cur: _Cursor, first: str) -> int:
    digits = first
    while cur.peek() is not None and cur.peek().isdigit():
        digits += cur.next()
    return int(digits)


def _repeat(cur: _Cursor) -> None:
    c = cur.next()
    if c is None or not c.isdigit():
        raise RegexError("expected number", cur.pos)
    counts = [_number(cur, c)]
    c = cur.peek()
    if c is None:
        raise RegexError("unexpected end of regex", cur.pos)
    if c == ",":
        cur.next()
        c = cur.next()
        if c is not None and c.isdigit():
            counts.append(_number(cur, c))
            if cur.peek() is None:
                raise RegexError("unexpected end of regex", cur.pos)
            if cur.peek() != "}":
                raise RegexError("expected '}'", cur.pos)
            cur.next()
        elif c != "}":
            raise RegexError("expected '}' or number", cur.pos)
    elif c == "}":
        cur.next()
    else:
        raise RegexError("expected ',' or '}'", cur.pos)
    for n in counts:
        if n >= MAX_REPEAT:
            raise RegexError(f"{n} is too large", cur.pos)
