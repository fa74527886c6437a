"""Pass-2 warnings and errors in stap's layout.

    WARNING: MSG: TOKEN at FILE:LINE:COL
     source: LINE
             ^
    semantic error: MSG: TOKEN at FILE:LINE:COL
            source: LINE
                    ^
    <blank line>

A file name is printed only the first time a location in it is reported
(warnings and errors share that state).  Without -v, a warning identical to
an earlier one is suppressed and counted; stap then ends with "Number of
similar warning messages suppressed: N." / "Rerun with -v to see them.".
"""
from __future__ import annotations

import sys
from typing import List, Optional

from ..diagnostics import Diagnostics, StapError, _caret_block


class Reporter:
    def __init__(self, opts, stream=None):
        self.opts = opts
        self.stream = stream
        self.seen_files: set = set()
        self.seen_warnings: set = set()
        self.suppressed = 0
        self.pending: List[str] = []
        self.warnings: List[str] = []
        # stap keeps quiet about what it elides in tapset code: only
        # locations in these files are reported (None: all)
        self.user_files = None

    def _out(self):
        return self.stream or sys.stderr

    def where(self, loc) -> str:
        fname = loc.file if loc.file not in self.seen_files else ""
        self.seen_files.add(loc.file)
        return f"{fname}:{loc.line}:{loc.col}"

    def warn(self, msg: str, node, tok: str = "") -> None:
        if self.opts.suppress_warnings:
            return
        loc = getattr(node, "loc", None)
        if loc is not None and self.user_files is not None and loc.file not in self.user_files:
            return
        # stap calls warnings "similar" when their message (without the
        # token and place) is the same
        key = msg
        if key in self.seen_warnings and not self.opts.verbose:
            self.suppressed += 1
            return
        self.seen_warnings.add(key)
        text = f"WARNING: {msg}"
        if loc is not None and loc.line:
            text += f": {tok} at {self.where(loc)}\n" + _caret_block("source", 8, loc)
        else:
            text += "\n"
        self.warnings.append(text)
        self._out().write(text)

    def flush_warnings(self) -> None:
        pass

    def finish(self) -> None:
        if self.suppressed and not self.opts.suppress_warnings:
            self._out().write(f"Number of similar warning messages suppressed: {self.suppressed}.\n"
                              "Rerun with -v to see them.\n")
            self.suppressed = 0

    def render_error(self, e: StapError) -> str:
        out = f"semantic error: {e.message}"
        if e.loc is not None:
            out += f": {e.tok_desc} at {self.where(e.loc)}\n" + _caret_block("source", 15, e.loc)
        else:
            out += "\n"
        for tok, loc in getattr(e, "extra_tokens", []) or []:
            out += f"{tok} at {self.where(loc)}\n" + _caret_block("source", 15, loc)
        out += "\n"
        for c in e.chain:
            out += self.render_error(c)
        return out

    def diagnostics(self, errors: List[StapError]) -> "Pass2Diagnostics":
        d = Pass2Diagnostics(self)
        seen = set()
        for e in errors:
            if getattr(e, "verbose_only", False) and not self.opts.verbose:
                continue
            # stap's "similar" errors: same message raised the same way
            key = (_dedup_key(e.message), tuple(_dedup_key(c.message) for c in e.chain))
            if not self.opts.verbose and key in seen:
                d.suppressed += 1
                continue
            seen.add(key)
            d.error(e)
        return d


class Pass2Diagnostics(Diagnostics):
    def __init__(self, reporter: Reporter):
        super().__init__()
        self.reporter = reporter
        self.suppressed = 0
        self._text: Optional[str] = None

    def render(self) -> str:
        if self._text is None:
            self._text = "".join(self.reporter.render_error(e) for e in self.errors)
        return self._text


def footer_for(diags: "Pass2Diagnostics", footer: str) -> str:
    """stap reports suppressed duplicate errors after the pass footer."""
    if diags.suppressed:
        footer += (f"\nNumber of similar error messages suppressed: {diags.suppressed}.\n"
                   "Rerun with -v to see them.")
    return footer


def _dedup_key(message: str) -> str:
    """stap counts errors raised by the same check as similar, whatever
    names they mention."""
    for prefix in ("unresolved function ", "type mismatch: expected ", "invalid type ",
                   "function call modifies var ", "variable '"):
        if message.startswith(prefix):
            return prefix
    return message
