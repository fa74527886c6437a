"""pytap/cachefs.py: loads only what is ours alone; stores atomically into
0700 directories (the root-tier story is tests/runtime/test_cache_trust.py)."""
from __future__ import annotations

import os

import pytest

from pytap import cachefs


def test_store_then_load_roundtrip(tmp_path):
    root = tmp_path / "c" / "pytap"
    assert cachefs.store_json(root, "sub/x.json", {"a": [1, 2]})
    assert cachefs.load_json(root, "sub/x.json") == {"a": [1, 2]}
    assert cachefs.store_pickle(root, "p.pickle", (1, "two"))
    assert cachefs.load_pickle(root, "p.pickle") == (1, "two")
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    assert oct((root / "sub").stat().st_mode & 0o777) == "0o700"
    assert oct((root / "sub" / "x.json").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in root.rglob("*.tmp")]


@pytest.mark.parametrize("where", ["root", "sub", "file"])
def test_group_writable_anywhere_is_ignored(tmp_path, where):
    root = tmp_path / "pytap"
    cachefs.store_pickle(root, "sub/t.pickle", [1])
    target = {"root": root, "sub": root / "sub", "file": root / "sub" / "t.pickle"}[where]
    os.chmod(target, 0o620 if where == "file" else 0o770)
    assert cachefs.load_pickle(root, "sub/t.pickle") is None


def test_symlinked_file_is_not_followed(tmp_path):
    root = tmp_path / "pytap"
    cachefs.store_json(root, "real.json", [1])
    os.symlink(root / "real.json", root / "link.json")
    assert cachefs.load_json(root, "real.json") == [1]
    assert cachefs.load_json(root, "link.json") is None


def test_missing_root_and_bad_names(tmp_path):
    assert cachefs.load_bytes(tmp_path / "none", "x") is None
    assert cachefs.entries(tmp_path / "none") == []
    with pytest.raises(ValueError):
        cachefs.load_bytes(tmp_path, "../x")


def test_untrusted_root_gets_no_writes(tmp_path, capsys, monkeypatch):
    root = tmp_path / "pytap"
    root.mkdir()
    os.chmod(root, 0o777)
    monkeypatch.setattr(cachefs, "verbose", 1)
    monkeypatch.setattr(cachefs, "_noted", set())
    assert not cachefs.store_json(root, "x.json", 1)
    assert list(root.iterdir()) == []
    assert "writable by group or others (mode 777)" in capsys.readouterr().err


def test_entries_and_remove(tmp_path):
    root = tmp_path / "pytap"
    for n in ("a.json", "b.json"):
        cachefs.store_json(root, n, n)
    assert sorted(n for n, _ in cachefs.entries(root)) == ["a.json", "b.json"]
    cachefs.remove(root, "a.json")
    assert [n for n, _ in cachefs.entries(root)] == ["b.json"]
