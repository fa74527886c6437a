"""stap's probe point match tree, built from pattern strings.

Providers register patterns such as "timer.s(number).randomize(number)" or
"kprobe.function(string).return" with a builder.  Matching walks the
point's components down the tree: a functor may hold * / ** wildcards
(fnmatch; every matching child is tried and mismatches under a wildcard are
silently dropped, as stap does); an argument must be of the kind the child
takes.  The builder of the node where the point ends turns the concrete
(functor, value) list into ResolvedPoints.

Errors, in stap's words (the elaborator prefixes "while resolving probe
point"):
  probe point mismatch (similar: a, b)   no child fits a component
  invalid suffix for probe               extra components after a complete point
  probe point truncated (follow:  x y)   the point stops short
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from .. import ast
from ..diagnostics import StapError
from .core import arg_kind, arg_value, comp_desc, has_glob, similar

# builder(concrete, point, platform) -> list[ResolvedPoint]
# concrete: [(functor, value)], point: the point being resolved (locations)
Builder = Callable[[List[Tuple[str, object]], ast.ProbePoint, object], list]


@dataclass
class Node:
    children: Dict[Tuple[str, Optional[str]], "Node"] = field(default_factory=dict)
    builder: Optional[Builder] = None

    def follow_list(self) -> List[str]:
        return sorted(f if k is None else f"{f}({k})" for f, k in self.children)


class MatchTree:
    def __init__(self):
        self.root = Node()
        self.patterns: List[str] = []

    def add(self, pattern: str, builder: Builder) -> None:
        node = self.root
        for part in _split(pattern):
            functor, _, rest = part.partition("(")
            kind = rest.rstrip(")") or None
            node = node.children.setdefault((functor, kind), Node())
        node.builder = builder
        self.patterns.append(pattern)

    def families(self) -> List[str]:
        return sorted({f for f, _k in self.root.children})

    def match(self, point: ast.ProbePoint, platform) -> list:
        return self._walk(self.root, point, 0, [], platform, globbed=False)

    def _walk(self, node: Node, point, i, concrete, platform, globbed) -> list:
        comps = point.components
        if i == len(comps):
            if node.builder is not None:
                try:
                    return node.builder(list(concrete), point, platform)
                except StapError:
                    if globbed:
                        return []
                    raise
            if globbed:
                return []
            last = comps[-1]
            raise StapError("probe point truncated (follow: "
                            + "".join(" " + f for f in node.follow_list()) + ")",
                            last.loc, comp_desc(last))
        c = comps[i]
        kind = arg_kind(c.arg)
        glob = has_glob(c.functor)
        out = []
        matched = False
        for (functor, k) in sorted(node.children, key=lambda fk: (fk[0], fk[1] or "")):
            if glob:
                if not fnmatch.fnmatchcase(functor, c.functor):
                    continue
            elif functor != c.functor:
                continue
            if k != kind:
                continue
            matched = True
            child = node.children[(functor, k)]
            out.extend(self._walk(child, point, i + 1,
                                  concrete + [(functor, arg_value(c.arg))], platform,
                                  globbed or glob))
        if matched or glob or globbed:
            return out
        if node.builder is not None and node is not self.root:
            raise StapError("invalid suffix for probe", c.loc, comp_desc(c))
        names = [f for f, _k in node.children]
        sim = similar(c.functor, names)
        msg = "probe point mismatch" + (f" (similar: {', '.join(sim)})" if sim else "")
        raise StapError(msg, c.loc, comp_desc(c))


def _split(pattern: str) -> List[str]:
    """'a.b("x.y").c' -> ['a', 'b("x.y")', 'c'] (dots inside () kept)."""
    parts, depth, cur = [], 0, ""
    for ch in pattern:
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur)
    return parts
