"""Probe alias expansion and probe point derivation (stap's derive_probes).

Rules (SystemTap language reference, "Probe aliases", checked with stap -p2):
- `probe A = P1, P2 { prologue }`: a use `probe A { body }` becomes one
  probe per location, body = { prologue; body }.
- `probe A += P { epilogue }`: body = { body; epilogue }.
- every definition of a name yields its own probes, in definition order.
- `probe A.return` on an alias `A` appends the suffix `.return` to each of
  A's locations (unless a longer alias name matches exactly); this repeats
  through chains of aliases.
- `?` optional: no match / errors are ignored; `!` sufficient: if it
  matched, the remaining locations of that list are skipped.
- `if (c)` on a location conditions every probe derived from it.
- locals are shared: the merged body is one scope.
"""
from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .. import ast
from ..diagnostics import StapError
from .points import BUILTIN_FAMILIES, resolve_concrete


def _provided():
    """Probe heads pytap resolves natively.  stap's other built-in heads
    (netfilter.hook(...), procfs ...) have no provider here, so tapset
    aliases under them (netfilter.ip.local_in ...) still resolve."""
    try:
        from .. import probes
        return probes.family_names()
    except Exception:
        return BUILTIN_FAMILIES
from .session import DerivedProbe


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + 2 * (ca != cb)))
        prev = cur
    return prev[-1]


def similar_names(target: str, names, max_out: int = 5, threshold: Optional[int] = None) -> List[str]:
    """stap's "similar: ..." list: the closest few names (edit distance,
    substitution counting 2), listed alphabetically with '_' names last."""
    if threshold is None:
        threshold = max(5, len(target) + 1)
    scored = []
    for n in sorted(set(x for x in names if x)):
        if n == target or abs(len(n) - len(target)) > threshold:
            continue
        d = levenshtein(target, n)
        if d <= threshold:
            scored.append((d, n))
    scored.sort(key=lambda x: (x[0], x[1]))
    best = [n for _, n in scored[:max_out]]
    return sorted(best, key=lambda n: (n.startswith("_"), n))


def _bare(p: ast.ProbePoint) -> str:
    from ..printer import probe_point_text
    return probe_point_text(p, with_flags=False)


def _comp_text(c: ast.ProbePointComponent) -> str:
    from ..printer import print_expr
    return c.functor if c.arg is None else f"{c.functor}({print_expr(c.arg)})"


def _has_wild(s: str) -> bool:
    return any(ch in s for ch in "*?[")


def _lit(e):
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.String):
        return e.value
    return None


def _comp_match(user: ast.ProbePointComponent, name: ast.ProbePointComponent) -> bool:
    if user.functor != name.functor and not (
            _has_wild(user.functor) and fnmatch.fnmatchcase(name.functor, user.functor)):
        return False
    if (user.arg is None) != (name.arg is None):
        return False
    if user.arg is not None:
        u, n = _lit(user.arg), _lit(name.arg)
        if isinstance(u, str) and isinstance(n, str) and _has_wild(u):
            return fnmatch.fnmatchcase(n, u)
        return u == n
    return True


@dataclass(eq=False)
class AliasDef:
    alias: ast.ProbeAlias
    name: ast.ProbePoint        # the one alias name this entry is for
    file: Optional[ast.StapFile]


