#!/usr/bin/env python3
"""Draft scripts/syscall_table.py (run once, then review the table by hand).

Reads SystemTap 4.8's installed syscall tapsets (parsed with pytap's own
parser) for FACTS only: which positional argument each local comes from,
how it is converted (int/uint/pointer/user string), which decoder formats
it, the argstr format and arguments, the retstr format and which kernel
system calls an alias covers.  It writes them in pytap's own vocabulary
(@aN for the N-th argument, _sc_* helpers); scripts/gen_syscall_tapsets.py
turns the table into tapsets.  No tapset text is copied.

usage: draft_syscall_table.py STAP_L_OUTPUT > scripts/syscall_table.py
"""
import glob
import os
import pprint
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from pytap import ast, parser, printer  # noqa: E402
from pytap.options import Options  # noqa: E402

BASE = "/usr/share/systemtap/tapset/linux/"

# stap decoder -> ours (implemented in tapsets/syscall_decoders.stp)
DECODERS = {
    "_dfd_str": "_sc_dfd_str", "_sys_open_flag_str": "_sc_open_flags",
    "_at_flag_str": "_sc_at_flags", "_access_mode_str": "_sc_access_mode",
    "_mprotect_prot_str": "_sc_prot", "_mmap_flags": "_sc_mmap_flags",
    "_signal_name": "_sc_signal_name", "_get_wc_str": "_sc_clockid",
    "_seek_whence_str": "_sc_seek_whence", "_wait4_opt_str": "_sc_wait4_opts",
    "_msg_flags_str": "_sc_msg_flags", "__fork_flags": "_sc_clone_flags",
    "_fcntl_cmd_str": "_sc_fcntl_cmd", "_sock_family_str": "_sc_sock_family",
    "_sock_type_str": "_sc_sock_type", "_dup3_flag_str": "_sc_cloexec_flag",
    "_sigprocmask_how_str": "_sc_sigprocmask_how", "_futex_op_str": "_sc_futex_op",
    "_mknod_mode_str": "_sc_mknod_mode", "_shutdown_how_str": "_sc_shutdown_how",
    "_rlimit_resource_str": "_sc_rlimit_resource", "_madvice_advice_str": "_sc_madvice",
    "_stp_fallocate_mode_str": "_sc_hex", "_itimer_which_str": "_sc_itimer_which",
    "_flock_cmd_str": "_sc_flock_cmd", "_renameat2_flags_str": "_sc_renameat2_flags",
    "_getrandom_flags_str": "_sc_getrandom_flags", "_mremap_flags": "_sc_mremap_flags",
    "_msync_flag_str": "_sc_msync_flags", "_sched_policy_str": "_sc_sched_policy",
    "_priority_which_str": "_sc_priority_which", "_rusage_who_str": "_sc_rusage_who",
    "_stp_clock_nanosleep_flags_str": "_sc_timer_abstime",
}
NATIVE_KINDS = {  # positional readers: arg number -> our expression
    "int_arg": "_sc_s32(@a{})", "uint_arg": "_sc_u32(@a{})", "u32_arg": "_sc_u32(@a{})",
    "long_arg": "@a{}", "ulong_arg": "@a{}", "pointer_arg": "@a{}",
    "longlong_arg": "@a{}", "ulonglong_arg": "@a{}", "u64_arg": "@a{}", "s32_arg": "_sc_s32(@a{})",
}
CONV = {"__int32": "_sc_s32", "__uint32": "_sc_u32", "__short": "_sc_s16", "__ushort": "_sc_u16",
        "__long": "", "__ulong": "", "user_string_quoted": "_sc_ustr_q",
        "user_string_nofault": "_sc_ustr", "user_string_n_quoted": "_sc_ustr_nq",
        "user_string_n_nofault": "_sc_ustr_n"}
