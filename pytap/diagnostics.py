"""Errors with source coordinates, printed in stap's form.

Every user-facing failure is a `StapError` (or a list of them collected in
a `Diagnostics`).  The CLI prints them and exits non-zero; nothing a user
types may end in a Python traceback.

stap's layouts (measured against stap 4.8):

    parse error: <msg>
            saw: <token-desc> at FILE:LINE:COL
         source: <source line>
                 ^

    semantic error: <msg>: <token-desc> at FILE:LINE:COL
            source: <source line>
                    ^

stap prints a file name only the first time it reports a location in that
file within one pass; later ones show `:LINE:COL`.  `Diagnostics` keeps that
state.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .ast import Loc


class SourceCache:
    """Maps file names to their text so errors can quote the source line."""

    def __init__(self):
        self._texts: Dict[str, List[str]] = {}

    def add(self, name: str, text: str) -> None:
        self._texts[name] = text.split("\n")

    def line(self, loc: Loc) -> Optional[str]:
        lines = self._texts.get(loc.file)
        if lines is None or not (1 <= loc.line <= len(lines)):
            return None
        return lines[loc.line - 1]


SOURCES = SourceCache()


@dataclass
class StapError(Exception):
    """One error.  kind: "parse", "semantic", or "" for plain messages
    (printed as-is).  tok_desc: stap's description of the offending token,
    e.g. "identifier 'x'", "operator '/'", "keyword", "string '\"a\"'".
    label: "saw" or "at" for parse errors (stap uses both)."""
    message: str
    loc: Optional[Loc] = None
    tok_desc: str = ""
    kind: str = "semantic"
    label: str = "saw"
    # Extra errors chained after this one (stap's "chain" of contexts).
    chain: List["StapError"] = field(default_factory=list)

    def __str__(self) -> str:
        return format_error(self, seen_files=set())


def _caret_block(label: str, indent_to: int, loc: Loc) -> str:
    src = SOURCES.line(loc)
    if src is None:
        return ""
    pad = " " * (indent_to - len(label) - 1)
    head = f"{pad}{label}: "
    # stap expands tabs in the caret line so it stays under the column
    # columns count bytes (as stap's do): one pad character per byte
    raw = src.encode("utf-8", "surrogateescape")[: loc.col - 1]
    caret_pad = "".join("\t" if b == 9 else " " for b in raw)
    return f"{head}{src}\n{' ' * len(head)}{caret_pad}^\n"


def _where(loc: Loc, seen_files: set) -> str:
    fname = loc.file if loc.file not in seen_files else ""
    seen_files.add(loc.file)
    return f"{fname}:{loc.line}:{loc.col}"


def format_error(err: StapError, seen_files: set) -> str:
    if err.kind == "parse":
        out = f"parse error: {err.message}\n"
        if err.loc is not None:
            # parse errors always name the file
            out += f"{' ' * (11 - len(err.label))}{err.label}: {err.tok_desc} at {err.loc}\n"
            out += _caret_block("source", 12, err.loc)
            for desc, loc in getattr(err, "expansions", ()):
                out += f"\tin expansion of macro: {desc} at {loc}\n"
                out += _caret_block("source", 12, loc)
        elif err.tok_desc:
            # e.g. "saw: <input> EOF": no position, no source line
            out += f"{' ' * (11 - len(err.label))}{err.label}: {err.tok_desc}\n"
        return out + "\n"
    if err.kind == "semantic":
        out = f"semantic error: {err.message}"
        if err.loc is not None:
            out += f": {err.tok_desc} at {_where(err.loc, seen_files)}\n"
            out += _caret_block("source", 15, err.loc)
        else:
            out += "\n"
        for c in err.chain:
            out += format_error(c, seen_files)
        return out
    return err.message if err.message.endswith("\n") else err.message + "\n"


class Diagnostics:
    """Collects errors (and warnings) of one pass; prints them stap-style."""

    def __init__(self):
        self.errors: List[StapError] = []
        self.warnings: List[str] = []
        self._seen_files: set = set()

    def error(self, err: StapError) -> None:
        self.errors.append(err)

    def render(self) -> str:
        return "".join(format_error(e, self._seen_files) for e in self.errors)

    def print(self, stream=None) -> None:
        stream = stream or sys.stderr
        text = self.render()
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            # source lines may hold undecodable bytes (read with
            # surrogateescape): give them back as they were, like stap
            stream.flush()
            buf.write(text.encode(getattr(stream, "encoding", None) or "utf-8", "surrogateescape"))
            buf.flush()
        else:
            stream.write(text)

    def __bool__(self) -> bool:
        return bool(self.errors)


class PassFailed(Exception):
    """Raised to stop the pipeline after a pass reported its errors.
    `footer` is stap's closing line, e.g. "Pass 1: parse failed.  [man error::pass1]"."""

    def __init__(self, footer: str, diagnostics: Optional[Diagnostics] = None, exit_code: int = 1):
        super().__init__(footer)
        self.footer = footer
        self.diagnostics = diagnostics
        self.exit_code = exit_code
