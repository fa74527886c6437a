"""Platform readers: tracefs format parsing, BTF (a hand-built blob and this
machine's vmlinux), ELF (a gcc-built binary), kallsyms, tracefs, the BTF
cache and ensure_kernel_headers."""
import os
import shutil
import struct
import subprocess

import pytest

from pytap import platform as pplat
from pytap.diagnostics import StapError
from pytap.platform import Platform, btf, elf, parse_format

IS_ROOT = os.geteuid() == 0


# ------------------------------------------------------------------ formats
FORK = """name: sched_process_fork
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:__data_loc char[] parent_comm;\toffset:8;\tsize:4;\tsigned:0;
\tfield:pid_t parent_pid;\toffset:12;\tsize:4;\tsigned:1;
\tfield:char comm[16];\toffset:16;\tsize:16;\tsigned:0;
\tfield:const char * filename;\toffset:32;\tsize:8;\tsigned:0;
\tfield:unsigned long args[6];\toffset:40;\tsize:48;\tsigned:0;
\tfield:u64 clone_flags;\toffset:88;\tsize:8;\tsigned:0;
print fmt: "x"
"""


def test_parse_format():
    fs = {f.name: f for f in parse_format(FORK)}
    assert list(fs) == ["common_type", "parent_comm", "parent_pid", "comm", "filename", "args",
                        "clone_flags"]
    assert fs["common_type"].common and not fs["parent_pid"].common
    pc = fs["parent_comm"]
    assert (pc.data_loc, pc.is_string, pc.offset, pc.size, pc.c_type) == (True, True, 8, 4, "__data_loc char[]")
    assert (fs["parent_pid"].signed, fs["parent_pid"].c_type) == (True, "pid_t")
    assert (fs["comm"].array_len, fs["comm"].is_string, fs["comm"].c_type) == (16, True, "char[16]")
    assert fs["filename"].is_pointer and fs["filename"].is_string
    assert fs["args"].array_len == 6 and not fs["args"].is_string
    assert not fs["clone_flags"].signed and fs["clone_flags"].size == 8


# ---------------------------------------------------------------------- BTF
def _btf_blob():
    """A tiny BTF: int myfunc(int fd, const char *buf, size_t n);
    void vfunc(struct file *f, ...);"""
    strs = b"\0int\0char\0size_t\0long unsigned int\0myfunc\0fd\0buf\0n\0file\0pos\0vfunc\0f\0"
    off = {s: strs.index(b"\0" + s.encode() + b"\0") + 1 for s in
           ["int", "char", "size_t", "long unsigned int", "myfunc", "fd", "buf", "n", "file",
            "pos", "vfunc", "f"]}

    def t(name, kind, vlen, st, kflag=0):
        return struct.pack("<III", off[name] if name else 0, (kflag << 31) | (kind << 24) | vlen, st)

    types = b""
    types += t("int", btf.INT, 0, 4) + struct.pack("<I", (1 << 24) | 32)                # 1
    types += t(None, btf.PTR, 0, 3)                                                      # 2
    types += t(None, btf.CONST, 0, 4)                                                    # 3
    types += t("char", btf.INT, 0, 1) + struct.pack("<I", (1 << 24) | 8)                 # 4
    types += t("size_t", btf.TYPEDEF, 0, 6)                                              # 5
    types += t("long unsigned int", btf.INT, 0, 8) + struct.pack("<I", 64)               # 6
    types += t(None, btf.FUNC_PROTO, 3, 1) + struct.pack("<II", off["fd"], 1) + \
        struct.pack("<II", off["buf"], 2) + struct.pack("<II", off["n"], 5)             # 7
    types += t("myfunc", btf.FUNC, 1, 7)                                                 # 8
    types += t("file", btf.STRUCT, 1, 8) + struct.pack("<III", off["pos"], 6, 0)         # 9
    types += t(None, btf.PTR, 0, 9)                                                      # 10
    types += t(None, btf.FUNC_PROTO, 2, 0) + struct.pack("<II", off["f"], 10) + struct.pack("<II", 0, 0)  # 11
    types += t("vfunc", btf.FUNC, 1, 11)                                                 # 12
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strs))
    return hdr + types + strs


def test_btf_synthetic():
    protos = btf.parse(_btf_blob())
    assert set(protos) == {"myfunc", "vfunc"}
    m = protos["myfunc"]
    assert [p for p, _ in m.params] == ["fd", "buf", "n"]
    fd, buf, n = (ct for _, ct in m.params)
    assert (fd.text, fd.size, fd.signed) == ("int", 4, True)
    assert (buf.text, buf.is_pointer, buf.is_string) == ("const char *", True, True)
    assert (n.text, n.size, n.signed) == ("size_t", 8, False)
    assert m.ret.text == "int"
    v = protos["vfunc"]
    assert v.ret is None
    assert [(p, ct.text) for p, ct in v.params] == [("f", "struct file *")]   # varargs dropped


def test_btf_bad_magic():
    with pytest.raises(btf.BTFError):
        btf.parse(b"\0" * 64)


def test_btf_cache(tmp_path, monkeypatch):
    blob = tmp_path / "vmlinux"
    blob.write_bytes(_btf_blob())
    monkeypatch.setattr(pplat, "BTF_VMLINUX", str(blob))
    p = Platform(cache_dir=tmp_path / "cache")
    assert p.btf_function("myfunc").params[2][1].text == "size_t"
    cached = list((tmp_path / "cache").glob("btf-funcs-*.pickle"))
    assert len(cached) == 1
    # a second platform reads the cache (keyed by size+mtime), not the file
    monkeypatch.setattr(btf, "parse_file", lambda path: (_ for _ in ()).throw(AssertionError("re-parsed")))
    q = Platform(cache_dir=tmp_path / "cache")
    assert q.btf_function("vfunc").ret is None
    assert q.btf_function("nope") is None


