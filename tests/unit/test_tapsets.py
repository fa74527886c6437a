"""pytap/tapsets.py: search path, lazy index, on-disk parse cache."""
from __future__ import annotations

import os

import pytest

from pytap import tapsets
from pytap.options import Options


@pytest.fixture
def lib_dir(tmp_path):
    d = tmp_path / "ts"
    d.mkdir()
    (d / "a.stp").write_text(
        "global a_count\n"
        "probe my.alias = begin { a_count++ }\n"
        "probe my.alias.return += end { }\n"
        "function helper:long (x:long) { return x * 2 }\n")
    (d / "b.stp").write_text(
        "private global b_hidden, b_shown = 3\n"
        "function other() { return 1 }\n")
    (d / "bpf").mkdir()
    (d / "bpf" / "c.stp").write_text("function bpf_only() { return 2 }\n")
    (d / "linux").mkdir()
    (d / "linux" / "d.stp").write_text("function kernel_only() { return 3 }\n")
    return d


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def make_opts(tmp_path, lib_dir, runtime="bpf"):
    o = Options()
    o.tapset_dir = str(lib_dir)
    o.runtime = runtime
    return o


def test_scan_file_finds_names():
    e = tapsets.scan_file("x.stp", "probe syscall.open = kprobe.function(\"x\") {}\n"
                                   "probe tcp.a, tcp.b += begin {}\n"
                                   "function f:long () %{ %}\n"
                                   "private function g() {}\n"
                                   "global x, y[10], z = 3\n")
    assert e.alias_heads == {"syscall", "tcp"}
    assert e.functions == {"f", "g"}
    assert e.globals == {"x", "y", "z"}


def test_search_dirs_follow_runtime(tmp_path, lib_dir, monkeypatch):
    monkeypatch.setenv("PYTAP_TAPSET_RUNTIME", "bpf")
    bpf = tapsets.TapsetLibrary(make_opts(tmp_path, lib_dir, "bpf"))
    names = [os.path.basename(p) for p in bpf.files]
    assert names == ["a.stp", "b.stp", "c.stp"]
    monkeypatch.delenv("PYTAP_TAPSET_RUNTIME")
    kern = tapsets.TapsetLibrary(make_opts(tmp_path, lib_dir, "kernel"))
    assert [os.path.basename(p) for p in kern.files] == ["a.stp", "b.stp", "d.stp"]


def test_index_lookups_are_lazy(tmp_path, lib_dir):
    lib = tapsets.TapsetLibrary(make_opts(tmp_path, lib_dir))
    assert lib.parse_count == 0
    files = lib.files_defining_function("helper")
    assert [f.name for f in files] == [str(lib_dir / "a.stp")]
    assert lib.parse_count == 1              # only a.stp was parsed
    assert [a.alias_names[0].components[0].functor for a in files[0].aliases] == ["my", "my"]
    assert files[0].privileged
    assert lib.files_defining_global("b_shown")[0].name.endswith("b.stp")
    assert lib.files_defining_alias("nosuch") == []


def test_parse_cache_reused(tmp_path, lib_dir):
    opts = make_opts(tmp_path, lib_dir)
    lib1 = tapsets.TapsetLibrary(opts)
    lib1.files_defining_function("helper")
    assert lib1.parse_count == 1
    lib2 = tapsets.TapsetLibrary(opts)
    lib2.files_defining_function("helper")
    assert lib2.parse_count == 0             # came from the pickle
    cached = list((tmp_path / "cache" / "pytap" / "tapsets").glob("*.pickle"))
    assert len(cached) == 1
    # a changed file is parsed again
    (lib_dir / "a.stp").write_text("function helper() { return 5 }\n")
    lib3 = tapsets.TapsetLibrary(opts)
    fs = lib3.files_defining_function("helper")
    assert lib3.parse_count == 1 and fs[0].aliases == []


def test_parse_cache_keeps_each_copy_its_own_path(tmp_path, lib_dir):
    # the same text in another directory (another checkout) is its own
    # tree: locations and stap's __private_<path>_NAME follow the file
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(lib_dir, copy)
    for d in (lib_dir, copy):
        lib = tapsets.TapsetLibrary(make_opts(tmp_path, d))
        f = lib.files_defining_function("helper")[0]
        assert f.functions[0].loc.file == str(d / "a.stp")


def test_cache_off(tmp_path, lib_dir):
    opts = make_opts(tmp_path, lib_dir)
    opts.use_cache = False
    lib = tapsets.TapsetLibrary(opts)
    lib.files_defining_function("helper")
    lib2 = tapsets.TapsetLibrary(opts)
    lib2.files_defining_function("helper")
    assert lib2.parse_count == 1
    assert not (tmp_path / "cache" / "pytap").exists()


def test_unparsable_file_is_skipped(tmp_path, lib_dir):
    (lib_dir / "bad.stp").write_text("function broken( { \n")
    lib = tapsets.TapsetLibrary(make_opts(tmp_path, lib_dir))
    assert lib.files_defining_function("broken") == []
    assert any(p.endswith("bad.stp") for p in lib.failed)


def test_default_tapset_dir_and_env(monkeypatch, tmp_path):
    from pytap import DEFAULT_TAPSET_DIR
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)
    assert Options().tapset_dirs()[-1] == str(DEFAULT_TAPSET_DIR)
    monkeypatch.setenv("PYTAP_TAPSET", str(tmp_path))
    o = Options()
    o.include_dirs = ["/x"]
    assert o.tapset_dirs() == ["/x", str(tmp_path)]


def test_our_tcp_tapset_is_indexed(monkeypatch, tmp_path):
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lib = tapsets.TapsetLibrary(Options())
    assert any(p.endswith("tcp.stp") for p in lib.index.files_for_alias_head("tcp"))


def test_systemtap_tree_read_for_kernel_runtime(tmp_path, monkeypatch):
    root = tmp_path / "stap"
    (root / "linux").mkdir(parents=True)
    (root / "bpf").mkdir()
    (root / "linux" / "k.stp").write_text("function konly() { return 1 }\n")
    (root / "bpf" / "b.stp").write_text("function bonly() { return 1 }\n")
    monkeypatch.delenv("PYTAP_TAPSET_RUNTIME", raising=False)
    o = Options()
    o.tapset_dir = str(root)
    lib = tapsets.TapsetLibrary(o)
    assert [os.path.basename(p) for p in lib.files] == ["k.stp"]
    assert o.runtime == "bpf"            # the caller's options are untouched
    monkeypatch.setenv("PYTAP_TAPSET_RUNTIME", "bpf")
    lib = tapsets.TapsetLibrary(o)
    assert [os.path.basename(p) for p in lib.files] == ["b.stp"]


def test_own_tapset_that_does_not_parse_is_reported(tmp_path, monkeypatch, capsys):
    """A broken file of pytap's own library says so (instead of leaving the
    script with a bare 'unresolved function')."""
    import pytap
    from pytap import tapsets
    (tmp_path / "broken.stp").write_text("function zz_f:long () { return 1 +; }\n")
    monkeypatch.setattr(pytap, "DEFAULT_TAPSET_DIR", tmp_path)
    lib = tapsets.TapsetLibrary(dirs=[str(tmp_path)])
    assert lib.parse(str(tmp_path / "broken.stp")) is None
    err = capsys.readouterr().err
    assert "broken.stp does not parse and is skipped: parse error" in err
