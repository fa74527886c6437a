"""kernel.function("*@fs/proc*.c"): selecting functions by source file needs
DWARF; without it pytap says so at once (instead of expanding the name part
"*" to every kernel function) and how to write the probe instead."""
from __future__ import annotations

from pytap.cli import main


def _p2(tmp_path, monkeypatch, capsys, text):
    (tmp_path / "f.stp").write_text(text)
    monkeypatch.chdir(tmp_path)
    rc = main(["-p2", "f.stp"])
    return rc, capsys.readouterr()


def test_wildcard_function_in_a_file_fails_fast_and_says_why(tmp_path, monkeypatch, capsys):
    rc, cap = _p2(tmp_path, monkeypatch, capsys,
                  'probe kernel.function("*@fs/proc*.c") { printf("%s\\n", ppfunc()) }\n')
    assert rc == 1
    assert cap.err.startswith("semantic error: while resolving probe point: identifier 'kernel'"
                              " at f.stp:1:7\n")
    assert ("semantic error: cannot select kernel functions by source file 'fs/proc*.c': "
            "without kernel debuginfo there is no file or line information") in cap.err
    assert "kernel.function(\"proc*\")" in cap.err
    assert cap.err.endswith("Pass 2: analysis failed.  [man error::pass2]\n")


def test_optional_file_pattern_probe_is_skipped(tmp_path, monkeypatch, capsys):
    rc, cap = _p2(tmp_path, monkeypatch, capsys,
                  'probe kernel.function("*@net/socket.c").call ? { }\nprobe begin { exit() }\n')
    assert rc == 0
    assert "begin /* <- begin */" in cap.out
