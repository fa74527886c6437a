#!/usr/bin/env python3
"""How many of SystemTap's documented functions pytap's tapsets offer.

Counts the `man 3stap function::NAME` pages whose NAME is defined by a
`function NAME` in tapsets/ (any file, any overload), except those\ntapsets/not_on_ebpf.stp declares as impossible on eBPF, and prints `N/M`.
`--missing` also lists the documented names no tapset defines.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAN3 = Path("/usr/share/man/man3")


def documented() -> list:
    return sorted(p.name[len("function::"):].split(".3stap")[0] for p in MAN3.glob("function::*"))


def defined() -> set:
    names = set()
    for f in (ROOT / "tapsets").rglob("*.stp"):
        names |= set(re.findall(r"^\s*function\s+(\w+)", f.read_text(), re.M))
    return names


def refused() -> set:
    """Documented functions eBPF cannot offer (tapsets/not_on_ebpf.stp):
    declared so that a call gets a clear error, not counted as offered."""
    text = (ROOT / "tapsets" / "not_on_ebpf.stp").read_text()
    return set(re.findall(r"^function\s+(\w+)", text, re.M))


def main() -> int:
    docs = documented()
    ours = defined()
    have = [n for n in docs if n in ours and n not in refused()]
    if "--missing" in sys.argv[1:]:
        for n in docs:
            if n not in ours:
                print(n)
            elif n in refused():
                print(n, "(not on eBPF)")
    print(f"{len(have)}/{len(docs)} documented functions offered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
