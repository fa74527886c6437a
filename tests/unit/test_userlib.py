"""pytap/probes/userlib.py: glob paths, a program's libraries, PLT entries
(the facts stap -p2 showed on this machine's binaries)."""
from __future__ import annotations

import os

import pytest

from pytap.diagnostics import StapError
from pytap.probes import userlib

TRUE = "/usr/bin/true"
LS = "/usr/bin/ls"


def test_glob_without_match_is_stap_error():
    with pytest.raises(StapError) as ei:
        userlib.glob_paths("/pytap-no-such-dir*/libc.so.6")
    assert ei.value.message == "glob /pytap-no-such-dir*/libc.so.6 error (3)"


def test_glob_keeps_elf_files_only(tmp_path):
    (tmp_path / "libx.so").write_text("/* GNU ld script */\n")
    elf = tmp_path / "libx.so.1"
    elf.write_bytes(open(TRUE, "rb").read())
    assert userlib.glob_paths(str(tmp_path / "libx.so*")) == [str(elf)]


@pytest.mark.skipif(not os.path.exists(TRUE), reason="no /usr/bin/true")
def test_plt_entries_follow_rela_plt_order():
    # stap: process("/usr/bin/true").plt("exit") is statement(0x2260) here;
    # entry i+1 of .plt for relocation i
    is_pie, _base, entries = userlib.plt_entries(TRUE)
    assert is_pie
    names = [e.name for e in entries]
    assert "exit" in names and "free" in names
    first = entries[0]
    assert all(b.address - a.address == 16 for a, b in zip(entries, entries[1:]))
    assert first.address % 16 == 0 and first.offset == first.address   # PIE: file offset = vaddr here


@pytest.mark.skipif(not os.path.exists(LS), reason="no /usr/bin/ls")
def test_program_libraries_sorted_then_interpreter():
    libs = userlib.program_libraries(LS)
    assert libs and all(os.path.isabs(p) and p == os.path.realpath(p) for p in libs)
    assert os.path.basename(libs[-1]).startswith("ld-linux")
    assert libs[:-1] == sorted(libs[:-1])
    assert any(os.path.basename(p) == "libc.so.6" for p in libs)


@pytest.mark.skipif(not os.path.exists(LS), reason="no /usr/bin/ls")
def test_library_paths_match_file_name_or_path():
    libc = [p for p in userlib.program_libraries(LS) if os.path.basename(p) == "libc.so.6"]
    assert userlib.library_paths(LS, "libc.so.6") == libc
    assert userlib.library_paths(LS, "libc*") == libc
    assert userlib.library_paths(LS, libc[0]) == libc
