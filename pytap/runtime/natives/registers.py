"""Twins of tapsets/registers.stp.  A handler the interpreter runs has no
probed registers (they exist only while the BPF program runs), as stap's
begin/end probes have none."""
from __future__ import annotations

from ..builtins import builtin
from ..errors import ScriptRuntimeError


@builtin()
def registers_valid(ctx):
    return 0


@builtin("__pytap_reg_code")
def _reg_code(ctx, name):
    raise ScriptRuntimeError("cannot access CPU registers in this context")


@builtin("__pytap_reg_read")
def _reg_read(ctx, off):
    raise ScriptRuntimeError("cannot access CPU registers in this context")