class AliasTable:
    """All alias definitions visible to the script: the script's own, and
    tapset ones loaded on demand by head name."""

    def __init__(self, library=None):
        self.library = library
        self.by_head: Dict[str, List[AliasDef]] = {}
        self._loaded_heads = set()
        self._loaded_files = set()

    def add_file(self, f: ast.StapFile) -> None:
        if id(f) in self._loaded_files:
            return
        self._loaded_files.add(id(f))
        for a in f.aliases:
            for n in a.alias_names:
                self.by_head.setdefault(n.components[0].functor, []).append(AliasDef(a, n, f))

    def _load_for(self, functors: tuple) -> None:
        if functors in self._loaded_heads or self.library is None:
            return
        self._loaded_heads.add(functors)
        for f in self.library.files_defining_alias_point(list(functors)):
            self.add_file(f)

    def _order(self, d: AliasDef):
        """Definition order: the script first, then library file order."""
        f = d.file
        fo = -1 if f is None or not f.privileged or self.library is None \
            else self.library.file_order(f.name)
        return (fo, d.alias.loc.line, d.alias.loc.col)

    def heads(self) -> List[str]:
        hs = set(self.by_head)
        if self.library is not None:
            hs.update(self.library.index.alias_heads())
        return sorted(hs)

    def candidates(self, point: ast.ProbePoint) -> List[AliasDef]:
        functors = tuple(c.functor for c in point.components)
        self._load_for(functors)
        head = functors[0]
        out = []
        for h, defs in self.by_head.items():
            if h == head or (_has_wild(head) and fnmatch.fnmatchcase(h, head)):
                out.extend(defs)
        return sorted(out, key=self._order)

    def match(self, point: ast.ProbePoint) -> List[Tuple[AliasDef, List[ast.ProbePointComponent]]]:
        """(alias, suffix) pairs; an exact longer name beats a prefix+suffix."""
        comps = point.components
        found = []
        for d in self.candidates(point):
            ncomps = d.name.components
            if len(ncomps) > len(comps):
                continue
            if all(_comp_match(u, n) for u, n in zip(comps, ncomps)):
                found.append((d, comps[len(ncomps):]))
        if not found:
            return []
        kept = []
        for d, suf in found:
            if suf:
                k = len(d.name.components)
                # a longer alias extending this one and matching more of
                # the point wins over suffix application
                if any(len(d2.name.components) > k and
                       [c.functor for c in d2.name.components[:k]] ==
                       [c.functor for c in d.name.components]
                       for d2, _ in found):
                    continue
            kept.append((d, suf))
        # stap keeps alias names in a tree of sorted maps: a wildcard walks
        # the names in byte order; definitions of one name stay in order
        kept.sort(key=lambda m: tuple(c.functor for c in m[0].name.components))
        return kept


def _while_resolving(point: ast.ProbePoint, cause: Optional[StapError]) -> StapError:
    c0 = point.components[0]
    if cause is not None and cause.tok_desc.startswith("operator '"):
        for c in point.components:
            if c.loc == cause.loc:      # a functor is an identifier token
                cause.tok_desc = "identifier '%s'" % c.functor
    return StapError("while resolving probe point", c0.loc, f"identifier '{c0.functor}'",
                     chain=[cause] if cause else [])


def _and(a: Optional[ast.Expr], b: Optional[ast.Expr]) -> Optional[ast.Expr]:
    if a is None:
        return b
    if b is None:
        return a
    return ast.LogicalAnd(a, b, loc=a.loc, tok_desc="operator '&&'")


