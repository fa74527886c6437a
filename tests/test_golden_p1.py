"""Golden pass-1 cases: tests/golden/p1/*.case, expectations produced by
`stap -p1` (scripts/update_golden.py p1).  Runs pytap in-process."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from update_golden import read_case, split_options  # noqa: E402

CASES = sorted((ROOT / "tests" / "golden" / "p1").glob("*.case"))


def run_pytap(case):
    from pytap import cli
    tool_opts, args = split_options(case["options"])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        # stap's default runtime is "kernel" (pytap's is "bpf"): match the oracle
        rt = [] if any(o.startswith("--runtime") or o == "--bpf" for o in tool_opts) \
            else ["--runtime=kernel"]
        rc = cli.main(["-p1"] + rt + tool_opts + ["-e", case["script"]] + args)
    return out.getvalue() + err.getvalue(), rc


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_p1(path, monkeypatch):
    # tapset macros (@choose_defined ...) come from stap's tapset dir, as
    # when the expectations were generated
    monkeypatch.setenv("PYTAP_TAPSET", "/usr/share/systemtap/tapset")
    case = read_case(path)
    if case["out"] is None:
        pytest.fail("case has no [out]: run scripts/update_golden.py p1")
    got, rc = run_pytap(case)
    assert got == case["out"]
    assert rc == case["exit"]