@pytest.mark.skipif(not os.access("/sys/kernel/btf/vmlinux", os.R_OK),
                    reason="this kernel exposes no readable /sys/kernel/btf/vmlinux")
def test_btf_vmlinux():
    protos = btf.parse_file("/sys/kernel/btf/vmlinux")
    assert len(protos) > 10000
    vr = protos["vfs_read"]
    assert [p for p, _ in vr.params] == ["file", "buf", "count", "pos"]
    assert vr.params[2][1].text == "size_t" and vr.ret.signed


# ---------------------------------------------------------------------- ELF
def test_elf_gcc_binary(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build a test binary")
    src = tmp_path / "t.c"
    src.write_text("int foo(int a){return a;}\nint main(void){return foo(1);}\n")
    for flags, pie in (([], True), (["-no-pie"], False)):
        out = tmp_path / ("pie" if pie else "nopie")
        subprocess.run(["gcc", "-O0", *flags, "-o", str(out), str(src)], check=True)
        info = elf.read(str(out))
        assert info.is_pie is pie
        names = [s.name for s in info.functions]
        assert "foo" in names and "main" in names
        assert [s.address for s in info.functions] == sorted(s.address for s in info.functions)
        foo = next(s for s in info.functions if s.name == "foo")
        assert foo.size > 0
        assert foo.offset == foo.address - info.load_base if not pie else foo.offset == foo.address
        if not pie:
            assert info.load_base == 0x400000


def test_elf_shared_library_dynsym():
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(libc):
        pytest.skip("no glibc at the Debian multiarch path")
    names = {s.name for s in elf.read(libc).functions}
    assert {"malloc", "free", "printf"} <= names


def test_elf_not_elf(tmp_path):
    f = tmp_path / "x"
    f.write_text("#!/bin/sh\n")
    with pytest.raises(elf.ELFError):
        elf.read(str(f))


# ------------------------------------------------------------ kallsyms/tracefs
def test_kallsyms_functions():
    k = Platform().kernel_functions()
    if not k:
        pytest.skip("/proc/kallsyms is not readable here")
    assert "vfs_read" in k and k["vfs_read"] is None
    assert "do_exit" in k


@pytest.mark.skipif(not IS_ROOT, reason="tracefs needs root (and is mounted on demand)")
def test_tracefs_events_and_format():
    p = Platform()
    assert p.tracefs_dir() is not None
    tps = p.tracepoints()
    assert ("sched", "sched_switch") in tps
    fields = {f.name: f for f in p.tracepoint_format("sched", "sched_process_exec")}
    assert fields["filename"].data_loc and fields["pid"].size == 4


@pytest.mark.skipif(not IS_ROOT, reason="mounting tracefs needs root")
def test_mount_tracefs(tmp_path):
    import ctypes
    import ctypes.util
    where = tmp_path / "tracing"
    where.mkdir()
    assert pplat._mount("tracefs", str(where))
    try:
        assert (where / "available_events").exists()
    finally:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.umount2(str(where).encode(), 2)     # MNT_DETACH


def test_has_kprobes_matches_sysfs():
    p = Platform()
    tracefs = p.tracefs_dir()
    expected = os.path.exists("/sys/bus/event_source/devices/kprobe") or \
        bool(tracefs and os.path.exists(os.path.join(tracefs, "kprobe_events")))
    assert p.has_kprobes() == expected


def test_find_executable(tmp_path, monkeypatch):
    exe = tmp_path / "tool"
    exe.write_text("")
    exe.chmod(0o755)
    p = Platform()
    monkeypatch.setenv("PATH", str(tmp_path))
    assert p.find_executable("tool") == str(exe)
    assert p.find_executable("./tool", cwd=str(tmp_path)) == str(exe)
    assert p.find_executable("missing") is None


def test_current_is_shared():
    assert pplat.current() is pplat.current()


# ------------------------------------------------------------ kernel headers
def test_headers_present(tmp_path):
    build = tmp_path / "lib" / "1.0" / "build"
    (build / "include").mkdir(parents=True)
    assert pplat.ensure_kernel_headers("1.0", str(tmp_path / "lib"), str(tmp_path / "src")) == str(build)


def test_headers_linked_when_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(pplat, "_is_root", lambda: True)
    src = tmp_path / "src"
    (src / "linux-headers-6.1.0-9-amd64" / "include").mkdir(parents=True)
    (src / "linux-headers-6.1.0-10-amd64" / "include").mkdir(parents=True)
    (src / "linux-headers-6.1.0-10-common").mkdir(parents=True)
    (tmp_path / "lib").mkdir()
    build = pplat.ensure_kernel_headers("7.0", str(tmp_path / "lib"), str(src))
    assert os.readlink(build) == str(src / "linux-headers-6.1.0-10-amd64")
    assert os.readlink(tmp_path / "lib" / "7.0" / "source") == str(src / "linux-headers-6.1.0-10-common")


def test_headers_missing_message(tmp_path, monkeypatch):
    monkeypatch.setattr(pplat, "_is_root", lambda: False)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib").chmod(0o555)
    try:
        if os.access(tmp_path / "lib", os.W_OK) and not IS_ROOT:
            pytest.skip("cannot make a read-only directory here")
        with pytest.raises(StapError) as ei:
            pplat.ensure_kernel_headers("7.0", str(tmp_path / "lib"), str(tmp_path / "src"))
    finally:
        (tmp_path / "lib").chmod(0o755)
    msg = ei.value.message
    assert "linux-headers-amd64" in msg and str(tmp_path / "lib" / "7.0" / "build") in msg
    assert ei.value.kind == "" and "\n" not in msg