class Deriver:
    """Turns user probes into DerivedProbes."""

    def __init__(self, table: AliasTable, errors: List[StapError]):
        from .points import init_provider
        init_provider()
        self.table = table
        self.errors = errors
        self.want_listing = False      # compute DerivedProbe.listing (for -l/-L)

    def derive(self, probe: ast.Probe) -> List[DerivedProbe]:
        out: List[DerivedProbe] = []
        for loc in probe.locations:
            nerr = len(self.errors)
            got = self._expand(loc, [], [probe], None, loc.optional or loc.sufficient, probe)
            for dp in got:
                dp.user_point = loc
            if loc.optional or loc.sufficient:
                del self.errors[nerr:]     # an optional point fails quietly
            out.extend(got)
            if loc.sufficient and got:
                break
        return out

    def _expand(self, point, layers, chain, cond, optional, probe, depth=0, listing=None,
                path=()):
        """layers: alias definitions applied so far (outermost first)."""
        if depth > 50:
            self.errors.append(StapError("recursive loop in alias expansion",
                                         point.components[0].loc,
                                         f"identifier '{point.components[0].functor}'"))
            return []
        head = point.components[0].functor
        # an alias location's condition comes before its user's (stap)
        cond = _and(copy.deepcopy(point.condition), cond)
        matches = [] if head in BUILTIN_FAMILIES and head in _provided() else self.table.match(point)
        if matches:
            out = []
            nerr = len(self.errors)
            for d, suffix in matches:
                alias = d.alias
                # stap: an alias whose locations lead back to a point already
                # on the way here recurses forever
                looping = any(a is alias for a in layers) or (depth >= 1 and any(
                    _bare(al) in path for al in alias.locations))
                if looping:
                    if not optional:
                        loc = point.components[0].loc
                        self.errors.append(_while_resolving(point, StapError(
                            f"recursive loop in alias expansion of {point.text()} at "
                            f"{loc.file}:{loc.line}:{loc.col}")))
                    continue
                for aloc in alias.locations:
                    newp = copy.deepcopy(aloc)
                    newp.components = newp.components + copy.deepcopy(list(suffix))
                    nerr2 = len(self.errors)
                    opt2 = optional or aloc.optional or aloc.sufficient
                    # what `stap -l` shows: the alias name the user's point
                    # matched, with the user's suffix
                    lst = listing
                    if lst is None:
                        lst = ".".join([_comp_text(c) for c in d.name.components] +
                                       [_comp_text(c) for c in suffix])
                    got = self._expand(newp, layers + [alias], [alias] + chain, cond,
                                       opt2, probe, depth + 1, lst, path + (_bare(point),))
                    if opt2:
                        del self.errors[nerr2:]
                    elif suffix:
                        self._blame_suffix(point, suffix, nerr2)
                    out.extend(got)
                    if aloc.sufficient and got:
                        break
            if not out and not optional and not any(
                    getattr(e, "_suffix_blame", False) for e in self.errors[nerr:]):
                self.errors.append(_while_resolving(point, StapError("no match")))
            return out
        # concrete family
        if head not in BUILTIN_FAMILIES:
            if not optional:
                self.errors.append(_while_resolving(point, self._mismatch(point)))
            return []
        try:
            rps = resolve_concrete(point)
        except StapError as e:
            if not optional:
                self.errors.append(_while_resolving(point, e))
            return []
        if not rps:
            if not optional:
                self.errors.append(_while_resolving(point, self._mismatch(point)))
            return []
        out = []
        for rp in rps:
            # shallow: the components are shared, only the flags differ
            printed = copy.copy(getattr(rp, "point", None) or point)
            printed.optional = point.optional
            printed.sufficient = point.sufficient
            c = copy.deepcopy(cond)
            printed.condition = c
            body = copy.deepcopy(probe.body) if probe.body.statements else \
                ast.Block([], loc=probe.body.loc)
            for alias in layers:       # the alias nearest the user wraps first
                pro = copy.deepcopy(alias.body)
                body = ast.Block([body, pro] if alias.epilogue else [pro, body],
                                 loc=body.loc)
            if c is not None:
                # stap guards the whole handler: if (!(cond)) next
                guard = ast.IfStatement(ast.Unary("!", copy.deepcopy(c), loc=c.loc,
                                                  tok_desc="operator '!'"),
                                        ast.NextStatement(loc=c.loc), loc=c.loc)
                body = ast.Block([guard, body], loc=body.loc)
            dp_listing = listing
            if dp_listing is None and self.want_listing:
                from ..printer import probe_point_text
                # rp.listing_point: what -l shows when -p2 shows another
                # form (SDT marks: -p2 prints the .statement(ADDR) stap does)
                dp_listing = probe_point_text(getattr(rp, "listing_point", None)
                                              or getattr(rp, "point", None) or point, with_flags=False)
            out.append(DerivedProbe(point=printed, derivation=list(chain), body=body,
                                    condition=c, resolved=rp,
                                    privileged=probe.privileged, origin=probe))
            out[-1].listing = dp_listing or ""
        return out

    def _blame_suffix(self, point, suffix, nerr) -> None:
        """A failure caused by the user's suffix (`b1.foo`) is reported
        while resolving the user's point, as stap does."""
        locs = {c.loc for c in suffix}
        for e in self.errors[nerr:]:
            cause = e.chain[0] if e.chain else None
            if e.message == "while resolving probe point" and cause is not None and \
                    cause.loc is None and not cause.message.startswith("no match"):
                # the provider did not say where: a point that only fails
                # with the user's suffix fails at that suffix
                cause.loc = suffix[0].loc
                cause.tok_desc = f"identifier '{suffix[0].functor}'"
            if e.message == "while resolving probe point" and e.chain and e.chain[0].loc in locs:
                c0 = point.components[0]
                e.loc, e.tok_desc = c0.loc, f"identifier '{c0.functor}'"
                e._suffix_blame = True

    def _mismatch(self, point: ast.ProbePoint) -> StapError:
        c0 = point.components[0]
        if c0.functor in BUILTIN_FAMILIES:
            from .points import explain_no_match
            return explain_no_match(point)
        names = set(self.table.heads()) | set(BUILTIN_FAMILIES)
        sim = similar_names(c0.functor, names)
        msg = "probe point mismatch"
        if sim:
            msg += f" (similar: {', '.join(sim)})"
        return StapError(msg, c0.loc, f"identifier '{c0.functor}'")

