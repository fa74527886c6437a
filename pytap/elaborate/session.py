"""What pass 2 hands to code generation (DESIGN.md, "Pass 2 contract")."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Union

from .. import ast
from ..options import Options


@dataclass(eq=False)
class DerivedProbe:
    """One concrete probe after alias expansion and point resolution.

    point: the resolved concrete point as stap prints it (optional `?` kept
    from alias locations, condition attached).
    derivation: how we got here, innermost first: the alias definitions used
    (ast.ProbeAlias) and last the user's probe (ast.Probe); printed as the
    `/* <- ... */` comment.
    body: prologue(s) + user body + epilogue(s), symbols resolved, typed.
    """
    point: ast.ProbePoint
    derivation: List[Union[ast.ProbeAlias, ast.Probe]]
    body: ast.Block
    locals: List[ast.VarDecl] = field(default_factory=list)
    condition: Optional[ast.Expr] = None
    resolved: object = None        # probes.ResolvedPoint
    index: int = 0
    privileged: bool = False       # came from a tapset file
    # The probes stap synthesises to print write-only globals at exit.
    # The runtime must not print those globals a second time.
    synthetic: bool = False
    # the user's Probe node this was derived from (derivation[-1])
    origin: Optional[ast.Probe] = None
    # how `stap -l` names it: the alias name the user's point matched
    # (plus suffix), else the resolved point
    listing: str = ""

    @property
    def family(self) -> str:
        return getattr(self.resolved, "family", "")

    @property
    def priority(self) -> int:
        return getattr(self.resolved, "priority", 0)


@dataclass(eq=False)
class Session:
    probes: List[DerivedProbe] = field(default_factory=list)
    functions: List[ast.FunctionDecl] = field(default_factory=list)
    globals: List[ast.VarDecl] = field(default_factory=list)
    embeds: List[ast.EmbeddedCode] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    # the parsed user script and the tapset files it pulled in
    script: Optional[ast.StapFile] = None
    files: List[ast.StapFile] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    # function decl -> overload index (stap's __global_f__overload_N)
    overload_index: dict = field(default_factory=dict)

    def dump(self, verbose: int = 0) -> str:
        from .dump import dump_session
        return dump_session(self, verbose)

    def function(self, name: str) -> List[ast.FunctionDecl]:
        return [f for f in self.functions if f.name == name]

    def global_(self, name: str) -> Optional[ast.VarDecl]:
        for g in self.globals:
            if g.name == name:
                return g
        return None
