"""Twins of tapsets/not_on_ebpf.stp.  Pass 2 refuses any call of these
functions, so the twins only exist to keep the one-twin-per-native
contract; if one is ever reached it fails with the same reason."""
from __future__ import annotations

import re
from pathlib import Path

from ..builtins import BUILTINS
from ..errors import ScriptRuntimeError

from ... import DEFAULT_TAPSET_DIR

_TAPSET = Path(DEFAULT_TAPSET_DIR) / "not_on_ebpf.stp"
_DECL = re.compile(r"^function\s+(\w+)[^(]*\(([^)]*)\)\s*%\{\s*/\* not-on-ebpf: (.*?) \*/", re.M)


def _refuse(name, reason):
    def twin(ctx, *args):
        raise ScriptRuntimeError(f"{name}: not available on the BPF runtime: {reason}")
    twin.__name__ = name
    return twin


def _register():
    try:
        text = _TAPSET.read_text()
    except OSError:
        return
    for m in _DECL.finditer(text):
        BUILTINS.setdefault(m.group(1), _refuse(m.group(1), m.group(3)))


_register()
