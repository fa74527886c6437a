"""The prctl/ptrace/keyctl/fanotify/quotactl decoders' tables, through
their Python twins (the script-language wrappers are covered by the
runtime case syscall_argstr_ctl)."""
from __future__ import annotations

import pytest

from pytap.runtime import builtins as B
from pytap.runtime.natives import load_all

load_all()


@pytest.mark.parametrize("name,arg,out", [
    ("_sc_prctl_option", 4, "PR_SET_DUMPABLE"),
    ("_sc_prctl_option", 0x59616d61, "PR_SET_PTRACER"),
    ("_sc_prctl_option", 0x100000000 | 3, "PR_GET_DUMPABLE"),
    ("_sc_prctl_option", 1000, "0x3e8"),
    ("_sc_prctl_ptracer", -1, "PR_SET_PTRACER_ANY"),
    ("_sc_prctl_ptracer", 42, "42"),
    ("_sc_capability", 21, "CAP_SYS_ADMIN"),
    ("_sc_capability", 40, "0x28"),
    ("_sc_securebits", 0x11, "SECBIT_NOROOT|SECBIT_KEEP_CAPS"),
    ("_sc_prctl_fpexc", 0, "PR_FP_EXC_DISABLED"),
    ("_sc_seccomp_mode", 2, "SECCOMP_MODE_FILTER"),
    ("_sc_ptrace_request", 0x4206, "PTRACE_SEIZE"),
    ("_sc_ptrace_request", 12, "0xc"),
    ("_sc_ptrace_arch_request", 12, "PTRACE_GETREGS"),
    ("_sc_ptrace_options", 0, "0x0"),
    ("_sc_ptrace_options", 0x200001, "PTRACE_O_TRACESYSGOOD|0x200000"),
    ("_sc_elf_note", 0x202, "NT_X86_XSTATE"),
    ("_sc_stp_arch_prctl_name", 0x1003, "ARCH_GET_FS"),
    ("_sc_stp_keyctl_keyring_shortcut_str", 0xfffffffd, "KEY_SPEC_SESSION_KEYRING"),
    ("_sc_stp_keyctl_keyring_shortcut_str", -8, "KEY_SPEC_REQUESTOR_KEYRING"),
    ("_sc_stp_keyctl_keyring_shortcut_str", 7, "7"),
    ("_sc_stp_keyctl_default_keyrings_str", -1, "KEY_REQKEY_DEFL_NO_CHANGE"),
    ("_sc_stp_keyctl_default_keyrings_str", 6, "KEY_REQKEY_DEFL_GROUP_KEYRING"),
    ("_sc_keyctl_perm_bits", 0x3f000000, "KEY_POS_VIEW|KEY_POS_READ|KEY_POS_WRITE|KEY_POS_SEARCH"
     "|KEY_POS_LINK|KEY_POS_SETATTR"),
    ("_sc_stp_keyctl_cmd_str", 0xffffffff, "-1"),
    ("_sc_fanotify_class", 0xc, "0xc"),
    ("_sc_si_code", -6, "SI_TKILL"),
    ("_sc_si_code", 5, "0x5"),
    ("_sc_si_code_signal", (7 << 8) | 4, "BUS_MCEERR_AR"),
    ("_sc_si_code_signal", (31 << 8) | 1, "SYS_SECCOMP"),
    ("_sc_adjtimex_modes", 0xa001, "ADJ_OFFSET|ADJ_OFFSET_SINGLESHOT|0x2000"),
    ("_sc_adjtimex_modes", 0, "0x0"),
    ("_sc_quotactl_cmd", 0x5808, "Q_XGETQSTATV"),
    ("_sc_quotactl_cmd", 0x800009, "0x800009"),
    ("_sc_quotactl_quota_type_str", 4, "QFMT_VFS_V1"),
    ("_sc_quotactl_quota_type_str", -1, "0xffffffffffffffff"),
    ("_sc_fanotify_init_extra", 0x12, "FAN_NONBLOCK|FAN_UNLIMITED_QUEUE"),
    ("_sc_fanotify_mark_flags_str", 0x81, "FAN_MARK_ADD|FAN_MARK_FLUSH"),
    ("_sc_fanotify_mark_mask_str", 0x48000018, "FAN_CLOSE_WRITE|FAN_CLOSE_NOWRITE|FAN_ONDIR|FAN_EVENT_ON_CHILD"),
])
def test_ctl_decoders(name, arg, out):
    assert B.BUILTINS[name](None, arg) == out


@pytest.mark.parametrize("data,size,out", [
    (b"hello\0", 6, '"hello"'),
    (b"\x01a\"b\xff", 5, '"\\x01a"b\\xff"'),
    (b"\0\0", 2, '"\\x00\\x00"'),
    (b"y" * 60, 60, '"' + "y" * 50 + '"'),
])
def test_xattr_val_str(data, size, out):
    """The twin reads this process's memory (/proc/self/mem)."""
    import ctypes
    import os
    from types import SimpleNamespace
    buf = ctypes.create_string_buffer(data, len(data))
    ctx = SimpleNamespace(pid=os.getpid(), interp=None)
    assert B.BUILTINS["_sc_stp_xattr_val_str"](ctx, ctypes.addressof(buf), size) == out


def test_xattr_val_str_null():
    assert B.BUILTINS["_sc_stp_xattr_val_str"](None, 0, 5) == "0x0"
