"""Kernel layout facts inside native tapset bodies, filled in at pass 3.

BCC compiles against the installed kernel headers, which may not match the
running kernel, so a native function must not name kernel struct members
in C.  Instead its body uses these placeholders, replaced textually (before
the C preprocessor runs) from this kernel's BTF:

    PYTAP_OFFSETOF(task_struct, signal)        byte offset of a member; a
                                               dotted path walks embedded
                                               structs/unions, `[N]` indexes
                                               an array member
    PYTAP_HAS_MEMBER(task_struct, __state)     1 when the member exists, else 0
                                               (usable in `#if`)
    PYTAP_SIZEOF(pid_namespace)                struct size, 0 if unknown

Host facts fixed when the script starts: PYTAP_TZ_GMTOFF (seconds west of
UTC), PYTAP_TZ_NAME (a C string literal), PYTAP_HZ (CONFIG_HZ).

A member that does not exist becomes the undefined identifier
`PYTAP_NO_MEMBER_<struct>_<member>`: compiling fails only if that code is
live, so bodies put such reads under `#if PYTAP_HAS_MEMBER(...)`.
"""
from __future__ import annotations

import re
from typing import Optional

_MACRO = re.compile(r"\bPYTAP_(OFFSETOF|HAS_MEMBER|SIZEOF)\(\s*([A-Za-z_]\w*)\s*(?:,\s*([\w.\[\]]+)\s*)?\)")


def member_offset(struct_name: str, path: str) -> Optional[int]:
    """Offset of `path` (a.b[2].c) in struct_name from this kernel's BTF."""
    from .btf_offsets import KIND_ARRAY, KIND_STRUCT, KIND_UNION, kernel_types
    bt = kernel_types()
    if bt is None:
        return None
    tid = bt.structs.get(struct_name)
    if tid is None:
        return None
    off = 0
    for part in path.split("."):
        m = re.fullmatch(r"(\w+)((?:\[\d+\])*)", part)
        if m is None:
            return None
        t = bt.strip(tid)
        if bt.kind(t) not in (KIND_STRUCT, KIND_UNION):
            return None
        r = bt.member(t, m.group(1))
        if r is None:
            return None
        off += r[0]
        tid = r[1]
        for idx in re.findall(r"\[(\d+)\]", m.group(2)):
            t = bt.strip(tid)
            if bt.kind(t) != KIND_ARRAY:
                return None
            elem = bt.target(t)
            off += int(idx) * bt.size(elem)
            tid = elem
    return off


def struct_size(struct_name: str) -> int:
    from .btf_offsets import kernel_types
    bt = kernel_types()
    if bt is None or struct_name not in bt.structs:
        return 0
    return bt.size(bt.structs[struct_name])


def tz_facts():
    """(seconds west of UTC, zone abbreviation) now, as staprun passes them."""
    import time
    t = time.localtime()
    return -t.tm_gmtoff, t.tm_zone or "UTC"


def config_hz() -> int:
    import gzip
    import os
    for path in (f"/boot/config-{os.uname().release}", "/proc/config.gz"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                for line in f:
                    if line.startswith("CONFIG_HZ="):
                        return int(line.split("=")[1])
        except (OSError, ValueError):
            continue
    return 250                  # Debian's default


def expand(code: str) -> str:
    """Replace the PYTAP_* placeholders of a native body."""
    if "PYTAP_" not in code:
        return code
    if "PYTAP_TZ_" in code or "PYTAP_HZ" in code:
        off, name = tz_facts()
        code = re.sub(r"\bPYTAP_TZ_GMTOFF\b", "(%dLL)" % off, code)
        code = re.sub(r"\bPYTAP_TZ_NAME\b", '"%s"' % re.sub(r'[^\w+-]', "", name)[:15], code)
        code = re.sub(r"\bPYTAP_HZ\b", "%dLL" % config_hz(), code)

    def repl(m):
        what, sname, member = m.group(1), m.group(2), m.group(3)
        if what == "SIZEOF":
            return str(struct_size(sname))
        off = member_offset(sname, member or "")
        if what == "HAS_MEMBER":
            return "1" if off is not None else "0"
        if off is None:
            return "PYTAP_NO_MEMBER_%s_%s" % (sname, re.sub(r"\W", "_", member or ""))
        return str(off)
    return _MACRO.sub(repl, code)
