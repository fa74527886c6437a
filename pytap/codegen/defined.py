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


def struct_of(c_type: str) -> Optional[str]:
    """"struct bio *" -> "bio"; None if not a pointer to a struct/union."""
    m = re.match(r"\s*(?:const\s+|volatile\s+)*(?:struct|union)\s+(\w+)\s*\*", c_type or "")
    return m.group(1) if m else None


def chain_defined(struct_name: str, components) -> Optional[bool]:
    """Whether ->a->b[i]... exists starting from `struct struct_name`; None
    when there is no BTF to ask."""
    from .btf_offsets import (KIND_ARRAY, KIND_PTR, KIND_STRUCT, KIND_UNION, kernel_types,
                              types_with_struct)
    if kernel_types() is None:
        return None
    bt, t = types_with_struct(re.sub(r"^\s*(struct|union)\s+", "", struct_name or "").strip())
    if t is None:
        return False
    for comp in components:
        t = bt.strip(t)
        if comp.kind == "member":
            if bt.kind(t) == KIND_PTR:
                t = bt.strip(bt.target(t))
            if bt.kind(t) not in (KIND_STRUCT, KIND_UNION):
                return False
            r = bt.member(t, comp.name)
            if r is None:
                return False
            t = r[1]
        elif comp.kind == "index":
            if bt.kind(t) not in (KIND_PTR, KIND_ARRAY):
                return False
            t = bt.target(t)
        else:
            return None
    return True


def defined_value(op, target_var=None) -> Optional[bool]:
    """@defined(op) for a @cast chain, or a $var->chain whose variable
    `target_var(op)` finds (a TargetVar or None); None: cannot tell."""
    if isinstance(op, ast.CastOp) and op.components \
            and isinstance(getattr(op, "type_name", None), str):
        # `& @cast(0, "T")->m` (@type_member_defined) asks the same question
        return chain_defined(op.type_name, op.components)
    if isinstance(op, ast.TargetSymbol) and op.components and target_var is not None:
        tv = target_var(op)
        if tv is None:
            return False
        name = struct_of(tv.c_type)
        if name is None:
            return None
        return chain_defined(name, op.components)
    return None