CONSTS = {"O_CREAT": 64, "O_TMPFILE": 0x410000, "AT_FDCWD": -100, "MREMAP_FIXED": 2,
          "F_SETFD": 2, "F_SETFL": 4, "F_DUPFD": 0, "F_DUPFD_CLOEXEC": 1030,
          "FUTEX_WAIT": 0, "FUTEX_WAKE": 1, "FUTEX_REQUEUE": 3, "FUTEX_CMP_REQUEUE": 4,
          "FUTEX_WAKE_OP": 5, "FUTEX_WAIT_BITSET": 9, "FUTEX_WAKE_BITSET": 10,
          "FUTEX_CMP_REQUEUE_PI": 12, "KEYCTL_UPDATE": 2, "KEYCTL_CHOWN": 4,
          "KEYCTL_DESCRIBE": 6, "KEYCTL_CLEAR": 7, "KEYCTL_LINK": 8, "KEYCTL_UNLINK": 9,
          "KEYCTL_SEARCH": 10, "KEYCTL_READ": 11, "KEYCTL_NEGATE": 13,
          "KEYCTL_GET_SECURITY": 17, "KEYCTL_REJECT": 19, "KEYCTL_INVALIDATE": 21,
          "BITS_PER_LONG": 64,
          "KEYCTL_GET_KEYRING_ID": 0, "KEYCTL_JOIN_SESSION_KEYRING": 1, "KEYCTL_REVOKE": 3, "KEYCTL_SETPERM": 5, "KEYCTL_INSTANTIATE": 12, "KEYCTL_SET_REQKEY_KEYRING": 14, "KEYCTL_SET_TIMEOUT": 15, "KEYCTL_ASSUME_AUTHORITY": 16, "KEYCTL_INSTANTIATE_IOV": 20, "KEYCTL_GET_PERSISTENT": 22, "Q_SYNC": 0x800001, "Q_QUOTAON": 0x800002, "Q_QUOTAOFF": 0x800003, "Q_GETFMT": 0x800004, "Q_GETINFO": 0x800005, "Q_SETINFO": 0x800006, "Q_GETQUOTA": 0x800007, "Q_SETQUOTA": 0x800008, "FUTEX_WAIT_REQUEUE_PI": 11}


def xlate(e) -> str:
    """An expression of stap's body, in our vocabulary (raises KeyError
    on anything we do not translate)."""
    if isinstance(e, ast.FunctionCall):
        n = e.name
        if n in NATIVE_KINDS:
            if len(e.args) != 1:
                raise KeyError(n)
            a = e.args[0]
            if isinstance(a, ast.Ternary):   # compat ? X : Y -> Y (native 64-bit)
                a = a.false_expr if hasattr(a, "false_expr") else a.els
            if not isinstance(a, ast.Number):
                raise KeyError("argpos " + printer.print_expr(a))
            return NATIVE_KINDS[n].format(a.value)
        if n in CONV:
            inner = xlate(e.args[0])
            return f"{CONV[n]}({inner})" if CONV[n] else inner
        if n in DECODERS:
            return f"{DECODERS[n]}({', '.join(xlate(a) for a in e.args)})"
        if n in ("sprintf", "sprint"):
            pass
        return f"_sc_UNDECODED_{n}({', '.join(xlate(a) for a in e.args)})"
    if isinstance(e, ast.EmbeddedExpr) if hasattr(ast, "EmbeddedExpr") else False:
        raise KeyError("embedded")
    return None


def main():
    names = [l.split()[0][len("syscall."):] for l in open(sys.argv[1]) if l.strip()]
    o = Options()
    o.tapset_dir = "/usr/share/systemtap/tapset"
    o.runtime = "kernel"
    al = {}
    for f in sorted(glob.glob(BASE + "sysc_*.stp")) + sorted(glob.glob(BASE + "x86_64/sysc_*.stp")):
        try:
            sf = parser.parse_file(f, o, privileged=True)
        except Exception:
            continue
        for a in sf.aliases:
            for n in a.alias_names:
                al.setdefault(printer.probe_point_text(n), a)
    out = {}
    for n in names:
        out[n] = draft_one(n, al)
    print("# Generated by scripts/draft_syscall_table.py, then reviewed; see its docstring.")
    print("# name: dict(nr=[kernel syscalls], body=[stap statements], ret=retstr format)")
    print("SYSCALLS = " + pprint.pformat(out, width=110, sort_dicts=False))


