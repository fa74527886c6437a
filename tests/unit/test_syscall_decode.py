"""The system-call formatting twins (pytap/runtime/natives/syscalls.py) and
scripts/compare_locals.py's comparison, without a kernel."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pytap.runtime import builtins as B
from pytap.runtime.natives import load_all

REPO = Path(__file__).resolve().parents[2]
load_all()


def call(name, *args):
    return B.BUILTINS[name](None, *args)


@pytest.mark.parametrize("name,arg,out", [
    ("_sc_prot", 3, "PROT_READ|PROT_WRITE"),
    ("_sc_prot", 0, "PROT_NONE"),
    ("_sc_prot", 0x10 | 1, "PROT_READ|0x10"),
    ("_sc_mmap_flags", 0x22, "MAP_PRIVATE|MAP_ANONYMOUS"),
    ("_sc_open_flags_rest", 0o2000100, "O_CREAT|O_CLOEXEC"),
    ("_sc_at_flags", 0x100, "AT_SYMLINK_NOFOLLOW"),
    ("_sc_at_flags", 0, "0x0"),
    ("_sc_access_mode", 0, "F_OK"),
    ("_sc_access_mode", 6, "R_OK|W_OK"),
    ("_sc_signal_name", 9, "SIGKILL"),
    ("_sc_signal_name", 0, "SIG_0"),
    ("_sc_signal_name", 29, "SIGIO/SIGPOLL"),
    ("_sc_signal_name", 99, "0x63"),
    ("_sc_clockid", 1, "CLOCK_MONOTONIC"),
    ("_sc_seek_whence", 2, "SEEK_END"),
    ("_sc_wait4_opts", 3, "WNOHANG|WUNTRACED"),
    ("_sc_fcntl_cmd", 1030, "F_DUPFD_CLOEXEC"),
    ("_sc_sigprocmask_how", 2, "SIG_SETMASK"),
    ("_sc_sock_family", 10, "PF_INET6"),
    ("_sc_pipe2_flags", 0o2004000, "O_NONBLOCK|O_CLOEXEC"),
    ("_sc_rusage_who", -1, "RUSAGE_CHILDREN"),
    ("_sc_madvice", 4, "MADV_DONTNEED"),
    ("_sc_futex_op", 129, "FUTEX_WAKE_PRIVATE"),
    ("_sc_futex_op", 0x189, "0x189"),
    ("_sc_clone_flag_bits", 0x1200000 | 0x100, "CLONE_VM|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"),
    ("_sc_clone_flag_bits", 0, "0x0"),
    ("errno_str", -2, "ENOENT"),
    ("errno_str", 13, "EACCES"),
    ("errno_str", 4095, ""),
    ("signal_str", 15, "TERM"),
    ("signal_str", 34, "RTMIN+2"),
    ("signal_str", 29, "IO/POLL"),
    ("signal_str", 0, ""),
    ("syscall_name", 257, "openat"),
    ("syscall_name", 0, "read"),
])
def test_decoders(name, arg, out):
    assert call(name, arg) == out


def test_timespec_null():
    assert call("_sc_timespec", 0, 1) == "NULL"
    assert call("_sc_timeval", 0x1000, 3) == "NULL"


def _compare_module():
    spec = importlib.util.spec_from_file_location("compare_locals", REPO / "scripts" / "compare_locals.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compare_locals_rules():
    m = _compare_module()
    stap = m.parse_listing("syscall.a name:string fd:long __nr:long $regs:struct pt_regs*\n"
                           "syscall.b x:long\nsyscall.c y:string\n")
    mine = m.parse_listing("syscall.a name:string fd:long extra:long\nsyscall.b x:string\n")
    ok, misses = m.compare(stap, mine)
    assert ok == 1
    assert misses == [("syscall.b", "x is string, stap long"), ("syscall.c", "not listed")]


@pytest.mark.parametrize("name,arg,out", [
    ("_sc_sock_type", 2 | 0o2000000, "SOCK_DGRAM|SOCK_CLOEXEC"),
    ("_sc_sock_type", 1 | 0o4000 | 0x100000, "SOCK_STREAM|SOCK_NONBLOCK|0x100000"),
    ("_sc_sock_type", 9, "0x9"),
    ("_sc_sched_policy", 3 | 0x40000000, "SCHED_RESET_ON_FORK|SCHED_BATCH"),
    ("_sc_sched_policy", 0, "SCHED_OTHER"),
    ("_sc_sched_policy", 4, "0x4"),
    ("_sc_mknod_mode", 0o10640, "S_IFIFO|0640"),
    ("_sc_mknod_mode", 0o644, "0644"),
    ("_sc_stp_sigmask_str", (1 << 9) | (1 << 14), "[SIGUSR1|SIGTERM]"),
    ("_sc_stp_sigmask_str", 0, "[EMPTY]"),
    ("_sc_flock_cmd", 6, "LOCK_EX|LOCK_NB"),
    ("_sc_eventfd2_flag_str", 0o2004000, "EFD_NONBLOCK|EFD_CLOEXEC"),
    ("_sc_fadvice_advice_str", 4, "POSIX_FADV_DONTNEED"),
    ("_sc_opoll_op_str", 3, "EPOLL_CTL_MOD"),
    ("_sc_msync_flags", 0, "0x0"),
    ("_sc_cloexec_flag", 0o2000000, "O_CLOEXEC"),
    ("_sc_fallocate_mode", 3, "FALLOC_FL_KEEP_SIZE|FALLOC_FL_PUNCH_HOLE"),
    ("_sc_statx_mask_str", 0, "AT_STATX_SYNC_AS_STAT"),
    ("errno_str", 95, "EOPNOTSUPP"),
    ("errno_str", 35, "EDEADLK"),
    ("errno_p", -2, 2),
    ("_sc_sem_flags", 0o1000 | 0o600, "IPC_CREAT|0600"),
    ("_sc_stp_shmget_flags_str", 0o3000 | 0o644, "IPC_CREAT|IPC_EXCL|0644"),
    ("_sc_semctl_cmd", 0x100 | 2, "IPC_64|IPC_STAT"),
    ("_sc_mempolicy_mode_str", (1 << 15) | 2, "MPOL_F_STATIC_NODES|MPOL_BIND"),
    ("_sc_swapon_flags_str", 0x8000 | 0x10000 | 5, "SWAP_FLAG_PREFER|SWAP_FLAG_DISCARD|5"),
    ("_sc_stp_msgget_key_str", 0, "IPC_PRIVATE"),
    ("_sc_futex_wake_op_str", 0x14001000, "{FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0}"),
    ("_sc_futex_wake_op_str", 0x80fff001, "{FUTEX_OP_OPARG_SHIFT|FUTEX_OP_SET, -1, FUTEX_OP_CMP_EQ, 1}"),
    ("_sc_sockopt_optname_str", 2, "SO_REUSEADDR"),
    ("_sc_sockopt_level_str", 6, "SOL_TCP"),
    ("_sc_stp_arch_prctl_func_str", 0x1002, "ARCH_SET_FS"),
    ("_sc_stp_arch_prctl_func_str", 0x3001, "12289"),
    ("_sc_mountflags_str", 4096 | 16384, "MS_BIND|MS_REC"),
    ("errno_p", 4095, 0),
])
def test_decoders_more(name, arg, out):
    """Natives through their twins; script-language decoders run by pytap's
    interpreter (a begin probe: needs root, as every pass-5 run)."""
    if name in B.BUILTINS:
        assert call(name, arg) == out
    else:
        import os
        if os.geteuid() != 0:
            pytest.skip("running a script needs root")
        assert _run_function(name, arg) == str(out)


def _run_function(name, arg):
    """Call a tapset script function through pytap's interpreter."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "pytap", "-e",
                        f"probe begin {{ println({name}({arg})) exit() }}"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_structs_null():
    assert call("_sc_ustruct", 0, 1) == "NULL"
    assert call("_sc_stp_sigset_u", 0) == "NULL"
    assert call("_sc_fildes_index_u", 0, 0) == 0


@pytest.mark.parametrize("data,count,out", [
    (b"hello\n", 6, '"hello\\n"'),
    (b"a" * 45 + b"\n\n\n\n", 49, '"' + "a" * 45 + '"...'),
    (b"tab\there \"q\" back\\slash \x01\x00z" + b"x" * 60, 87,
     '"tab\\there \\"q\\" back\\\\slash \\001\\0zxxxxxxxx"...'),
    (b"xy", 2, '"xy"'),
])
def test_user_buffer_quoted(data, count, out):
    """stap's user_buffer_quoted truncation (outlen 50, as the write tapset
    passes), read from this process's own memory."""
    import ctypes
    import types
    buf = ctypes.create_string_buffer(data, len(data) + 128)
    ctx = types.SimpleNamespace(pid=None, interp=None)
    assert B.BUILTINS["_sc_user_buffer_quoted"](ctx, ctypes.addressof(buf), count, 50) == out
