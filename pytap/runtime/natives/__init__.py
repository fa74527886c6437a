"""Python twins of native tapset functions, one module per tapset family.

`runtime/builtins.py` holds the core twins (context, time, strings);
each module here registers the twins of one family (syscalls, process,
signals, stacks, networking, ...) with the same `@builtin` decorator.
Importing this package imports every module in it, so a new family only
adds a file.
"""
from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
