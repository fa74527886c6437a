"""-t: stap's probe hit report after the run (runtime/timing.py).

Hit counts are exact; times are machine-dependent, so only their shape is
checked (never their size)."""
from __future__ import annotations

import re

import pytest

from test_cases import CASES, run_pytap, target_bin  # noqa: F401  (fixture)

pytestmark = pytest.mark.root

ROW = (r"{pp}, \({loc}\), hits: {hits}, time: (\d+)min/(\d+)avg/(\d+)max, "
       r"variance: (\d+),{deriv}, index: {index}")


def _row(pp, loc, hits, deriv, index):
    return ROW.format(pp=re.escape(pp), loc=re.escape(loc), hits=hits,
                      deriv=re.escape(deriv), index=index)


def _check_times(m, hits):
    lo, avg, hi, var = (int(g) for g in m.groups())
    assert lo <= avg <= hi
    if hits == 1:
        assert lo == avg == hi and var == 0


def test_probe_hit_report_layout(tmp_path, target_bin):  # noqa: F811
    script = tmp_path / "hits.stp"
    script.write_text(
        "global w\n"
        f'probe process("{target_bin}").function("work") {{ w++ }}\n'
        "probe begin, end { printf(\"%d\\n\", w) }\n")
    r = run_pytap(["-t", "-c", target_bin, str(script)])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    # the script's own output first, then the report, stap's layout
    assert lines[:2] == ["0", "3"]
    assert lines[2] == "----- probe hit report: "
    rows = lines[3:-2]
    assert lines[-2:] == ["----- refresh report:", ""]
    loc = str(script)
    want = [
        (f'process("{target_bin}").function("work@{CASES}/uprobe_target.c:3")', f"{loc}:2:1", 3,
         f' from: process("{target_bin}").function("work")', 0),
        ("begin", f"{loc}:3:1", 1, " from: begin", 1),
        ("end", f"{loc}:3:1", 1, " from: end", 2),
    ]
    assert len(rows) == len(want), r.stdout
    for row, (pp, l, hits, deriv, index) in zip(rows, want):
        m = re.fullmatch(_row(pp, l, hits, deriv, index), row)
        assert m, f"{row!r} !~ {_row(pp, l, hits, deriv, index)!r}"
        _check_times(m, hits)


def test_alias_derivation_and_unhit_probes(tmp_path):
    """A probe that never ran is not listed; an alias names its links;
    hits stop being counted once exit() was called."""
    script = tmp_path / "alias.stp"
    script.write_text("global n\n"
                      "probe syscall.getppid { next }\n"
                      "probe timer.ms(1) { if (++n == 3) exit() }\n"
                      "probe begin { n = 0 }\n")
    r = run_pytap(["-t", str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("----- probe hit report: \n")
    rows = [x for x in r.stdout.split("\n")[1:-2] if "getppid" not in x]
    want = [("timer.ms(1)", f"{script}:3:1", 3, " from: timer.ms(1)", 1),
            ("begin", f"{script}:4:1", 1, " from: begin", 2)]
    assert len(rows) == len(want), r.stdout
    for row, (pp, l, hits, deriv, index) in zip(rows, want):
        m = re.fullmatch(_row(pp, l, hits, deriv, index), row)
        assert m, f"{row!r} !~ {_row(pp, l, hits, deriv, index)!r}"
        _check_times(m, hits)
    tp = 'kernel.trace("syscalls:sys_enter_getppid")'
    for row in r.stdout.split("\n")[1:-2]:
        if "getppid" in row:      # some process called getppid meanwhile
            assert re.fullmatch(_row(tp, f"{script}:2:1", r"\d+",
                                     f" from: {tp} from: syscall.getppid", 0)
                                .replace(r"\\d\+", r"\d+"), row), row


def test_no_report_without_t(tmp_path):
    r = run_pytap(["-e", "probe begin { exit() }"])
    assert r.returncode == 0 and "probe hit report" not in r.stdout
