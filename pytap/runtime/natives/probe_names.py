"""Twins of tapsets/pn.stp for handlers the interpreter runs."""
from __future__ import annotations

from ..builtins import builtin
from ...elaborate.probe_name import probe_label_text, probe_name_text


@builtin()
def pn(ctx):
    probe = getattr(ctx, "probe", None)
    return probe_name_text(probe) if probe is not None else getattr(ctx, "pp", "")


@builtin()
def pnlabel(ctx):
    probe = getattr(ctx, "probe", None)
    return probe_label_text(probe) if probe is not None else ""
