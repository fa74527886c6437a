"""What must hold before pass 4/5 can load BPF: root, the BCC Python
bindings, and kernel headers for BCC's clang.  Each failure is one clear
paragraph naming the fix, raised as PassFailed (exit 1), never a traceback.
"""
from __future__ import annotations

import os
import platform as _platform

from ..diagnostics import PassFailed, StapError


def _fail(paragraph: str, pass_no: int) -> PassFailed:
    footer = ("Pass 4: compilation failed.  [man error::pass4]" if pass_no == 4
              else "Pass 5: run failed.  [man error::pass5]")
    return PassFailed(f"pytap: {paragraph}\n{footer}")


def check_root(pass_no: int = 5) -> None:
    if os.geteuid() != 0:
        raise _fail(
            "loading BPF programs needs root privileges (CAP_BPF, CAP_PERFMON and "
            "CAP_SYS_ADMIN): run pytap as root, e.g. `sudo pytap ...`.  Passes 1-3 "
            "(-p1, -p2, -p3) work without root.", pass_no)


_BCC = None


def import_bcc():
    """`bcc.BPF`, imported once (the import itself costs ~0.3 s)."""
    global _BCC
    if _BCC is None:
        try:
            from bcc import BPF  # noqa: WPS433 (lazy on purpose: start-up time)
        except ImportError as e:
            raise _fail(
                f"the BCC Python bindings are not importable ({e}): install them "
                "(Debian/Ubuntu: `apt-get install python3-bpfcc bpfcc-tools`; Fedora: "
                "`dnf install python3-bcc`), and if pytap runs from a virtualenv, create it "
                "with --system-site-packages so `import bcc` works.", 5) from None
        _fix_bcc_argtypes()
        _BCC = BPF
    return _BCC


def _fix_bcc_argtypes() -> None:
    """BCC 0.26's libbcc.py declares bpf_attach_perf_event's prototype as
    `.argtype` (sic), so ctypes passes Python ints as C int: a sample period
    of 2^31 ns (timer.s(3)) or more reaches the kernel truncated and
    perf_event_open fails with EINVAL.  Declare the real prototype."""
    try:
        import ctypes as ct
        from bcc.libbcc import lib
        f = lib.bpf_attach_perf_event
        if getattr(f, "argtypes", None) is None:
            f.argtypes = [ct.c_int, ct.c_uint, ct.c_uint, ct.c_ulonglong, ct.c_ulonglong,
                          ct.c_int, ct.c_int, ct.c_int]
        g = lib.bpf_close_perf_event_fd
        if getattr(g, "argtypes", None) is None:
            g.argtypes = [ct.c_int]
    except Exception:
        pass


def check_headers(pass_no: int = 5) -> None:
    """BCC's clang needs the running kernel's headers at
    /lib/modules/$(uname -r)/build.  pytap.platform links Debian's
    linux-headers-*-amd64 there when it can."""
    try:
        from ..platform import ensure_kernel_headers
    except ImportError:
        ensure_kernel_headers = None
    if ensure_kernel_headers is not None:
        try:
            ensure_kernel_headers()
            return
        except StapError as e:
            raise _fail(str(e).strip().removeprefix("pytap: "), pass_no) from None
        except PassFailed:
            raise
        except Exception as e:  # the helper's own failure must not be a traceback
            raise _fail(f"cannot prepare kernel headers: {e}", pass_no) from None
    release = _platform.release()
    build = f"/lib/modules/{release}/build"
    if not os.path.exists(os.path.join(build, "include")):
        raise _fail(
            f"kernel headers for {release} are missing ({build} does not exist): BCC "
            "compiles BPF programs against them.  Install the headers package for the "
            f"running kernel (Debian: `apt-get install linux-headers-{release}`, or "
            "linux-headers-amd64), or link an installed /usr/src/linux-headers-* "
            f"directory to {build}.", pass_no)


def check_can_load(opts, pass_no: int = None) -> None:
    """All checks, cheapest first."""
    n = pass_no if pass_no is not None else (4 if getattr(opts, "last_pass", 5) == 4 else 5)
    check_root(n)
    import_bcc()
    check_headers(n)