GATE = re.compile(r"__NR_(\w+) %\}")


def draft_one(n, al):
    a = al.get("tp_syscall." + n)
    nrs = []
    body = None
    if a is not None:
        subs = [printer.probe_point_text(l).rstrip("!?") for l in a.locations]
        if subs and all(s.startswith("__tp_syscall.") for s in subs):
            bodies = []
            for s in subs:
                sa = al.get(s)
                if sa is None:
                    continue
                txt = printer.print_block(sa.body) if hasattr(printer, "print_block") else ""
                nrs += [g for g in GATE.findall(txt) if not g.startswith("compat_")]
                bodies.append(sa)
            # the gate aliases come first (their prologue runs first), then
            # the outer alias's own body
            outer = a
            a = bodies[0] if bodies else None
            if a is not None:
                a = ast.ProbeAlias(a.alias_names, a.locations,
                                   ast.Block(list(a.body.statements) + list(outer.body.statements)))
        else:
            txt = printer.print_block(a.body)
            nrs += [g for g in GATE.findall(txt) if not g.startswith("compat_")]
    if a is None:
        for pre in ("nd2_syscall.", "nd1_syscall.", "nd_syscall."):
            if pre + n in al:
                a = al[pre + n]
                break
    stmts = []
    for s in (a.body.statements if a is not None else []):
        t = printer.print_stmt(s).strip()
        if "__set_syscall_pt_regs" in t or "_stp_syscall_nr" in t or "__NR_" in t or "asmlinkage" in t:
            continue
        stmts.append(xlate_stmt(s))
    # return format
    ra = al.get("tp_syscall." + n + ".return") or al.get("nd1_syscall." + n + ".return")
    ret = 1
    if ra is not None:
        txt = printer.print_block(ra.body)
        for s in [printer.probe_point_text(l).rstrip("!?") for l in ra.locations]:
            if s in al:
                txt += printer.print_block(al[s].body)
        m = re.search(r"return_str\(\(?(\d)", txt)
        if m:
            ret = int(m.group(1))
    return {"nr": sorted(set(nrs)) or [n], "body": stmts, "ret": ret}


def xlate_stmt(s):
    t = printer.print_stmt(s).strip()
    t = re.sub(r"%\{[^%]*?\b_stp_is_compat_task\(\)\s*%\}", "0", t)
    for c, v in CONSTS.items():
        t = re.sub(r"%\{[^%]*?\b" + c + r"\s*%\}", str(v), t)
    t = re.sub(r"\b(\w+_arg)\(\(0\)\?\((\d+)\):\((\d+)\)\)", r"\1(\3)", t)
    for k, fmt in NATIVE_KINDS.items():
        t = re.sub(r"\b" + k + r"\((\d+)\)", lambda m: fmt.format(m.group(1)), t)
    for k, v in CONV.items():
        t = re.sub(r"\b" + k + r"\(", (v + "(") if v else "(", t)
    for k, v in DECODERS.items():
        t = re.sub(r"(?<![\w])" + k + r"\(", v + "(", t)
    t = re.sub(r"(?<![\w@])(_\w+|user_\w+)\(", lambda m: m.group(0) if m.group(1).startswith("_sc_")
               else "_sc_UNDECODED" + m.group(1) + "(", t)
    m = re.fullmatch(r"\((\w+)\) = \((.*)\)", t, re.S)
    if m:
        t = f"{m.group(1)} = {m.group(2)}"
    return t


if __name__ == "__main__":
    main()
