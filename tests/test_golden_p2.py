"""pytap -p2 against stap -p2 (tests/golden/p2/*.case, generated from stap
by scripts/update_golden_p2.py).  Compares stdout (whole dump, or only the
"# probes" section for cases that call tapset functions, since our tapsets
are our own), stderr and exit status."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from update_golden_p2 import filter_stap_err, read_case  # noqa: E402

CASES = sorted((ROOT / "tests" / "golden" / "p2").glob("*.case"))


def no_similar(text: str) -> str:
    """The "(similar: ...)" suggestions list names from the tapsets, which
    are not stap's here; compare the rest of the message."""
    return re.sub(r" \(similar[^)]*\)", " (similar: ...)", text)


def probes_section(text: str) -> str:
    i = text.find("# probes\n")
    return text[i:] if i >= 0 else text


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("pytap-cache"))


def run_pytap(sec, tmp_path, monkeypatch, capsys, cache_home):
    from pytap.cli import main
    (tmp_path / "case.stp").write_text(sec["case"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", cache_home)
    args = ["-p2", *sec.get("opts", "").split()]
    if sec.get("tapset", "").strip() == "stap":
        if not os.path.isdir("/usr/share/systemtap/tapset"):
            pytest.skip("SystemTap tapsets not installed")
        monkeypatch.setenv("PYTAP_TAPSET", "/usr/share/systemtap/tapset")
        args.append("--runtime=kernel")
    else:
        monkeypatch.delenv("PYTAP_TAPSET", raising=False)
    rc = main(args + ["case.stp"])
    cap = capsys.readouterr()
    return cap.out, filter_stap_err(cap.err), rc


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_p2(path, tmp_path, monkeypatch, capsys, cache_home):
    sec = read_case(path)
    out, err, rc = run_pytap(sec, tmp_path, monkeypatch, capsys, cache_home)
    if sec.get("compare", "all").strip() == "probes":
        assert probes_section(out) == probes_section(sec.get("out", ""))
    else:
        assert out == sec.get("out", "")
        assert no_similar(err) == no_similar(sec.get("err", ""))
    assert rc == int(sec.get("rc", "0").strip() or 0)
