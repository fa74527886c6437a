"""The compiled-object cache (pytap/runtime/objcache.py): a second run of
the same program replays the cached BPF image without BCC's clang and
behaves exactly as the first."""
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from pytap.options import Options

REPO = Path(__file__).resolve().parents[2]
PYTAP = [sys.executable, "-m", "pytap"]


# ------------------------------------------------------------ no root needed

def test_map_refs_finds_map_fd_loads():
    from pytap.runtime.objcache import _map_refs
    mov = struct.pack("<BBhi", 0xb7, 0x01, 0, 5)              # r1 = 5
    ld = struct.pack("<BBhi", 0x18, 0x11, 0, 7) + bytes(8)     # r1 = map fd 7
    exit_ = struct.pack("<BBhi", 0x95, 0, 0, 0)
    insns = mov + ld + exit_
    assert _map_refs(insns, {7: 0}) == [[1, 0, 1]]
    assert _map_refs(insns, {8: 0}) is None                    # an fd we never saw
    plain = struct.pack("<BBhi", 0x18, 0x01, 0, 7) + bytes(8)  # ld_imm64 of a constant
    assert _map_refs(plain + exit_, {}) == []


def test_ctype_from_bcc_description():
    import ctypes as ct
    from pytap.runtime.objcache import ctype_from_desc
    desc = ["g_a_key", [["k0", "long long"], ["k1", "char", [16]],
                        ["__pad_1", "char", [4]], ["b", "unsigned int", 3]], "struct"]
    cls = ctype_from_desc(desc)
    names = [f[0] for f in cls._fields_]
    assert names == ["k0", "k1", "__pad_1", "b"]
    assert cls._fields_[1][1] == ct.c_char * 16
    assert ctype_from_desc("unsigned long long") is ct.c_ulonglong


def test_key_depends_on_source_and_flags():
    from pytap.runtime.objcache import cache_key
    assert cache_key("a", ["-DX=1"]) == cache_key("a", ["-DX=1"])
    assert cache_key("a", ["-DX=1"]) != cache_key("a", ["-DX=2"])
    assert cache_key("a", []) != cache_key("b", [])


# ------------------------------------------------------------ root: real BPF

def _need_bpf():
    if os.geteuid() != 0:
        pytest.skip("needs root to load BPF programs")
    try:
        import bcc  # noqa: F401
    except ImportError:
        pytest.skip("BCC Python bindings not installed")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYTAP_NO_OBJCACHE", raising=False)
    monkeypatch.delenv("PYTAP_NO_CACHE", raising=False)
    return tmp_path


def _run(args, home, **env):
    e = dict(os.environ, XDG_CACHE_HOME=str(home), PYTHONPATH=str(REPO))
    e.pop("PYTAP_NO_OBJCACHE", None)
    e.update(env)
    return subprocess.run(PYTAP + args, capture_output=True, text=True, timeout=120,
                          env=e, cwd=str(REPO))


SCRIPT = r"""
global hits, last, names, total
probe begin { printf("begin %s\n", "x") }
probe timer.ms(1) {
  hits++
  last = hits * 10
  names[hits % 2, "k"] += hits
  total <<< hits
  printf("tick %d %s\n", hits, "s")
  if (hits == 4) exit()
}
probe end {
  printf("last=%d count=%d sum=%d\n", last, @count(total), @sum(total))
  foreach ([i, s] in names+) printf("%d %s %d\n", i, s, names[i, s])
}
"""


@pytest.mark.root
def test_second_run_replays_cache_without_compiling(cache_home):
    _need_bpf()
    first = _run(["-v", "-e", SCRIPT], cache_home)
    assert first.returncode == 0, first.stderr
    assert "using cached" not in first.stderr
    assert "compiled and verified" in first.stderr
    entries = list((cache_home / "pytap" / "bpf").glob("*.json"))
    assert len(entries) == 1
    second = _run(["-v", "-e", SCRIPT], cache_home)
    assert second.returncode == 0, second.stderr
    assert "Pass 4: using cached" in second.stderr
    assert "compiled and verified" not in second.stderr
    assert second.stdout == first.stdout
    assert "last=40 count=4 sum=10" in second.stdout
    assert "1 k 4\n0 k 6\n" in second.stdout


@pytest.mark.root
def test_no_objcache_env_compiles_every_time(cache_home):
    _need_bpf()
    for _ in range(2):
        r = _run(["-v", "-e", "probe timer.ms(1) { exit() }"], cache_home,
                 PYTAP_NO_OBJCACHE="1")
        assert r.returncode == 0, r.stderr
        assert "using cached" not in r.stderr
    assert not (cache_home / "pytap" / "bpf").exists()


@pytest.mark.root
def test_broken_entry_is_recompiled_and_replaced(cache_home):
    _need_bpf()
    script = "probe timer.ms(1) { println(42); exit() }"
    assert _run(["-e", script], cache_home).returncode == 0
    (entry,) = (cache_home / "pytap" / "bpf").glob("*.json")
    data = json.loads(entry.read_text())
    data["progs"][0]["insns"] = ""            # no instructions: the kernel refuses it
    entry.write_text(json.dumps(data))
    r = _run(["-v", "-e", script], cache_home)
    assert r.returncode == 0 and r.stdout == "42\n", r.stderr
    assert "using cached" not in r.stderr
    r = _run(["-v", "-e", script], cache_home)
    assert "using cached" in r.stderr and r.stdout == "42\n"


