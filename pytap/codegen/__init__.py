"""Pass 3: translate an elaborated Session into a BPF C program (Program).

    generate(session, opts) -> Program      (see program.py for the contract)
"""
from .program import (FIRST_FORMAT_ID, KIND_ERROR, KIND_EXIT, KIND_TRIGGER, CompiledProbe,  # noqa: F401
                      GlobalLayout, HistSpec, Program, RecordFormat, RuntimeErrorSite)


def generate(session, opts) -> Program:
    from .generate import generate as _generate
    return _generate(session, opts)
