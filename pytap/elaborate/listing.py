"""`-l PATTERN`, `-L PATTERN`, `--dump-probe-aliases`, `--dump-functions`,
`--dump-probe-types`, printed as stap prints them.

-l lists, sorted and without duplicates, what a probe on PATTERN would
attach to, named at the level the user wrote: the alias name the pattern
matched (`nd_syscall.read`), or the concrete point for built-in families
(`kprobe.function("vfs_read")`).  -L adds the variables a handler there can
read: an alias's locals with their types (`name:string fd:long`), or the
point's `$vars`.  Nothing found: no output, exit status 1.
"""
from __future__ import annotations

from typing import List

from .. import ast
from ..diagnostics import PassFailed, StapError
from ..options import Options


def _out(text: str) -> None:
    from ..pipeline import emit
    emit(text)


def list_probes(pattern: str, opts: Options, with_vars: bool) -> List[str]:
    from ..parser import parse
    from ..tapsets import TapsetLibrary
    from .aliases import AliasTable, Deriver
    from .session import Session
    from .symbols import SymbolTable, resolve_function, resolve_probe
    from .types import infer_types

    script = parse(f"probe {pattern} {{}}\n", "<input>", opts)
    for p in script.probes:
        for loc in p.locations:
            loc.optional = True        # listing never fails on a miss
    lib = TapsetLibrary(opts)
    errors: List[StapError] = []
    table = AliasTable(lib)
    table.add_file(script)
    deriver = Deriver(table, errors)
    deriver.want_listing = True
    dps = []
    for p in script.probes:
        dps.extend(deriver.derive(p))
    if not with_vars:
        return sorted({dp.listing for dp in dps})
    syms = SymbolTable(script, lib, errors)
    pending: list = []
    from . import _pull_alias_files
    from .procfs_value import expand_procfs_values
    for dp in dps:
        _pull_alias_files(syms, lib, dp)
        expand_procfs_values(syms, dp, [])
        resolve_probe(syms, dp, pending)
    while pending:
        resolve_function(syms, pending.pop(0), pending)
    session = Session(options=opts, script=script, probes=dps,
                      functions=list(syms.used_functions))
    session.globals = list(syms.global_order)
    tmp_errors: List[StapError] = []
    infer_types(session, tmp_errors)
    lines = set()
    for dp in dps:
        parts = [dp.listing]
        for v in dp.locals:
            if not v.name.startswith("__"):
                parts.append(f"{v.name}:{v.type or 'unknown'}")
        rp = dp.resolved
        if len(dp.derivation) == 1 and hasattr(rp, "variables"):
            try:
                tvs = rp.listing_variables() if hasattr(rp, "listing_variables") else rp.variables()
                for tv in tvs:
                    parts.append(f"${tv.name}:{tv.c_type}")
            except Exception:
                pass
        lines.add(" ".join(parts))
    return sorted(lines)


def dump_probe_aliases(opts: Options) -> List[str]:
    from ..tapsets import TapsetLibrary
    from .dump import point_text
    lib = TapsetLibrary(opts)
    lines = set()
    for f in lib.parse_all():
        for a in f.aliases:
            op = "+=" if a.epilogue else "="
            locs = ", ".join(point_text(p) for p in a.locations)
            for n in a.alias_names:
                lines.add(f"{point_text(n)} {op} {locs}")
    return sorted(lines)


def dump_functions(opts: Options) -> List[str]:
    """Every library function with its signature, as `name:type (arg:type, ...)`;
    types are the declared ones (stap infers more; we do not elaborate the
    whole library for a listing)."""
    from ..tapsets import TapsetLibrary
    lib = TapsetLibrary(opts)
    lines = set()
    for f in lib.parse_all():
        for fn in f.functions:
            if fn.private or fn.name.startswith("_"):
                continue
            args = ", ".join(f"{a.name}:{a.type or 'unknown'}" for a in fn.formal_args)
            lines.add(f"{fn.name}:{fn.declared_type or fn.type or 'unknown'} ({args})")
    return sorted(lines)


def dump_probe_types(opts: Options) -> List[str]:
    try:
        from .. import probes
        return list(probes.probe_types())
    except Exception:
        return ["begin", "begin(number)", "end", "end(number)", "error", "error(number)",
                "never", "timer.s(number)", "timer.ms(number)"]


def run_listing(opts: Options) -> int:
    try:
        if opts.dump_probe_types:
            lines = dump_probe_types(opts)
        elif opts.dump_probe_aliases:
            lines = dump_probe_aliases(opts)
        elif opts.dump_functions:
            lines = dump_functions(opts)
        else:
            pattern = opts.list_probes or opts.list_probes_vars
            lines = list_probes(pattern, opts, with_vars=opts.list_probes_vars is not None
                                and opts.list_probes is None)
    except PassFailed:
        raise
    except StapError:
        raise
    _out("".join(line + "\n" for line in lines))
    return 0 if lines else 1
