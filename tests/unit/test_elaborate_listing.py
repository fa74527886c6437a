"""-l / -L / --dump-* listings.  Expected texts were taken from stap 4.8
on this machine (SystemTap's tapsets) or follow its format (our tapsets)."""
from __future__ import annotations

import os

import pytest

from pytap.cli import main

STAP_TAPSETS = "/usr/share/systemtap/tapset"


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PYTAP_TAPSET", raising=False)
    monkeypatch.delenv("PYTAP_TAPSET_RUNTIME", raising=False)


def run(capsys, *args):
    rc = main(list(args))
    return rc, capsys.readouterr().out


def test_list_builtin_points(capsys):
    assert run(capsys, "-l", "timer.s(1)") == (0, "timer.s(1)\n")
    assert run(capsys, "-l", "begin") == (0, "begin\n")


def test_list_kprobe_wildcard(capsys):
    rc, out = run(capsys, "-l", 'kprobe.function("vfs_rea*")')
    assert rc == 0
    assert out.splitlines()[:1] == ['kprobe.function("vfs_read")']
    assert out.splitlines() == sorted(out.splitlines())


def test_list_nothing(capsys):
    assert run(capsys, "-l", "nosuch") == (1, "")


def test_list_our_tcp_aliases(capsys):
    assert run(capsys, "-l", "tcp.*") == (0, "tcp.disconnect\ntcp.receive\ntcp.recvmsg\n"
                                             "tcp.sendmsg\ntcp.setsockopt\n")
    rc, out = run(capsys, "-L", "tcp.*")
    assert rc == 0
    assert "tcp.recvmsg name:string sock:long size:long family:long saddr:string daddr:string " \
        "sport:long dport:long\n" in out
    assert "tcp.sendmsg name:string sock:long family:long size:long\n" in out


def test_dump_probe_aliases_ours(capsys):
    rc, out = run(capsys, "--dump-probe-aliases")
    assert 'tcp.sendmsg.return = kprobe.function("tcp_sendmsg").return\n' in out


@pytest.mark.skipif(not os.path.isdir(STAP_TAPSETS), reason="SystemTap tapsets not installed")
def test_list_systemtap_aliases_like_stap(capsys, monkeypatch):
    monkeypatch.setenv("PYTAP_TAPSET", STAP_TAPSETS)
    assert run(capsys, "-l", "nd_syscall.read*") == (0, "nd_syscall.read\nnd_syscall.readahead\n"
                                                        "nd_syscall.readdir\nnd_syscall.readlink\n"
                                                        "nd_syscall.readlinkat\nnd_syscall.readv\n")
    assert run(capsys, "-L", "nd_syscall.read") == (
        0, "nd_syscall.read name:string fd:long buf_uaddr:long count:long argstr:string\n")
    rc, out = run(capsys, "-L", "syscall.open*")
    assert out.splitlines()[0] == ("syscall.open name:string filename:string filename_unquoted:string "
                                   "flags:long flags_str:string mode:long argstr:string")


@pytest.mark.skipif(not os.path.exists("/usr/bin/true"), reason="no /usr/bin/true")
def test_list_plt_points(capsys):
    # stap 4.8 -l on this machine
    assert run(capsys, "-l", 'process("/usr/bin/true").plt("exit").return') == \
        (0, 'process("/usr/bin/true").plt("exit").return\n')
    assert run(capsys, "-l", 'process("/usr/bin/true").library("libc.so.6").plt("realloc")') == \
        (0, 'process("/usr/bin/true").library("/usr/lib/x86_64-linux-gnu/libc.so.6").plt("realloc")\n')
