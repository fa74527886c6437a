"""pn() and pnlabel(): the script-level probe point of a derived probe.

stap's pn() is the point as the script wrote it, with wildcards expanded
but aliases not: `probe syscall_any` gives "syscall_any", `probe
syscall.open*` gives "syscall.openat".  Alias expansion records that name
as the probe's listing (what `-l` prints); a probe on a concrete point is
named by its resolved point.
"""
from __future__ import annotations

import re


def probe_name_text(dp) -> str:
    via_alias = any(type(d).__name__ == "ProbeAlias" for d in (getattr(dp, "derivation", None) or []))
    listing = getattr(dp, "listing", "") or ""
    if via_alias and listing:
        return listing
    from ..printer import probe_point_text
    rp = getattr(dp, "resolved", None)
    point = getattr(rp, "point", None) or getattr(dp, "point", None)
    if point is None:
        return ""
    try:
        return probe_point_text(point, with_flags=False)
    except Exception:
        return ""


def probe_label_text(dp) -> str:
    """The label of a `.label("NAME")` point, else ""."""
    m = re.search(r'\.label\("([^"]*)"\)', probe_name_text(dp))
    return m.group(1) if m else ""
