"""Shared by the lowering modules: the Unsupported signal and small AST helpers."""
from __future__ import annotations

from .. import ast


class Unsupported(Exception):
    """This construct needs the user-space interpreter."""

    def __init__(self, reason: str, node=None):
        super().__init__(reason)
        self.reason = reason
        self.node = node


def is_native(decl) -> bool:
    return isinstance(decl.body, ast.EmbeddedCode)


def native_code(decl) -> str:
    code = decl.body.code
    code = code.strip()
    if code.startswith("%{"):
        code = code[2:]
    if code.endswith("%}"):
        code = code[:-2]
    return code


def native_kind(decl) -> str:
    """"bpf", "intrinsic" or "user" for a function with an embedded body."""
    code = decl.body.code
    if "/* intrinsic */" in code:
        return "intrinsic"
    if "/* bpf */" in code:
        return "bpf"
    return "user"


def _tok(node, default: str) -> str:
    return getattr(node, "tok_desc", "") or default


first_token = ast.first_token   # shared with the interpreter


def _last_statement(s):
    while isinstance(s, ast.Block) and s.statements:
        s = s.statements[-1]
    return s


def _count_statements(s) -> int:
    if s is None:
        return 0
    if isinstance(s, ast.Block):
        return max(1, sum(_count_statements(x) for x in s.statements))
    return 1
