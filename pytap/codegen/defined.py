"""@defined(...) of a member chain, decided from this kernel's BTF.

Tapsets are written for several kernels: `@choose_defined($bio->bi_opf,
$bio->bi_rw)` or `@defined(@cast(p, "block_device")->bd_partno)` pick the
member this kernel has.  Pass 2 folds @defined in probe bodies through
`defined_chain`; codegen does the same in function bodies and then lowers
only the branch taken (the other may name members this kernel lacks)."""
from __future__ import annotations

import re
from typing import Optional

from .. import ast


def _resolves(ref, comps, tv_ref=False) -> bool:
    from .btf_offsets import KIND_ARRAY, KIND_PTR, TypeView, components_resolve, kernel_types
    bt = kernel_types()
    tv = TypeView(bt)
    if tv_ref:
        # a target variable's own type: walk from what it points to / holds
        if tv.kind(ref) == KIND_PTR:
            return components_resolve(bt, tv.target(ref), comps, True)
        if tv.kind(ref) == KIND_ARRAY:
            return components_resolve(bt, ref, comps, False)
        return False
    return components_resolve(bt, ref, comps, True)


def defined_value(op, target_var=None) -> Optional[bool]:
    """@defined(op) for a @cast chain, or a $var->chain whose variable
    `target_var(op)` finds (a TargetVar or None); None: cannot tell.  The
    types are pass 2's (btf_offsets.parse_type: vmlinux, else a loaded
    module's BTF, or the program's DWARF for a process probe's variable)."""
    from .btf_offsets import kernel_types, parse_type
    comps = [c for c in (getattr(op, "components", None) or []) if c.kind != "pretty"]
    bt = kernel_types()
    if not comps:
        # @defined(@cast(p, "T")): whether this kernel has type T
        if isinstance(op, ast.CastOp) and isinstance(getattr(op, "type_name", None), str) \
                and bt is not None:
            return parse_type(bt, op.type_name) is not None
        return None
    if isinstance(op, ast.CastOp) and isinstance(getattr(op, "type_name", None), str):
        # `& @cast(0, "T")->m` (@type_member_defined) asks the same question
        if bt is None:
            return None
        ref = parse_type(bt, op.type_name)
        return ref is not None and _resolves(ref, comps)
    if isinstance(op, ast.TargetSymbol) and target_var is not None:
        tv = target_var(op)
        if tv is None:
            return False
        ref = getattr(tv, "type_ref", None)
        if ref is None:
            if bt is None:
                return None
            ref = parse_type(bt, re.sub(r"^\s*__data_loc\s+", "", getattr(tv, "c_type", "") or ""))
        if ref is None:
            return None
        return _resolves(ref, comps, tv_ref=True)
    return None