@pytest.mark.root
def test_bpfstore_over_cached_maps(cache_home):
    """The same BpfStore round trip as test_core, on a replayed object."""
    _need_bpf()
    from test_core import _store_program   # noqa: E402 (the same hand-written maps)
    from pytap.runtime.bpfstore import BpfStore
    from pytap.runtime.loader import load
    from pytap.runtime.objcache import CachedBPF
    prog = _store_program()
    load(prog, Options()).cleanup()                # miss: compile, record
    bpf = load(prog, Options())
    assert isinstance(bpf, CachedBPF)
    try:
        st = BpfStore(bpf, prog)
        assert st.get("n", ()) == 0 and st.get("s", ()) == ""
        st.set("n", (), -7)
        st.set("s", (), "hello")
        assert st.get("n", ()) == -7 and st.get("s", ()) == "hello"
        st.delete("n")
        assert st.get("n", ()) == 0
        assert not st.exists("arr", (1, "a"))
        st.set("arr", (1, "a"), 5)
        st.set("arr", (2, "b"), 6)
        assert sorted(st.items("arr")) == [((1, "a"), 5), ((2, "b"), 6)]
        st.delete("arr", (1, "a"))
        assert st.items("arr") == [((2, "b"), 6)]
        st.delete("arr")
        assert st.items("arr") == []
        for v in (3, 9, 1):
            st.stat_add("st", (), v)
        s = st.stat("st", ())
        assert (s.count, s.sum, s.min, s.max) == (3, 13, 1, 9)
        st.stat_add("sta", (4,), 25)
        items = st.stat_items("sta")
        assert [k for k, _ in items] == [(4,)] and items[0][1].count == 1
    finally:
        bpf.cleanup()


def test_entries_others_can_write_are_ignored(tmp_path):
    from pytap.runtime import objcache
    path = tmp_path / "bpf" / "k.json"
    objcache.save(path, {"format": objcache.FORMAT, "maps": [], "progs": []})
    assert objcache.lookup(path) is not None
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    os.chmod(path, 0o666)
    assert objcache.lookup(path) is None


def test_eviction_keeps_the_newest(tmp_path, monkeypatch):
    from pytap.runtime import objcache
    monkeypatch.setattr(objcache, "MAX_ENTRIES", 3)
    for i in range(5):
        p = tmp_path / "bpf" / f"{i}.json"
        objcache.save(p, {"format": objcache.FORMAT})
        os.utime(p, (1000 + i, 1000 + i))
    objcache.save(tmp_path / "bpf" / "new.json", {"format": objcache.FORMAT})
    assert sorted(x.name for x in (tmp_path / "bpf").iterdir()) == ["3.json", "4.json", "new.json"]


def test_kprobe_programs_are_cacheable_except_maxactive():
    """kprobes replay through the kprobe PMU; a .maxactive(N) return probe
    (no PMU equivalent) keeps BCC's tracefs kprobes."""
    from types import SimpleNamespace as NS
    from pytap.runtime.objcache import cacheable
    kp = NS(family="kprobe", spec={"symbol": "vfs_read", "return": True, "maxactive": 0})
    assert cacheable(NS(attach_groups=[("f", kp)]))
    many = NS(family="kprobe", spec={"symbol": "vfs_read", "return": True, "maxactive": 20})
    assert not cacheable(NS(attach_groups=[("f", kp), ("g", many)]))


@pytest.mark.root
def test_kprobe_program_is_stored_and_replayed(cache_home):
    """-p4 of a kprobe script stores its object; the replay loads it.
    Attaching needs kprobes (the VM tier runs that: tests/vm)."""
    _need_bpf()
    script = 'probe kernel.function("vfs_read").return { if ($return > 0) exit() }'
    first = _run(["-v", "-p4", "-e", script], cache_home)
    assert first.returncode == 0, first.stderr
    assert len(list((cache_home / "pytap" / "bpf").glob("*.json"))) == 1
    second = _run(["-v", "-p4", "-e", script], cache_home)
    assert second.returncode == 0, second.stderr
    assert "Pass 4: using cached" in second.stderr


@pytest.mark.root
def test_cached_kprobe_attach_error_names_the_point(cache_home):
    """Without a kprobe PMU (this host: no CONFIG_KPROBES) a replayed
    object's attach fails with an exception naming the symbol."""
    _need_bpf()
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    from pytap.runtime.objcache import CachedBPF
    entry = {"maps": [], "progs": [], "license": "GPL", "kern_version": 0}
    bpf = CachedBPF(entry)
    from pytap.runtime.objcache import CachedFunction
    bpf.funcs[b"f"] = CachedFunction(b"f", -1)
    with pytest.raises(Exception, match="kretprobe 'vfs_read'"):
        bpf.attach_kretprobe(event=b"vfs_read", fn_name=b"f")
    bpf.cleanup()
