"""@const("NAME"): the value of a kernel constant.

stap pastes the text into its C module, where the kernel headers define
it.  pytap needs the number itself (a begin probe runs in user space, and
a BPF handler should not depend on which headers BCC happens to include),
so it is looked up, in order:
  1. an enumerator of this kernel's BTF (TASK_COMM_LEN, PIDTYPE_TGID, …),
     exact for the running kernel;
  2. a macro of the installed kernel headers: the text is run through the
     C preprocessor with the headers scripts usually mean (sched, signal,
     fs, mm, syscall numbers, fcntl, socket, errno…) and the expansion, an
     integer C expression, is evaluated here.
Anything else (a non-integer expansion, a name no header defines) is a
clear error rather than a guess.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from typing import Dict, Optional

HEADERS = ("linux/sched.h", "linux/signal.h", "linux/fs.h", "linux/mm.h", "linux/errno.h",
           "linux/fcntl.h", "linux/socket.h", "linux/net.h", "linux/in.h", "linux/time.h",
           "linux/mman.h", "linux/wait.h", "linux/ptrace.h", "linux/stat.h", "linux/kdev_t.h",
           "asm/unistd.h", "linux/personality.h", "linux/resource.h")

_cache: Dict[str, Optional[int]] = {}


class ConstError(Exception):
    pass


def value(text: str) -> int:
    """The integer value of @const(text); ConstError says why not."""
    key = text.strip()
    if key not in _cache:
        _cache[key] = _lookup(key)
    v = _cache[key]
    if v is None:
        raise ConstError(f"@const(\"{key}\") is not an integer constant of this kernel "
                         "(no BTF enumerator of that name, and the kernel headers do not "
                         "define it as an integer expression)")
    return v


def _lookup(text: str) -> Optional[int]:
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        from .btf_offsets import kernel_types
        bt = kernel_types()
        if bt is not None:
            v = bt.enum_value(text)
            if v is not None:
                return v
    try:
        return eval_c_int(text)
    except ConstError:
        pass
    expansion = _preprocess(text)
    if expansion is None:
        return None
    try:
        return eval_c_int(expansion)
    except ConstError:
        return None


def _include_dirs():
    from .. import platform as pplat
    try:
        build = pplat.ensure_kernel_headers()
    except Exception:
        return None
    source = os.path.join(os.path.dirname(build), "source")
    source = source if os.path.isdir(source) else build
    dirs = []
    for base in (source, build):
        dirs += [f"{base}/arch/x86/include", f"{base}/arch/x86/include/generated",
                 f"{base}/include", f"{base}/arch/x86/include/uapi",
                 f"{base}/arch/x86/include/generated/uapi", f"{base}/include/uapi",
                 f"{base}/include/generated/uapi"]
    kconfig = next((f"{b}/include/linux/kconfig.h" for b in (source, build)
                    if os.path.exists(f"{b}/include/linux/kconfig.h")), None)
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)], kconfig


def _preprocess(text: str) -> Optional[str]:
    got = _include_dirs()
    if got is None:
        return None
    dirs, kconfig = got
    src = "".join(f"#include <{h}>\n" for h in HEADERS) + f"__pytap_const__ = {text}\n;\n"
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(src)
        path = f.name
    cmd = ["cpp", "-P", "-nostdinc", "-D__KERNEL__", "-w"]
    for d in dirs:
        cmd += ["-I", d]
    if kconfig:
        cmd += ["-include", kconfig]
    try:
        gcc_inc = subprocess.run(["gcc", "-print-file-name=include"], capture_output=True,
                                 text=True, timeout=30).stdout.strip()
        if gcc_inc:
            cmd += ["-isystem", gcc_inc]
        r = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        os.unlink(path)
    m = re.search(r"__pytap_const__ = (.*?)\n;", r.stdout, re.S)
    return m.group(1).strip() if m else None


_CAST = re.compile(r"\(\s*(?:(?:const|volatile|signed|unsigned|long|int|short|char|__force|"
                   r"__u8|__u16|__u32|__u64|__s8|__s16|__s32|__s64|u8|u16|u32|u64|s8|s16|s32|s64|"
                   r"size_t|ssize_t|loff_t|pid_t|uid_t|gid_t|umode_t|fmode_t|gfp_t|__kernel_\w+)"
                   r"\s*)+\)")
_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)|\s*(<<|>>|&&|\|\||==|!=|<=|>="
                    r"|[-+*/%&|^~!()<>])")


def eval_c_int(text: str) -> int:
    """Evaluate an integer C constant expression (literals, casts to
    integer types, the usual operators), as 64-bit signed."""
    t = _CAST.sub(" ", text)
    out = []
    pos = 0
    t = t.strip()
    while pos < len(t):
        m = _TOKEN.match(t, pos)
        if m is None or m.end() == pos:
            raise ConstError(f"not an integer expression: {text}")
        pos = m.end()
        if m.group(1):
            lit = m.group(1)
            if lit.startswith(("0x", "0X")):
                out.append(str(int(lit, 16)))
            elif len(lit) > 1 and lit.startswith("0"):
                out.append(str(int(lit, 8)))
            else:
                out.append(lit)
        else:
            op = m.group(3)
            out.append({"&&": " and ", "||": " or ", "!": " not ", "/": "//"}.get(op, op))
        while pos < len(t) and t[pos].isspace():
            pos += 1
    if not out:
        raise ConstError(f"not an integer expression: {text}")
    try:
        v = int(eval("".join(out), {"__builtins__": {}}, {}))     # only digits and operators
    except Exception:
        raise ConstError(f"not an integer expression: {text}")
    return ((v + (1 << 63)) % (1 << 64)) - (1 << 63)
