"""Workload of syscall_argstr_ctl: prctl/ptrace/keyctl calls whose argstr
stap decodes (every argument fixed, so the output is exact).  The calls
may fail (EINVAL, EPERM): only their entry is traced."""
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long


def prctl(*a):
    libc.syscall(L(157), *[L(x) for x in a] + [L(0)] * (5 - len(a)))


prctl(4, 1)                    # PR_SET_DUMPABLE, 1
prctl(3)                       # PR_GET_DUMPABLE
prctl(26, 1)                   # PR_SET_TSC, PR_TSC_ENABLE
prctl(0x59616d61, -1)          # PR_SET_PTRACER, PR_SET_PTRACER_ANY
prctl(0x59616d61, 12345)
prctl(23, 21)                  # PR_CAPBSET_READ, CAP_SYS_ADMIN
prctl(28, 0x11)                # PR_SET_SECUREBITS (EPERM)
prctl(33, 1, 2)                # PR_MCE_KILL, SET, DEFAULT
prctl(33, 0)                   # PR_MCE_KILL, CLEAR
prctl(22, 7, 0x10)             # PR_SET_SECCOMP, unknown mode
prctl(35, 99, 0x1000)          # PR_SET_MM, unknown field
prctl(2, 0)                    # PR_GET_PDEATHSIG
prctl(12, 0x80)                # PR_SET_FPEXC, PR_FP_EXC_SW_ENABLE
prctl(1000, 1, 2, 3, 4)        # an option stap does not know


def ptrace(*a):
    # pid 999999 does not exist: every request fails with ESRCH
    libc.syscall(L(101), *[L(x) for x in a])


ptrace(2, 999999, 0x1000, 0x2000)            # PTRACE_PEEKDATA
ptrace(7, 999999, 0, 9)                      # PTRACE_CONT, SIGKILL
ptrace(0x4200, 999999, 0, 0x100009)          # PTRACE_SETOPTIONS
ptrace(0x4204, 999999, 1, 0)                 # PTRACE_GETREGSET, NT_PRSTATUS, NULL
ptrace(12, 999999, 0, 0x3000)                # PTRACE_GETREGS
ptrace(30, 999999, 0x4000, 0x1003)           # PTRACE_ARCH_PRCTL, ARCH_GET_FS
ptrace(25, 999999, -1, 0)                    # PTRACE_GET_THREAD_AREA
ptrace(16, 999999, 0, 0)                     # PTRACE_ATTACH
ptrace(0x1234, 999999, 1, 2)                 # a request stap does not know


def keyctl(*a):
    libc.syscall(L(250), *[L(x) for x in a] + [L(0)] * (5 - len(a)))


keyctl(0, -3, 0)                  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
keyctl(0, 12345, 0)               # a plain key id
keyctl(5, 999999, 0x3f010040)     # KEYCTL_SETPERM on a key that does not exist
keyctl(5, 999999, 0)
keyctl(14, -1)                    # KEYCTL_SET_REQKEY_KEYRING, NO_CHANGE (a query)
keyctl(6, -4, 999999)             # KEYCTL_DESCRIBE, KEY_SPEC_USER_KEYRING, buffer length 0
libc.syscall(L(300), L(0x4 | 0x1 | 0x40), L(0))   # fanotify_init (the fd closes at exit)
libc.syscall(L(301), L(-1), L(0x1 | 0x10), L(0x20 | 0x8 | 0x100), L(-100), b"/tmp")  # fanotify_mark: EBADF
libc.syscall(L(301), L(-1), L(0), L(0), L(-100), b"/tmp")


def quotactl(cmd, qid, addr):
    # on a special file that does not exist: ENOENT
    libc.syscall(L(179), L(cmd), b"/nonexistent-quota-dev", L(qid), addr)


dqblk = (ctypes.c_uint64 * 9)(1, 2, 3, 4, 5, 6, 7, 8, 9)
dqinfo = (ctypes.c_uint64 * 3)(60, 120, (3 << 32) | 1)
quotactl((0x800008 << 8) | 0, 1000, dqblk)              # Q_SETQUOTA|USRQUOTA
quotactl((0x800006 << 8) | 1, 0, dqinfo)                # Q_SETINFO|GRPQUOTA
quotactl((0x800002 << 8) | 0, 2, b"/quota.user")        # Q_QUOTAON, QFMT_VFS_V0
quotactl((0x800001 << 8) | 2, 0, None)                  # Q_SYNC|0x2


def setxattr(value, size):
    # on a path that does not exist: ENOENT
    libc.syscall(L(188), b"/nonexistent-xattr", b"user.pytap", value, L(size), L(1))


setxattr(b"hello\0", 6)                      # a C string: its NUL left out
setxattr(b"\x01a\"b\xff", 5)                 # bytes as \xHH, quotes as is
setxattr(b"x" * 60, 60)                      # at most 50 bytes

# sched_setattr of a pid that does not exist (ESRCH)
attr = (ctypes.c_uint32 * 14)(56, 0, 0, 0, 5, 0, 1, 0, 2, 0, 3, 0, 0, 0)
libc.syscall(L(314), L(999999), attr, L(0))
# adjtimex with no modes: a query
timex = (ctypes.c_int64 * 26)(0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 10)
libc.syscall(L(159), timex)


def sigqueueinfo(sig, words):
    # rt_sigqueueinfo to a pid that does not exist (ESRCH/EPERM)
    info = (ctypes.c_int32 * 32)(*words)
    libc.syscall(L(129), L(999999), L(sig), info)


sigqueueinfo(10, [10, 0, -1, 0, 123, 456])               # SIGUSR1, SI_QUEUE
sigqueueinfo(10, [10, 0, -2, 0, 0x55, 2])                # SI_TIMER
sigqueueinfo(17, [17, 0, 1, 0, 123, 456, 3])             # SIGCHLD, CLD_EXITED
sigqueueinfo(17, [17, 0, 2, 0, 123, 456, 9])             # SIGCHLD, CLD_KILLED
sigqueueinfo(11, [11, 0, 1, 0, 0x1000, 0])               # SIGSEGV, SEGV_MAPERR
sigqueueinfo(29, [29, 0, 1, 0, 7, 0])                    # SIGPOLL, POLL_IN
sigqueueinfo(10, [10, 0, 99, 0, 0, 0])                   # an unknown code
