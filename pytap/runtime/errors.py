"""Run-time errors and exit requests raised while a script runs.

stap reports a run-time failure as one line on stderr,
`ERROR: <message> near <token> at FILE:LINE:COL`, then ends the session
(end probes skipped, error probes run, exit status 1).  try/catch in the
script catches the same exception and hands the bare message to the catch
variable.
"""
from __future__ import annotations

from typing import Optional

from ..ast import Loc


class ScriptRuntimeError(Exception):
    """A stap run-time error.  `message` is what try/catch sees."""

    def __init__(self, message: str, loc: Optional[Loc] = None, tok_desc: str = "",
                 unlocated: bool = False):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.tok_desc = tok_desc
        # error("msg") clears stap's last_stmt: the line has no "near ...";
        # callers must not attach a location to such an error
        self.unlocated = unlocated

    def render(self) -> str:
        """The full ERROR line, newline-terminated, as stap prints it."""
        out = f"ERROR: {self.message}"
        if self.loc is not None and self.loc.line > 0:
            near = f" near {self.tok_desc}" if self.tok_desc else ""
            out += f"{near} at {self.loc}"
        return out + "\n"

    def __str__(self) -> str:
        return self.message


class CapturedError:
    """A target value a user-mode handler's BPF stub failed to evaluate
    (codegen/capture.py): the interpreter raises `error` when the handler
    reads that value, so the error comes where the script would meet it."""

    __slots__ = ("error",)

    def __init__(self, error: ScriptRuntimeError):
        self.error = error


class ExitRequested(Exception):
    """exit() was called: the session stops once the current handler ends.
    The interpreter raises it after the handler has finished, because stap
    only sets a flag in exit() and lets the handler run on."""
