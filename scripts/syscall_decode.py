"""Decoding tables for system-call arguments, and the code made from them.

Each table is data (values from the Linux x86_64 UAPI headers, names and
order as SystemTap prints them); `tapset_text()` turns them into BPF native
functions for tapsets/syscall_decoders.stp and `python_tables()` into the
module the Python twins read (pytap/runtime/natives/syscall_tables.py).

Kinds:
  flags   names of the set bits joined by "|" (an entry matches when it
          shares any bit with what is left, then its bits are cleared);
          what is left over is appended as 0x-hex; 0 prints the table's
          zero name or "0x0".
  value   the name of the value, else 0x-hex (or decimal: base 10).
"""
from __future__ import annotations

import errno as _errno
import re

O = 0  # noqa: E741 (octal helpers below read better)

OPEN_FLAGS = [(0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
              (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o4010000, "O_SYNC"),
              (0o4010000, "O_SYNC"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"),
              (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"),
              (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
              (0o2000000, "O_CLOEXEC"), (0o10000000, "O_PATH")]
AT_FLAGS = [(0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_REMOVEDIR"), (0x400, "AT_SYMLINK_FOLLOW"),
            (0x800, "AT_NO_AUTOMOUNT"), (0x1000, "AT_EMPTY_PATH")]
ACCESS_MODE = [(0, "F_OK"), (4, "R_OK"), (2, "W_OK"), (1, "X_OK")]
PROT = [(0, "PROT_NONE"), (1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (8, "PROT_SEM"),
        (0x01000000, "PROT_GROWSDOWN"), (0x02000000, "PROT_GROWSUP")]
MMAP_FLAGS = [(0x1, "MAP_SHARED"), (0x2, "MAP_PRIVATE"), (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"),
              (0x100, "MAP_GROWSDOWN"), (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"),
              (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"), (0x8000, "MAP_POPULATE"),
              (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"),
              (0x4000000, "MAP_UNINITIALIZED"), (0x40, "MAP_32BIT")]
WAIT4_OPTS = [(1, "WNOHANG"), (2, "WUNTRACED"), (4, "WEXITED"), (2, "WSTOPPED"), (8, "WCONTINUED"),
              (0x01000000, "WNOWAIT"), (0x20000000, "__WNOTHREAD"), (0x40000000, "__WALL"),
              (0x80000000, "__WCLONE")]
MSG_FLAGS = [(1, "MSG_OOB"), (2, "MSG_PEEK"), (4, "MSG_DONTROUTE"), (4, "MSG_TRYHARD"), (8, "MSG_CTRUNC"),
             (0x10, "MSG_PROBE"), (0x20, "MSG_TRUNC"), (0x40, "MSG_DONTWAIT"), (0x80, "MSG_EOR"),
             (0x100, "MSG_WAITALL"), (0x200, "MSG_FIN"), (0x400, "MSG_SYN"), (0x800, "MSG_CONFIRM"),
             (0x1000, "MSG_RST"), (0x2000, "MSG_ERRQUEUE"), (0x4000, "MSG_NOSIGNAL"), (0x8000, "MSG_MORE"),
             (0x10000, "MSG_WAITFORONE"), (0x20000, "MSG_SENDPAGE_NOTLAST"), (0x200, "MSG_EOF"),
             (0x20000000, "MSG_FASTOPEN"), (0x40000000, "MSG_CMSG_CLOEXEC")]
CLOCK_IDS = [(0, "CLOCK_REALTIME"), (1, "CLOCK_MONOTONIC"), (2, "CLOCK_PROCESS_CPUTIME_ID"),
             (3, "CLOCK_THREAD_CPUTIME_ID"), (4, "CLOCK_MONOTONIC_RAW"), (5, "CLOCK_REALTIME_COARSE"),
             (6, "CLOCK_MONOTONIC_COARSE"), (7, "CLOCK_BOOTTIME"), (8, "CLOCK_REALTIME_ALARM"),
             (9, "CLOCK_BOOTTIME_ALARM"), (10, "CLOCK_SGI_CYCLE"), (11, "CLOCK_TAI")]
SEEK_WHENCE = [(0, "SEEK_SET"), (1, "SEEK_CUR"), (2, "SEEK_END"), (3, "SEEK_DATA"), (4, "SEEK_HOLE")]
FCNTL_CMD = [(0, "F_DUPFD"), (1, "F_GETFD"), (2, "F_SETFD"), (3, "F_GETFL"), (4, "F_SETFL"), (5, "F_GETLK"),
             (6, "F_SETLK"), (7, "F_SETLKW"), (8, "F_SETOWN"), (9, "F_GETOWN"), (10, "F_SETSIG"),
             (11, "F_GETSIG"), (15, "F_SETOWN_EX"), (16, "F_GETOWN_EX"), (17, "F_GETOWNER_UIDS"),
             (1024, "F_SETLEASE"), (1025, "F_GETLEASE"), (1030, "F_DUPFD_CLOEXEC"), (1026, "F_NOTIFY"),
             (1031, "F_SETPIPE_SZ"), (1032, "F_GETPIPE_SZ")]
SIGPROCMASK_HOW = [(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")]
SOCK_FAMILY = [(v, "PF_" + n) for v, n in [
    (0, "UNSPEC"), (1, "LOCAL"), (2, "INET"), (3, "AX25"), (4, "IPX"), (5, "APPLETALK"), (6, "NETROM"),
    (7, "BRIDGE"), (8, "ATMPVC"), (9, "X25"), (10, "INET6"), (11, "ROSE"), (13, "NETBEUI"),
    (14, "SECURITY"), (15, "KEY"), (16, "NETLINK"), (17, "PACKET"), (18, "ASH"), (19, "ECONET"),
    (20, "ATMSVC"), (21, "RDS"), (22, "SNA"), (23, "IRDA"), (24, "PPPOX"), (25, "WANPIPE"), (26, "LLC"),
    (27, "IB"), (29, "CAN"), (30, "TIPC"), (31, "BLUETOOTH"), (32, "IUCV"), (33, "RXRPC"), (34, "ISDN"),
    (35, "PHONET"), (36, "IEEE802154"), (37, "CAIF"), (38, "ALG"), (39, "NFC"), (40, "VSOCK")]]
GETRANDOM_FLAGS = [(1, "GRND_NONBLOCK"), (2, "GRND_RANDOM")]
PIPE2_FLAGS = [(0o4000, "O_NONBLOCK"), (0o2000000, "O_CLOEXEC"), (0o40000, "O_DIRECT")]
TIMER_ABSTIME = [(1, "TIMER_ABSTIME")]
ITIMER_WHICH = [(0, "ITIMER_REAL"), (1, "ITIMER_VIRTUAL"), (2, "ITIMER_PROF")]
SHUTDOWN_HOW = [(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")]
MADVICE = [(v, "MADV_" + n) for v, n in [
    (0, "NORMAL"), (1, "RANDOM"), (2, "SEQUENTIAL"), (3, "WILLNEED"), (4, "DONTNEED"), (8, "FREE"),
    (9, "REMOVE"), (10, "DONTFORK"), (11, "DOFORK"), (100, "HWPOISON"), (101, "SOFT_OFFLINE"),
    (12, "MERGEABLE"), (13, "UNMERGEABLE"), (14, "HUGEPAGE"), (15, "NOHUGEPAGE"), (16, "DONTDUMP"),
    (17, "DODUMP")]]
RLIMIT_RESOURCE = [(0xffffffff, "RLIM_INFINITY")] + [(i, "RLIMIT_" + n) for i, n in enumerate(
    ["CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE", "MEMLOCK", "AS", "LOCKS",
     "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"])] + [(16, "RLIM_NLIMITS")]
RUSAGE_WHO = [(0, "RUSAGE_SELF"), (0xffffffff, "RUSAGE_CHILDREN"), (0xfffffffe, "RUSAGE_BOTH"),
              (1, "RUSAGE_THREAD")]
CLONE_FLAGS = [(v, "CLONE_" + n) for v, n in [
    (0x100, "VM"), (0x200, "FS"), (0x400, "FILES"), (0x800, "SIGHAND"), (0x2000, "PTRACE"),
    (0x4000, "VFORK"), (0x8000, "PARENT"), (0x10000, "THREAD"), (0x20000, "NEWNS"), (0x40000, "SYSVSEM"),
    (0x80000, "SETTLS"), (0x100000, "PARENT_SETTID"), (0x200000, "CHILD_CLEARTID"),
    (0x400000, "DETACHED"), (0x800000, "UNTRACED"), (0x1000000, "CHILD_SETTID"), (0x4000000, "NEWUTS"),
    (0x8000000, "NEWIPC"), (0x10000000, "NEWUSER"), (0x20000000, "NEWPID"), (0x40000000, "NEWNET"),
    (0x80000000, "IO")]]
_FUTEX = ["WAIT", "WAKE", "FD", "REQUEUE", "CMP_REQUEUE", "WAKE_OP", "LOCK_PI", "UNLOCK_PI",
          "TRYLOCK_PI", "WAIT_BITSET", "WAKE_BITSET", "WAIT_REQUEUE_PI", "CMP_REQUEUE_PI"]
FUTEX_OP = [(i, "FUTEX_" + n) for i, n in enumerate(_FUTEX)] + \
    [(i | 128, f"FUTEX_{n}_PRIVATE") for i, n in enumerate(_FUTEX) if n != "FD"]
SIG_NAMES = ["HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
             "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
             "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"]
SIGNALS = [(0, "SIG_0")] + [(i + 1, "SIG" + n) for i, n in enumerate(SIG_NAMES) if n != "STKFLT"]
SIGNALS = [(v, "SIGIO/SIGPOLL" if n == "SIGIO" else n) for v, n in SIGNALS] + [(5 | 0x80, "TRACESYSGOOD")]
# signal_str(): stap's short names, RTMIN+n above 32
SIGNAL_STR = [(i + 1, "IO/POLL" if n == "IO" else n) for i, n in enumerate(SIG_NAMES)] + [(32, "RTMIN")] + \
    [(32 + i, f"RTMIN+{i}") for i in range(1, 33)]
# stap's errlist names the aliases EDEADLK (35) and EOPNOTSUPP (95), where
# Python's errorcode has EDEADLOCK and ENOTSUP
ERRNO = [(e, {35: "EDEADLK", 95: "EOPNOTSUPP"}.get(e, _errno.errorcode[e]))
         for e in range(1, 132) if e in _errno.errorcode]

# more flag/value lists (names and order as stap's aux_syscalls lists them)
MSYNC_FLAGS = [(1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")]
MREMAP_FLAGS = [(1, "MREMAP_MAYMOVE"), (2, "MREMAP_FIXED")]
RENAMEAT2_FLAGS = [(1, "RENAME_NOREPLACE"), (2, "RENAME_EXCHANGE"), (4, "RENAME_WHITEOUT")]
SCHED_POLICY = [(0, "SCHED_OTHER"), (1, "SCHED_FIFO"), (2, "SCHED_RR"), (3, "SCHED_BATCH"),
                (5, "SCHED_IDLE"), (6, "SCHED_DEADLINE")]
PRIORITY_WHICH = [(0, "PRIO_PROCESS"), (1, "PRIO_PGRP"), (2, "PRIO_USER")]
FLOCK_CMD = [(1, "LOCK_SH"), (2, "LOCK_EX"), (4, "LOCK_NB"), (8, "LOCK_UN"), (32, "LOCK_MAND"),
             (64, "LOCK_READ"), (128, "LOCK_WRITE"), (192, "LOCK_RW")]
SOCK_FLAGS = [(0o2000000, "SOCK_CLOEXEC"), (0o4000, "SOCK_NONBLOCK")]
EPOLL_CREATE1_FLAGS = [(0o2000000, "EPOLL_CLOEXEC")]
EVENTFD2_FLAGS = [(0o4000, "EFD_NONBLOCK"), (0o2000000, "EFD_CLOEXEC"), (1, "EFD_SEMAPHORE")]
INOTIFY_INIT1_FLAGS = [(0o4000, "IN_NONBLOCK"), (0o2000000, "IN_CLOEXEC")]
SIGNALFD4_FLAGS = [(0o4000, "SFD_NONBLOCK"), (0o2000000, "SFD_CLOEXEC")]
TIMERFD_FLAGS = [(1, "TFD_TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET"), (0o2000000, "TFD_CLOEXEC"),
                 (0o4000, "TFD_NONBLOCK")]
MLOCKALL_FLAGS = [(1, "MCL_CURRENT"), (2, "MCL_FUTURE"), (4, "MCL_ONFAULT")]
UMOUNT_FLAGS = [(1, "MNT_FORCE"), (2, "MNT_DETACH"), (4, "MNT_EXPIRE"), (8, "UMOUNT_NOFOLLOW")]
FADVICE = [(0, "POSIX_FADV_NORMAL"), (1, "POSIX_FADV_RANDOM"), (2, "POSIX_FADV_SEQUENTIAL"),
           (3, "POSIX_FADV_WILLNEED"), (4, "POSIX_FADV_DONTNEED"), (5, "POSIX_FADV_NOREUSE")]
EPOLL_CTL_OP = [(1, "EPOLL_CTL_ADD"), (3, "EPOLL_CTL_MOD"), (2, "EPOLL_CTL_DEL")]
WAITID_WHICH = [(0, "P_ALL"), (1, "P_PID"), (2, "P_PGID")]
MLOCK2_FLAGS = [(1, "MLOCK_ONFAULT")]
PREADV2_FLAGS = [(1, "RWF_HIPRI")]
MFD_FLAGS = [(1, "MFD_CLOEXEC"), (2, "MFD_ALLOW_SEALING"), (0o2000000, "O_CLOEXEC")]
SYNC_FILE_RANGE_FLAGS = [(1, "SYNC_FILE_RANGE_WAIT_BEFORE"), (2, "SYNC_FILE_RANGE_WRITE"),
                         (4, "SYNC_FILE_RANGE_WAIT_AFTER")]
SPLICE_FLAGS = [(1, "SPLICE_F_MOVE"), (2, "SPLICE_F_NONBLOCK"), (4, "SPLICE_F_MORE"), (8, "SPLICE_F_GIFT")]
XATTR_FLAGS = [(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")]
STATX_SYNC = [(0x6000, "AT_STATX_SYNC_TYPE"), (0, "AT_STATX_SYNC_AS_STAT"), (0x2000, "AT_STATX_FORCE_SYNC"),
              (0x4000, "AT_STATX_DONT_SYNC")]
FACCESSAT2_FLAGS = [(0x100, "AT_SYMLINK_NOFOLLOW"), (0x200, "AT_EACCESS")]
KCMP_TYPE = [(0, "KCMP_FILE"), (1, "KCMP_VM"), (2, "KCMP_FILES"), (3, "KCMP_FS"), (4, "KCMP_SIGHAND"),
             (5, "KCMP_IO"), (6, "KCMP_SYSVSEM"), (7, "KCMP_TYPES")]
MEMBARRIER_CMD = [(0, "MEMBARRIER_CMD_QUERY"), (1, "MEMBARRIER_CMD_SHARED")]
FALLOCATE_MODE = [(1, "FALLOC_FL_KEEP_SIZE"), (2, "FALLOC_FL_PUNCH_HOLE"), (4, "FALLOC_FL_NO_HIDE_STALE"),
                  (8, "FALLOC_FL_COLLAPSE_RANGE"), (0x10, "FALLOC_FL_ZERO_RANGE")]
# _stp_open_mode_flags_list (dup3's flags): the open flags without access mode
CLOEXEC_FLAG = OPEN_FLAGS
SOCK_TYPE = [(1, "SOCK_STREAM"), (2, "SOCK_DGRAM"), (3, "SOCK_RAW"), (4, "SOCK_RDM"),
             (5, "SOCK_SEQPACKET"), (6, "SOCK_DCCP"), (10, "SOCK_PACKET")]
IPPROTO = [(0, "IPPROTO_IP"), (1, "IPPROTO_ICMP"), (2, "IPPROTO_IGMP"), (4, "IPPROTO_IPIP"),
           (6, "IPPROTO_TCP"), (8, "IPPROTO_EGP"), (12, "IPPROTO_PUP"), (17, "IPPROTO_UDP"),
           (22, "IPPROTO_IDP"), (29, "IPPROTO_TP"), (33, "IPPROTO_DCCP"), (41, "IPPROTO_IPV6"),
           (46, "IPPROTO_RSVP"), (47, "IPPROTO_GRE"), (50, "IPPROTO_ESP"), (51, "IPPROTO_AH"),
           (92, "IPPROTO_MTP"), (98, "IPPROTO_ENCAP"), (103, "IPPROTO_PIM"), (108, "IPPROTO_COMP"),
           (132, "IPPROTO_SCTP"), (136, "IPPROTO_UDPLITE"), (255, "IPPROTO_RAW")]

ARCH_PRCTL = [(0x1002, "ARCH_SET_FS"), (0x1003, "ARCH_GET_FS"), (0x1001, "ARCH_SET_GS"), (0x1004, "ARCH_GET_GS")]
SOCKOPT_LEVEL = [(0, "SOL_IP"), (1, "SOL_SOCKET"), (6, "SOL_TCP"), (17, "SOL_UDP"), (41, "SOL_IPV6"),
                 (58, "SOL_ICMPV6"), (132, "SOL_SCTP"), (136, "SOL_UDPLITE"), (255, "SOL_RAW"),
                 (256, "SOL_IPX"), (257, "SOL_AX25"), (258, "SOL_ATALK"), (259, "SOL_NETROM"),
                 (260, "SOL_ROSE")] + [(261 + i, "SOL_" + n) for i, n in enumerate(
                     ["DECNET", "X25", "PACKET", "ATM", "AAL", "IRDA", "NETBEUI", "LLC", "DCCP", "NETLINK",
                      "TIPC", "RXRPC", "PPPOL2TP", "BLUETOOTH", "PNPIPE", "RDS", "IUCV", "CAIF", "ALG", "NFC"])]
# stap looks the option name up whatever the level (SO_* names only)
SOCKOPT_OPTNAME = [(int(v), n) for n, v in (p.split(":") for p in """
SO_DEBUG:1 SO_REUSEADDR:2 SO_TYPE:3 SO_ERROR:4 SO_DONTROUTE:5 SO_BROADCAST:6 SO_SNDBUF:7 SO_RCVBUF:8
SO_SNDBUFFORCE:32 SO_RCVBUFFORCE:33 SO_KEEPALIVE:9 SO_OOBINLINE:10 SO_NO_CHECK:11 SO_PRIORITY:12
SO_LINGER:13 SO_BSDCOMPAT:14 SO_REUSEPORT:15 SO_PASSCRED:16 SO_PEERCRED:17 SO_RCVLOWAT:18 SO_SNDLOWAT:19
SO_RCVTIMEO:20 SO_SNDTIMEO:21 SO_SECURITY_AUTHENTICATION:22 SO_SECURITY_ENCRYPTION_TRANSPORT:23
SO_SECURITY_ENCRYPTION_NETWORK:24 SO_BINDTODEVICE:25 SO_ATTACH_FILTER:26 SO_DETACH_FILTER:27
SO_PEERNAME:28 SO_TIMESTAMP:29 SO_ACCEPTCONN:30 SO_PEERSEC:31 SO_PASSSEC:34 SO_TIMESTAMPNS:35 SO_MARK:36
SO_TIMESTAMPING:37 SO_PROTOCOL:38 SO_DOMAIN:39 SO_RXQ_OVFL:40 SO_WIFI_STATUS:41 SO_PEEK_OFF:42
SO_NOFCS:43 SO_LOCK_FILTER:44 SO_SELECT_ERR_QUEUE:45 SO_BUSY_POLL:46 SO_MAX_PACING_RATE:47
SO_BPF_EXTENSIONS:48 SO_INCOMING_CPU:49 SO_ATTACH_BPF:50 SO_ATTACH_REUSEPORT_CBPF:51
SO_ATTACH_REUSEPORT_EBPF:52 SO_CNX_ADVICE:53 SCM_TIMESTAMPING_OPT_STATS:54 SO_MEMINFO:55
SO_INCOMING_NAPI_ID:56 SO_COOKIE:57 SCM_TIMESTAMPING_PKTINFO:58 SO_PEERGROUPS:59 SO_ZEROCOPY:60
SO_TXTIME:61 SO_BINDTOIFINDEX:62 SO_TIMESTAMP_NEW:63 SO_TIMESTAMPNS_NEW:64 SO_TIMESTAMPING_NEW:65
SO_RCVTIMEO_NEW:66 SO_SNDTIMEO_NEW:67""".split())]
MOUNT_FLAGS = [(1 << i, "MS_" + n) for i, n in enumerate(
    ["RDONLY", "NOSUID", "NODEV", "NOEXEC", "SYNCHRONOUS", "REMOUNT", "MANDLOCK", "DIRSYNC"])] + \
    [(1024, "MS_NOATIME"), (2048, "MS_NODIRATIME"), (4096, "MS_BIND"), (8192, "MS_MOVE"), (16384, "MS_REC"),
     (32768, "MS_SILENT"), (65536, "MS_POSIXACL"), (1 << 17, "MS_UNBINDABLE"), (1 << 18, "MS_PRIVATE"),
     (1 << 19, "MS_SLAVE"), (1 << 20, "MS_SHARED"), (1 << 21, "MS_RELATIME"), (1 << 22, "MS_KERNMOUNT"),
     (1 << 23, "MS_I_VERSION"), (1 << 24, "MS_STRICTATIME")]
INOTIFY_MASK = [(1 << i, "IN_" + n) for i, n in enumerate(
    ["ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN", "MOVED_FROM", "MOVED_TO",
     "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"])] + \
    [(8192, "IN_UNMOUNT"), (16384, "IN_Q_OVERFLOW"), (32768, "IN_IGNORED"), (1 << 24, "IN_ONLYDIR"),
     (1 << 25, "IN_DONT_FOLLOW"), (1 << 26, "IN_EXCL_UNLINK"), (1 << 29, "IN_MASK_ADD"), (1 << 30, "IN_ISDIR"),
     (1 << 31, "IN_ONESHOT")]
BPF_CMD = [(i, "BPF_" + n) for i, n in enumerate(
    ["MAP_CREATE", "MAP_LOOKUP_ELEM", "MAP_UPDATE_ELEM", "MAP_DELETE_ELEM", "MAP_GET_NEXT_KEY", "PROG_LOAD"])]
SECCOMP_OP = [(0, "SECCOMP_SET_MODE_STRICT"), (1, "SECCOMP_SET_MODE_FILTER")]
SECCOMP_FLAGS = [(1, "SECCOMP_FILTER_FLAG_TSYNC")]
MEMPOLICY_FLAGS = [(1, "MPOL_F_NODE"), (2, "MPOL_F_ADDR"), (4, "MPOL_F_MEMS_ALLOWED")]
USERFAULTFD_FLAGS = [(0o4000, "O_NONBLOCK"), (0o2000000, "O_CLOEXEC")]
IOPRIO_WHO = [(1, "IOPRIO_WHO_PROCESS"), (2, "IOPRIO_WHO_PGRP"), (3, "IOPRIO_WHO_USER")]
REBOOT_MAGIC = [(0xfee1dead, "LINUX_REBOOT_MAGIC1"), (672274793, "LINUX_REBOOT_MAGIC2"),
                (85072278, "LINUX_REBOOT_MAGIC2A"), (369367448, "LINUX_REBOOT_MAGIC2B"),
                (537993216, "LINUX_REBOOT_MAGIC2C")]
REBOOT_FLAG = [(0x01234567, "LINUX_REBOOT_CMD_RESTART"), (0xCDEF0123, "LINUX_REBOOT_CMD_HALT"),
               (0x89ABCDEF, "LINUX_REBOOT_CMD_CAD_ON"), (0, "LINUX_REBOOT_CMD_CAD_OFF"),
               (0x4321FEDC, "LINUX_REBOOT_CMD_POWER_OFF"), (0xA1B2C3D4, "LINUX_REBOOT_CMD_RESTART2"),
               (0xD000FCE2, "LINUX_REBOOT_CMD_SW_SUSPEND"), (0x45584543, "LINUX_REBOOT_CMD_KEXEC")]
KEYCTL_CMD = [(i, "KEYCTL_" + n) for i, n in enumerate(
    ["GET_KEYRING_ID", "JOIN_SESSION_KEYRING", "UPDATE", "REVOKE", "CHOWN", "SETPERM", "DESCRIBE", "CLEAR",
     "LINK", "UNLINK", "SEARCH", "READ", "INSTANTIATE", "NEGATE", "SET_REQKEY_KEYRING", "SET_TIMEOUT",
     "ASSUME_AUTHORITY", "GET_SECURITY", "SESSION_TO_PARENT", "REJECT", "INSTANTIATE_IOV", "INVALIDATE",
     "GET_PERSISTENT"])]
SHMAT_FLAGS = [(4096, "SHM_RDONLY"), (8192, "SHM_RND"), (16384, "SHM_REMAP"), (32768, "SHM_EXEC")]
PKEY_INIT = [(1, "PKEY_DISABLE_ACCESS"), (2, "PKEY_DISABLE_WRITE")]

SA_FLAGS = [(1, "SA_NOCLDSTOP"), (2, "SA_NOCLDWAIT"), (0x80000000, "SA_RESETHAND"), (0x08000000, "SA_ONSTACK"),
            (0x10000000, "SA_RESTART"), (0x40000000, "SA_NODEFER"), (4, "SA_SIGINFO"), (0x04000000, "SA_RESTORER")]

FUTEX_WAKE_OPS = [(0, "FUTEX_OP_SET"), (1, "FUTEX_OP_ADD"), (2, "FUTEX_OP_OR"), (3, "FUTEX_OP_ANDN"),
                  (4, "FUTEX_OP_XOR")]
FUTEX_WAKE_CMPS = [(0, "FUTEX_OP_CMP_EQ"), (1, "FUTEX_OP_CMP_NE"), (2, "FUTEX_OP_CMP_LT"),
                   (3, "FUTEX_OP_CMP_LE"), (4, "FUTEX_OP_CMP_GT"), (5, "FUTEX_OP_CMP_GE")]

MEMPOLICY_MODE_FLAGS = [(1 << 15, "MPOL_F_STATIC_NODES"), (1 << 14, "MPOL_F_RELATIVE_NODES")]
MEMPOLICY_MODE = [(0, "MPOL_DEFAULT"), (1, "MPOL_PREFERRED"), (2, "MPOL_BIND"), (3, "MPOL_INTERLEAVE"),
                  (4, "MPOL_LOCAL")]
SWAPON_FLAGS = [(0x8000, "SWAP_FLAG_PREFER"), (0x10000, "SWAP_FLAG_DISCARD"), (0x20000, "SWAP_FLAG_DISCARD_ONCE"),
                (0x40000, "SWAP_FLAG_DISCARD_PAGES")]
SHMGET_FLAGS = [(0o1000, "IPC_CREAT"), (0o2000, "IPC_EXCL"), (0o4000, "SHM_HUGETLB"), (0o10000, "SHM_NORESERVE")]
MSGCTL_CMD = [(3, "IPC_INFO"), (2, "IPC_STAT"), (0, "IPC_RMID"), (1, "IPC_SET"), (12, "MSG_INFO"), (11, "MSG_STAT")]
SEMCTL_CMD = [(3, "IPC_INFO"), (19, "SEM_INFO"), (18, "SEM_STAT"), (13, "GETALL"), (12, "GETVAL"), (11, "GETPID"),
              (14, "GETNCNT"), (15, "GETZCNT"), (2, "IPC_STAT"), (16, "SETVAL"), (17, "SETALL"), (0, "IPC_RMID"),
              (1, "IPC_SET")]
MSGFLG = [(0o10000, "MSG_NOERROR"), (0o20000, "MSG_EXCEPT"), (0o4000, "IPC_NOWAIT")]

PERF_EVENT_OPEN_FLAGS = [(1, "PERF_FLAG_FD_NO_GROUP"), (2, "PERF_FLAG_FD_OUTPUT"), (4, "PERF_FLAG_PID_CGROUP"),
                         (8, "PERF_FLAG_FD_CLOEXEC")]
SIGALTSTACK_FLAGS = [(1, "SS_ONSTACK"), (2, "SS_DISABLE"), (1 << 31, "SS_AUTODISARM")]
IOPRIO_CLASS = [(0, "IOPRIO_CLASS_NONE"), (1, "IOPRIO_CLASS_RT"), (2, "IOPRIO_CLASS_BE"), (3, "IOPRIO_CLASS_IDLE")]

ADJTIMEX_RET = [(0, "TIME_OK"), (1, "TIME_INS"), (2, "TIME_DEL"), (3, "TIME_OOP"), (4, "TIME_WAIT"),
                (5, "TIME_ERROR")]

# prctl (stap's _prctl_argstr lists: the options stap 4.8 knows, and the
# per-option argument lists)
PRCTL_OPTION = [(v, "PR_" + n) for v, n in [
    (1, "SET_PDEATHSIG"), (2, "GET_PDEATHSIG"), (3, "GET_DUMPABLE"), (4, "SET_DUMPABLE"), (5, "GET_UNALIGN"),
    (6, "SET_UNALIGN"), (7, "GET_KEEPCAPS"), (8, "SET_KEEPCAPS"), (9, "GET_FPEMU"), (10, "SET_FPEMU"),
    (11, "GET_FPEXC"), (12, "SET_FPEXC"), (13, "GET_TIMING"), (14, "SET_TIMING"), (15, "SET_NAME"),
    (16, "GET_NAME"), (19, "GET_ENDIAN"), (20, "SET_ENDIAN"), (21, "GET_SECCOMP"), (22, "SET_SECCOMP"),
    (23, "CAPBSET_READ"), (24, "CAPBSET_DROP"), (25, "GET_TSC"), (26, "SET_TSC"), (27, "GET_SECUREBITS"),
    (28, "SET_SECUREBITS"), (29, "SET_TIMERSLACK"), (30, "GET_TIMERSLACK"), (31, "TASK_PERF_EVENTS_DISABLE"),
    (32, "TASK_PERF_EVENTS_ENABLE"), (33, "MCE_KILL"), (34, "MCE_KILL_GET"), (35, "SET_MM"),
    (0x59616d61, "SET_PTRACER"), (36, "SET_CHILD_SUBREAPER"), (37, "GET_CHILD_SUBREAPER"),
    (38, "SET_NO_NEW_PRIVS"), (39, "GET_NO_NEW_PRIVS"), (40, "GET_TID_ADDRESS"), (41, "SET_THP_DISABLE"),
    (42, "GET_THP_DISABLE"), (43, "MPX_ENABLE_MANAGEMENT"), (44, "MPX_DISABLE_MANAGEMENT")]]
PRCTL_UNALIGN = [(1, "PR_UNALIGN_NOPRINT"), (2, "PR_UNALIGN_SIGBUS")]
PRCTL_FPEMU = [(1, "PR_FPEMU_NOPRINT"), (2, "PR_FPEMU_SIGFPE")]
PRCTL_FPEXC = [(0x80, "PR_FP_EXC_SW_ENABLE"), (0x10000, "PR_FP_EXC_DIV"), (0x20000, "PR_FP_EXC_OVF"),
               (0x40000, "PR_FP_EXC_UND"), (0x80000, "PR_FP_EXC_RES"), (0x100000, "PR_FP_EXC_INV"),
               (0, "PR_FP_EXC_DISABLED"), (1, "PR_FP_EXC_NONRECOV"), (2, "PR_FP_EXC_ASYNC"),
               (3, "PR_FP_EXC_PRECISE")]
PRCTL_TIMING = [(0, "PR_TIMING_STATISTICAL"), (1, "PR_TIMING_TIMESTAMP")]
PRCTL_ENDIAN = [(0, "PR_ENDIAN_BIG"), (1, "PR_ENDIAN_LITTLE"), (2, "PR_ENDIAN_PPC_LITTLE")]
PRCTL_TSC = [(1, "PR_TSC_ENABLE"), (2, "PR_TSC_SIGSEGV")]
PRCTL_MCE_KILL = [(0, "PR_MCE_KILL_CLEAR"), (1, "PR_MCE_KILL_SET")]
PRCTL_MCE_KILL2 = [(0, "PR_MCE_KILL_LATE"), (1, "PR_MCE_KILL_EARLY"), (2, "PR_MCE_KILL_DEFAULT")]
PRCTL_MM = [(i + 1, "PR_SET_MM_" + n) for i, n in enumerate(
    ["START_CODE", "END_CODE", "START_DATA", "END_DATA", "START_STACK", "START_BRK", "BRK", "ARG_START",
     "ARG_END", "ENV_START", "ENV_END", "AUXV", "EXE_FILE", "MAP", "MAP_SIZE"])]
PRCTL_PTRACER = [(-1, "PR_SET_PTRACER_ANY")]
CAPABILITIES = [(i, "CAP_" + n) for i, n in enumerate(
    ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
     "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
     "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
     "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
     "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ"])]
SECUREBITS = [(1 << i, "SECBIT_" + n) for i, n in enumerate(
    ["NOROOT", "NOROOT_LOCKED", "NO_SETUID_FIXUP", "NO_SETUID_FIXUP_LOCKED", "KEEP_CAPS", "KEEP_CAPS_LOCKED"])]
SECCOMP_MODE = [(0, "SECCOMP_MODE_DISABLED"), (1, "SECCOMP_MODE_STRICT"), (2, "SECCOMP_MODE_FILTER")]

# ptrace (stap's generic and x86_64 request lists, PTRACE_SETOPTIONS bits,
# the ELF note types of PTRACE_GETREGSET that this kernel's headers define)
PTRACE_REQUEST = [(v, "PTRACE_" + n) for v, n in [
    (0, "TRACEME"), (1, "PEEKTEXT"), (2, "PEEKDATA"), (3, "PEEKUSR"), (4, "POKETEXT"), (5, "POKEDATA"),
    (6, "POKEUSR"), (7, "CONT"), (8, "KILL"), (9, "SINGLESTEP"), (16, "ATTACH"), (17, "DETACH"),
    (24, "SYSCALL"), (0x4200, "SETOPTIONS"), (0x4201, "GETEVENTMSG"), (0x4202, "GETSIGINFO"),
    (0x4203, "SETSIGINFO"), (0x4204, "GETREGSET"), (0x4205, "SETREGSET"), (0x4206, "SEIZE"),
    (0x4207, "INTERRUPT"), (0x4208, "LISTEN"), (0x4209, "PEEKSIGINFO"), (0x420a, "GETSIGMASK"),
    (0x420b, "SETSIGMASK")]]
PTRACE_ARCH_REQUEST = [(v, "PTRACE_" + n) for v, n in [
    (12, "GETREGS"), (13, "SETREGS"), (14, "GETFPREGS"), (15, "SETFPREGS"), (18, "GETFPXREGS"),
    (19, "SETFPXREGS"), (21, "OLDSETOPTIONS"), (25, "GET_THREAD_AREA"), (26, "SET_THREAD_AREA"),
    (30, "ARCH_PRCTL"), (31, "SYSEMU"), (32, "SYSEMU_SINGLESTEP"), (33, "SINGLEBLOCK")]]
PTRACE_OPTIONS = [(1 << 20, "PTRACE_O_EXITKILL"), (8, "PTRACE_O_TRACECLONE"), (0x10, "PTRACE_O_TRACEEXEC"),
                  (0x40, "PTRACE_O_TRACEEXIT"), (2, "PTRACE_O_TRACEFORK"), (1, "PTRACE_O_TRACESYSGOOD"),
                  (4, "PTRACE_O_TRACEVFORK"), (0x20, "PTRACE_O_TRACEVFORKDONE"), (0x80, "PTRACE_O_TRACESECCOMP")]
ELF_NOTES = [(1, "NT_PRSTATUS"), (2, "NT_PRFPREG"), (3, "NT_PRPSINFO"), (4, "NT_TASKSTRUCT"), (6, "NT_AUXV"),
             (0x53494749, "NT_SIGINFO"), (0x46494c45, "NT_FILE"), (0x46e62b7f, "NT_PRXFPREG"),
             (0x100, "NT_PPC_VMX"), (0x101, "NT_PPC_SPE"), (0x102, "NT_PPC_VSX"), (0x200, "NT_386_TLS"),
             (0x201, "NT_386_IOPERM"), (0x202, "NT_X86_XSTATE")] + \
    [(0x300 + i, "NT_S390_" + n) for i, n in enumerate(
        ["HIGH_GPRS", "TIMER", "TODCMP", "TODPREG", "CTRS", "PREFIX", "LAST_BREAK", "SYSTEM_CALL", "TDB",
         "VXRS_LOW", "VXRS_HIGH"])] + \
    [(0x400 + i, "NT_ARM_" + n) for i, n in enumerate(["VFP", "TLS", "HW_BREAK", "HW_WATCH", "SYSTEM_CALL"])]

# keyctl: the special keyring ids, request_key's default keyrings and the
# permission bits (possessor, user, group, other) in stap's order
KEYCTL_KEYRING_SHORTCUT = [(-1 - i, "KEY_SPEC_" + n) for i, n in enumerate(
    ["THREAD_KEYRING", "PROCESS_KEYRING", "SESSION_KEYRING", "USER_KEYRING", "USER_SESSION_KEYRING",
     "GROUP_KEYRING", "REQKEY_AUTH_KEY", "REQUESTOR_KEYRING"])]
KEYCTL_DEFAULT_KEYRINGS = [(i - 1, "KEY_REQKEY_DEFL_" + n) for i, n in enumerate(
    ["NO_CHANGE", "DEFAULT", "THREAD_KEYRING", "PROCESS_KEYRING", "SESSION_KEYRING", "USER_KEYRING",
     "USER_SESSION_KEYRING", "GROUP_KEYRING"])]
KEYCTL_PERM = [(v << sh, f"KEY_{who}_{n}") for who, sh in [("POS", 24), ("USR", 16), ("GRP", 8), ("OTH", 0)]
               for v, n in [(1, "VIEW"), (2, "READ"), (4, "WRITE"), (8, "SEARCH"), (0x10, "LINK"),
                            (0x20, "SETATTR"), (0x3f, "ALL")]]

# fanotify (stap's lists: the notification class is a value, the rest flags)
FANOTIFY_CLASS = [(0, "FAN_CLASS_NOTIF"), (4, "FAN_CLASS_CONTENT"), (8, "FAN_CLASS_PRE_CONTENT")]
FANOTIFY_INIT_EXTRA = [(1, "FAN_CLOEXEC"), (2, "FAN_NONBLOCK"), (0x10, "FAN_UNLIMITED_QUEUE"),
                       (0x20, "FAN_UNLIMITED_MARKS")]
FANOTIFY_MARK_FLAGS = [(1, "FAN_MARK_ADD"), (2, "FAN_MARK_REMOVE"), (0x80, "FAN_MARK_FLUSH"),
                       (4, "FAN_MARK_DONT_FOLLOW"), (8, "FAN_MARK_ONLYDIR"), (0x10, "FAN_MARK_MOUNT"),
                       (0x20, "FAN_MARK_IGNORED_MASK"), (0x40, "FAN_MARK_IGNORED_SURV_MODIFY")]
FANOTIFY_MASK = [(1, "FAN_ACCESS"), (2, "FAN_MODIFY"), (8, "FAN_CLOSE_WRITE"), (0x10, "FAN_CLOSE_NOWRITE"),
                 (0x20, "FAN_OPEN"), (0x4000, "FAN_Q_OVERFLOW"), (0x10000, "FAN_OPEN_PERM"),
                 (0x20000, "FAN_ACCESS_PERM"), (0x40000000, "FAN_ONDIR"), (0x08000000, "FAN_EVENT_ON_CHILD")]

# quotactl: the command (cmd >> 8) and quota formats
QUOTACTL_CMD = [(0x800000 + i, "Q_" + n) for i, n in enumerate(
    ["SYNC", "QUOTAON", "QUOTAOFF", "GETFMT", "GETINFO", "SETINFO", "GETQUOTA", "SETQUOTA"], 1)] + \
    [(0x5800 + i, "Q_X" + n) for i, n in enumerate(
        ["QUOTAON", "QUOTAOFF", "GETQUOTA", "SETQLIM", "GETQSTAT", "QUOTARM", "QUOTASYNC", "GETQSTATV"], 1)]
QUOTA_FORMAT = [(1, "QFMT_VFS_OLD"), (2, "QFMT_VFS_V0"), (3, "QFMT_OCFS2"), (4, "QFMT_VFS_V1")]

# adjtimex modes (stap's list)
ADJTIMEX_MODES = [(1, "ADJ_OFFSET"), (2, "ADJ_FREQUENCY"), (4, "ADJ_MAXERROR"), (8, "ADJ_ESTERROR"),
                  (0x10, "ADJ_STATUS"), (0x20, "ADJ_TIMECONST"), (0x4000, "ADJ_TICK"),
                  (0x8001, "ADJ_OFFSET_SINGLESHOT")]

# siginfo si_code: the generic codes, then each signal's own
SI_CODE = [(0, "SI_USER"), (0x80, "SI_KERNEL"), (-1, "SI_QUEUE"), (-2, "SI_TIMER"), (-3, "SI_MESGQ"),
           (-4, "SI_ASYNCIO"), (-5, "SI_SIGIO"), (-6, "SI_TKILL"), (-7, "SI_DETHREAD")]
SI_CODE_BY_SIGNAL = {
    4: ["ILL_" + n for n in ["ILLOPC", "ILLOPN", "ILLADR", "ILLTRP", "PRVOPC", "PRVREG", "COPROC", "BADSTK"]],
    8: ["FPE_" + n for n in ["INTDIV", "INTOVF", "FLTDIV", "FLTOVF", "FLTUND", "FLTRES", "FLTINV", "FLTSUB"]],
    11: ["SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR"],
    7: ["BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"],
    5: ["TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT"],
    17: ["CLD_" + n for n in ["EXITED", "KILLED", "DUMPED", "TRAPPED", "STOPPED", "CONTINUED"]],
    29: ["POLL_" + n for n in ["IN", "OUT", "MSG", "ERR", "PRI", "HUP"]],
    31: ["SYS_SECCOMP"]}
SI_CODE_SIGNAL = [((sig << 8) | (i + 1), n) for sig, names in SI_CODE_BY_SIGNAL.items()
                  for i, n in enumerate(names)]


def _syscall_names():
    out = []
    try:
        text = open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read()
    except OSError:
        return out
    for m in re.finditer(r"#define __NR_(\w+) (\d+)", text):
        out.append((int(m.group(2)), m.group(1)))
    return out


# name -> (kind, table, C expression giving the value from STAP_ARG_x, base)
DECODERS = {
    "_sc_at_flags": ("flags", AT_FLAGS, "STAP_ARG_f", 16),
    "_sc_access_mode": ("flags", ACCESS_MODE, "(u32)STAP_ARG_f", 16),
    "_sc_prot": ("flags", PROT, "STAP_ARG_f", 16),
    "_sc_mmap_flags": ("flags", MMAP_FLAGS, "STAP_ARG_f", 16),
    "_sc_wait4_opts": ("flags", WAIT4_OPTS, "(u32)STAP_ARG_f", 16),
    "_sc_msg_flags": ("flags", MSG_FLAGS, "STAP_ARG_f & ~0x80000000LL", 16),
    "_sc_open_flags_rest": ("flags", OPEN_FLAGS, "STAP_ARG_f", 16),
    "_sc_clockid": ("value", CLOCK_IDS, "(u32)STAP_ARG_f", 16),
    "_sc_seek_whence": ("value", SEEK_WHENCE, "(u32)STAP_ARG_f", 16),
    "_sc_fcntl_cmd": ("value", FCNTL_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_signal_name": ("value", SIGNALS, "(u32)STAP_ARG_f", 16),
    "_sc_clone_flag_bits": ("flags", CLONE_FLAGS, "STAP_ARG_f", 16),
    "_sc_futex_op": ("value", FUTEX_OP, "(u32)STAP_ARG_f", 16),
    "_sc_sigprocmask_how": ("value", SIGPROCMASK_HOW, "STAP_ARG_f", 16),
    "_sc_sock_family": ("value", SOCK_FAMILY, "(u32)STAP_ARG_f", 16),
    "_sc_getrandom_flags": ("flags", GETRANDOM_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_pipe2_flags": ("flags", PIPE2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_timer_abstime": ("value", TIMER_ABSTIME, "(u32)STAP_ARG_f", 16),
    "_sc_itimer_which": ("value", ITIMER_WHICH, "(u32)STAP_ARG_f", 16),
    "_sc_shutdown_how": ("value", SHUTDOWN_HOW, "(u32)STAP_ARG_f", 16),
    "_sc_madvice": ("value", MADVICE, "(u32)STAP_ARG_f", 16),
    "_sc_rlimit_resource": ("value", RLIMIT_RESOURCE, "(u32)STAP_ARG_f", 16),
    "_sc_rusage_who": ("value", RUSAGE_WHO, "(u32)STAP_ARG_f", 16),
    "_sc_msync_flags": ("flags", MSYNC_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_mremap_flags": ("flags", MREMAP_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_renameat2_flags": ("flags", RENAMEAT2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_sched_policy_value": ("value", SCHED_POLICY, "(u32)STAP_ARG_f", 16),
    "_sc_priority_which": ("value", PRIORITY_WHICH, "(u32)STAP_ARG_f", 16),
    "_sc_flock_cmd": ("flags", FLOCK_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_sock_flags_str": ("flags", SOCK_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_epoll_create1_flag_str": ("flags", EPOLL_CREATE1_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_eventfd2_flag_str": ("flags", EVENTFD2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_inotify_init1_flag_str": ("flags", INOTIFY_INIT1_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_signalfd4_flags_str": ("flags", SIGNALFD4_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_stp_timerfd_flags_str": ("flags", TIMERFD_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_mlockall_flags_str": ("flags", MLOCKALL_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_umountflags_str": ("flags", UMOUNT_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_fadvice_advice_str": ("value", FADVICE, "(u32)STAP_ARG_f", 16),
    "_sc_opoll_op_str": ("value", EPOLL_CTL_OP, "(u32)STAP_ARG_f", 16),
    "_sc_waitid_which_str": ("value", WAITID_WHICH, "(u32)STAP_ARG_f", 16),
    "_sc_stp_mlock2_str": ("flags", MLOCK2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_preadv2_flags_str": ("flags", PREADV2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_mfd_flags_str": ("flags", MFD_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_sync_file_range_flags_str": ("flags", SYNC_FILE_RANGE_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_stp_splice_flags_str": ("flags", SPLICE_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_stp_xattr_flags_str": ("flags", XATTR_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_statx_mask_str": ("value", STATX_SYNC, "(s32)STAP_ARG_f", 16),
    "_sc_faccessat2_flags_str": ("flags", FACCESSAT2_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_kcmp_type_str": ("value", KCMP_TYPE, "(u32)STAP_ARG_f", 16),
    "_sc_membarrier_cmd_str": ("value", MEMBARRIER_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_fallocate_mode": ("flags", FALLOCATE_MODE, "(u32)STAP_ARG_f", 16),
    "_sc_cloexec_flag": ("flags", CLOEXEC_FLAG, "(u32)STAP_ARG_f", 16),
    "_sc_ipproto": ("value", IPPROTO, "STAP_ARG_f", 10),
    "_sc_sigset_bits": ("sigset", [(1 << (v - 1), n) for v, n in SIGNALS if 0 < v <= 64], "(u64)STAP_ARG_f", None),
    "_sc_sock_type_name": ("value", SOCK_TYPE, "(u32)STAP_ARG_f", None),
    "_sc_stp_arch_prctl_func_str": ("value", ARCH_PRCTL, "(s32)STAP_ARG_f", 10),
    "_sc_stp_arch_prctl_name": ("value", ARCH_PRCTL, "(u32)STAP_ARG_f", 16),
    "_sc_sockopt_level_str": ("value", SOCKOPT_LEVEL, "STAP_ARG_f", 16),
    "_sc_sockopt_optname_str": ("value", SOCKOPT_OPTNAME, "STAP_ARG_f", 16),
    "_sc_mountflags_str": ("flags", MOUNT_FLAGS, "STAP_ARG_f", 16),
    "_sc_inotify_watch_mask_str": ("flags", INOTIFY_MASK, "(u32)STAP_ARG_f", 16),
    "_sc_bpf_cmd_str": ("value", BPF_CMD, "(s32)STAP_ARG_f", 16),
    "_sc_seccomp_op_str": ("value", SECCOMP_OP, "(u32)STAP_ARG_f", 16),
    "_sc_seccomp_flags_str": ("value", SECCOMP_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_mempolicy_flags_str": ("flags", MEMPOLICY_FLAGS, "STAP_ARG_f", 16),
    "_sc_userfaultfd_flags_str": ("flags", USERFAULTFD_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_stp_ioprio_which_str": ("value", IOPRIO_WHO, "(s32)STAP_ARG_f", 10),
    "_sc_reboot_magic_str": ("value", REBOOT_MAGIC, "(u32)STAP_ARG_f", 16),
    "_sc_reboot_flag_str": ("value", REBOOT_FLAG, "(u32)STAP_ARG_f", 16),
    "_sc_stp_keyctl_cmd_str": ("value", KEYCTL_CMD, "(s32)STAP_ARG_f", 10),
    "_sc_shmat_flags_str": ("flags", SHMAT_FLAGS, "STAP_ARG_f", 16),
    "_sc_pkey_alloc_init_val_str": ("flags", PKEY_INIT, "(u32)STAP_ARG_f", 16),
    "_sc_sa_flags": ("flags", SA_FLAGS, "STAP_ARG_f", 16),
    "_sc_futex_wake_op": ("value", FUTEX_WAKE_OPS, "STAP_ARG_f", 16),
    "_sc_futex_wake_cmp": ("value", FUTEX_WAKE_CMPS, "STAP_ARG_f", 16),
    "_sc_mempolicy_mode_flags": ("value", MEMPOLICY_MODE_FLAGS, "STAP_ARG_f", 16),
    "_sc_mempolicy_mode": ("value", MEMPOLICY_MODE, "(u32)STAP_ARG_f", 16),
    "_sc_swapon_flag_bits": ("flags", SWAPON_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_shmget_flag_bits": ("flags", SHMGET_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_msgctl_cmd": ("value", MSGCTL_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_semctl_cmd_value": ("value", SEMCTL_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_stp_msgflg_str": ("flags", MSGFLG, "(u32)STAP_ARG_f", 16),
    "_sc_perf_event_open_flags_str": ("flags", PERF_EVENT_OPEN_FLAGS, "STAP_ARG_f", 16),
    "_sc_sigaltstack_flags": ("value", SIGALTSTACK_FLAGS, "(s32)STAP_ARG_f", 16),
    "_sc_ioprio_class": ("value", IOPRIO_CLASS, "(u32)STAP_ARG_f", 16),
    "_sc_adjtimex_state": ("value", ADJTIMEX_RET, "(s32)STAP_ARG_f", 10),
    "_sc_prctl_option": ("value", PRCTL_OPTION, "(u32)STAP_ARG_f", 16),
    "_sc_prctl_unalign": ("value", PRCTL_UNALIGN, "STAP_ARG_f", 16),
    "_sc_prctl_fpemu": ("value", PRCTL_FPEMU, "STAP_ARG_f", 16),
    "_sc_prctl_fpexc": ("value", PRCTL_FPEXC, "STAP_ARG_f", 16),
    "_sc_prctl_timing": ("value", PRCTL_TIMING, "STAP_ARG_f", 16),
    "_sc_prctl_endian": ("value", PRCTL_ENDIAN, "STAP_ARG_f", 16),
    "_sc_prctl_tsc": ("value", PRCTL_TSC, "STAP_ARG_f", 16),
    "_sc_prctl_mce_kill": ("value", PRCTL_MCE_KILL, "STAP_ARG_f", 16),
    "_sc_prctl_mce_kill2": ("value", PRCTL_MCE_KILL2, "STAP_ARG_f", 16),
    "_sc_prctl_mm": ("value", PRCTL_MM, "STAP_ARG_f", 16),
    "_sc_prctl_ptracer": ("value", PRCTL_PTRACER, "STAP_ARG_f", 10),
    "_sc_capability": ("value", CAPABILITIES, "STAP_ARG_f", 16),
    "_sc_securebits": ("flags", SECUREBITS, "STAP_ARG_f", 16),
    "_sc_seccomp_mode": ("value", SECCOMP_MODE, "STAP_ARG_f", 16),
    "_sc_ptrace_request": ("value", PTRACE_REQUEST, "STAP_ARG_f", 16),
    "_sc_ptrace_arch_request": ("value", PTRACE_ARCH_REQUEST, "STAP_ARG_f", 16),
    "_sc_ptrace_options": ("flags", PTRACE_OPTIONS, "STAP_ARG_f", 16),
    "_sc_elf_note": ("value", ELF_NOTES, "STAP_ARG_f", 16),
    "_sc_stp_keyctl_keyring_shortcut_str": ("value", KEYCTL_KEYRING_SHORTCUT, "(s32)STAP_ARG_f", 10),
    "_sc_stp_keyctl_default_keyrings_str": ("value", KEYCTL_DEFAULT_KEYRINGS, "(s32)STAP_ARG_f", 10),
    "_sc_keyctl_perm_bits": ("flags", KEYCTL_PERM, "(u32)STAP_ARG_f", 16),
    "_sc_fanotify_class": ("value", FANOTIFY_CLASS, "(u32)STAP_ARG_f", 16),
    "_sc_fanotify_init_extra": ("flags", FANOTIFY_INIT_EXTRA, "(u32)STAP_ARG_f", 16),
    "_sc_fanotify_mark_flags_str": ("flags", FANOTIFY_MARK_FLAGS, "(u32)STAP_ARG_f", 16),
    "_sc_fanotify_mark_mask_str": ("flags", FANOTIFY_MASK, "STAP_ARG_f", 16),
    "_sc_quotactl_cmd": ("value", QUOTACTL_CMD, "(u32)STAP_ARG_f", 16),
    "_sc_quotactl_quota_type_str": ("value", QUOTA_FORMAT, "(s32)STAP_ARG_f", 16),
    "_sc_adjtimex_modes": ("flags", ADJTIMEX_MODES, "(u32)STAP_ARG_f", 16),
    "_sc_si_code": ("value", SI_CODE, "STAP_ARG_f", 16),
    "_sc_si_code_signal": ("value", SI_CODE_SIGNAL, "STAP_ARG_f", 16),
    "errno_str": ("value", ERRNO, "(STAP_ARG_f < 0 ? -STAP_ARG_f : STAP_ARG_f)", None),
    "signal_str": ("value", SIGNAL_STR, "STAP_ARG_f", None),
    "syscall_name": ("value", _syscall_names(), "STAP_ARG_f", None),
}
# the stap-visible parameter name of a public decoder
PARAM = {"errno_str": "err", "signal_str": "num", "syscall_name": "num"}


def _c_lit(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


HELPERS = r"""#ifndef PYTAP_SC_HELPERS
#define PYTAP_SC_HELPERS
/* Append a literal to the string at d (a buffer of PYTAP_MSL bytes followed
 * by slack), then launder the position: each decoder is a chain of
 * branches, and a position the verifier still knows exactly would make it
 * walk every combination of them. */
#define SC_PUT(d, pos, lit) do { \
	if ((pos) + sizeof(lit) <= PYTAP_MSL) { \
		__builtin_memcpy((d) + ((pos) & PYTAP_IDX_MASK), lit, sizeof(lit)); \
		(pos) += sizeof(lit) - 1; \
	} \
	(pos) = pytap_launder(pos) & PYTAP_IDX_MASK; } while (0)
#define SC_HEX(d, pos, v) do { \
	SC_PUT(d, pos, "0x"); \
	(pos) = pytap_fmt_num((d), (pos), (v), 16, 0, PYTAP_F_UNSIGNED); \
	(d)[(pos) & PYTAP_IDX_MASK] = 0; } while (0)
#define SC_DEC(d, pos, v) do { \
	(pos) = pytap_fmt_num((d), (pos), (v), 10, 0, 0); \
	(d)[(pos) & PYTAP_IDX_MASK] = 0; } while (0)
#endif
"""


def _c_flags(table, expr):
    lines = ["\ts64 v = " + expr + ";", "\tu32 pos = 0;", "\tSTAP_RETVALUE[0] = 0;"]
    zero = [n for v, n in table if v == 0]
    lines.append("\tif (v == 0) {")
    lines.append(f"\t\tSC_PUT(STAP_RETVALUE, pos, {_c_lit(zero[0])});" if zero
                 else "\t\tSC_HEX(STAP_RETVALUE, pos, v);")
    lines.append("\t\treturn 0;\n\t}")
    for val, name in table:
        if val == 0:
            continue
        lines.append(f"\tif (v & {val:#x}LL) {{")
        lines.append("\t\tif (pos) SC_PUT(STAP_RETVALUE, pos, \"|\");")
        lines.append(f"\t\tSC_PUT(STAP_RETVALUE, pos, {_c_lit(name)});")
        lines.append(f"\t\tv &= ~{val:#x}LL;\n\t}}")
        lines.append("\tv = pytap_launder(v);")
    lines.append("\tif (v) {\n\t\tif (pos) SC_PUT(STAP_RETVALUE, pos, \"|\");")
    lines.append("\t\tSC_HEX(STAP_RETVALUE, pos, v);\n\t}")
    return lines


def _c_sigset(table, expr):
    """stap's _stp_sigset_str: "[SIGA|SIGB]" over the members, "[EMPTY]"."""
    lines = ["\tu64 v = " + expr + ";", "\tu32 pos = 0;", "\tSTAP_RETVALUE[0] = 0;",
             "\tif (!v) {", "\t\tSC_PUT(STAP_RETVALUE, pos, \"[EMPTY]\");", "\t\treturn 0;\n\t}"]
    for val, name in table:
        lines.append(f"\tif (v & {val:#x}ULL) {{")
        lines.append("\t\tif (pos) SC_PUT(STAP_RETVALUE, pos, \"|\");")
        lines.append("\t\telse SC_PUT(STAP_RETVALUE, pos, \"[\");")
        lines.append(f"\t\tSC_PUT(STAP_RETVALUE, pos, {_c_lit(name)});\n\t}}")
    lines.append("\tif (pos) SC_PUT(STAP_RETVALUE, pos, \"]\");")
    lines.append("\telse SC_PUT(STAP_RETVALUE, pos, \"[EMPTY]\");")
    return lines


def _c_value(table, expr, base):
    lines = ["\ts64 v = " + expr + ";", "\tu32 pos = 0;", "\tSTAP_RETVALUE[0] = 0;", "\tswitch (v) {"]
    seen = set()
    for val, name in table:
        if val in seen:
            continue
        seen.add(val)
        lines.append(f"\tcase {val}: SC_PUT(STAP_RETVALUE, pos, {_c_lit(name)}); return 0;")
    lines.append("\t}")
    if base == 16:
        lines.append("\tSC_HEX(STAP_RETVALUE, pos, v);")
    elif base == 10:
        lines.append("\tSC_DEC(STAP_RETVALUE, pos, v);")
    return lines



# The C escapes stap's quoting uses (\a \b \f \n \r \t \v \" \\), one
# switch case each; an "ESCAPE_CASES" line in a C template becomes them at
# its own indentation.
_ESCAPE_CASES = [r"case '\a': e1 = 'a'; break;", r"case '\b': e1 = 'b'; break;",
                 r"case '\f': e1 = 'f'; break;", r"case '\n': e1 = 'n'; break;",
                 r"case '\r': e1 = 'r'; break;", r"case '\t': e1 = 't'; break;",
                 r"case '\v': e1 = 'v'; break;", r"""case '"': e1 = '"'; break;""",
                 r"case '\\': e1 = '\\'; break;"]


def _with_escape_cases(c_text: str) -> str:
    return re.sub(r"^(\t+)ESCAPE_CASES\n",
                  lambda m: "".join(m.group(1) + line + "\n" for line in _ESCAPE_CASES),
                  c_text, flags=re.M)

USTR_Q = r"""	/* the user string, read into the sprintf scratch (free while a
	 * function's arguments are computed), then quoted into the result */
	char *raw = E->F->fmt + 2 * PYTAP_MSL;
	char *d = STAP_RETVALUE;
	u32 pos = 0;
	d[0] = 0;
	long n = bpf_probe_read_user_str(raw, PYTAP_MSL, (void *)STAP_ARG_addr);
	if (n < 1) {
		SC_HEX(d, pos, STAP_ARG_addr);
		return 0;
	}
	d[0] = '"';
	pos = 1;
	/* stap keeps at most 125 characters inside the quotes; when more
	 * follow, it ends after 122 (never cutting an escape in two) and
	 * appends "... */
	u32 keep = 1, trunc = 0;
	for (int i = 0; i < PYTAP_MSL - 1; i++) {
		unsigned char c = raw[i];
		if (!c)
			break;
		char e1 = 0;
		u32 w = 1;
		switch (c) {
		ESCAPE_CASES
		}
		if (e1)
			w = 2;
		else if (c < 32 || c > 126)
			w = 4;
		if (pos - 1 + w > 125) {
			trunc = 1;
			break;
		}
		u32 p = pos & PYTAP_IDX_MASK;
		if (w == 1) {
			d[p] = c;
		} else if (w == 2) {
			d[p] = '\\';
			d[(p + 1) & PYTAP_IDX_MASK] = e1;
		} else {
			d[p] = '\\';
			d[(p + 1) & PYTAP_IDX_MASK] = '0' + ((c >> 6) & 3);
			d[(p + 2) & PYTAP_IDX_MASK] = '0' + ((c >> 3) & 7);
			d[(p + 3) & PYTAP_IDX_MASK] = '0' + (c & 7);
		}
		pos = pytap_launder(pos + w) & PYTAP_IDX_MASK;
		if (pos - 1 <= 122)
			keep = pos;
		keep = pytap_launder(keep) & PYTAP_IDX_MASK;
	}
	if (trunc) {
		pos = keep;
		d[pos & PYTAP_IDX_MASK] = 0;
		SC_PUT(d, pos, "\"...");
		return 0;
	}
	d[pos & PYTAP_IDX_MASK] = '"';
	d[(pos + 1) & PYTAP_IDX_MASK] = 0;
	return 0;
"""


def tapset_text() -> str:
    out = ["// GENERATED by scripts/gen_syscall_tapsets.py from scripts/syscall_decode.py.\n",
           "// Formatting for the system-call tapsets: errno_str, return_str, signal_str,\n",
           "// syscall_name and the private _sc_* decoders.  All run in BPF; each has a\n",
           "// Python twin in pytap/runtime/natives/syscalls.py.\n\n"]
    for name, (kind, table, expr, base) in DECODERS.items():
        if not table:
            continue
        param = PARAM.get(name, "f")
        body = (_c_flags(table, expr) if kind == "flags" else _c_sigset(table, expr) if kind == "sigset"
                else _c_value(table, expr, base))
        body = [l.replace("STAP_ARG_f", "STAP_ARG_" + param) for l in body]
        out.append(f"function {name}:string ({param}:long) %{{ /* bpf */ /* pure */\n")
        out.append(HELPERS)
        out.append("\n".join(body) + "\n\treturn 0;\n%}\n\n")
    # a signal set in user memory (stap's _stp_sigset_u)
    sig = [l.replace("STAP_ARG_f", "m") for l in _c_sigset(DECODERS["_sc_sigset_bits"][1], "m")]
    out.append("function _sc_stp_sigset_u:string (uaddr:long) %{ /* bpf */ /* pure */\n" + HELPERS
               + "\tu64 m = 0;\n\tSTAP_RETVALUE[0] = 0;\n"
               "\tif (!STAP_ARG_uaddr) {\n\t\t__builtin_memcpy(STAP_RETVALUE, \"NULL\", 5);\n\t\treturn 0;\n\t}\n"
               "\tif (bpf_probe_read_user(&m, 8, (void *)STAP_ARG_uaddr) < 0) {\n\t\tu32 pos = 0;\n"
               "\t\tSC_HEX(STAP_RETVALUE, pos, STAP_ARG_uaddr);\n\t\treturn 0;\n\t}\n\t{\n"
               + "\n".join(sig) + "\n\t}\n\treturn 0;\n%}\n\n")
    out.append(_with_escape_cases(STRUCTS.replace("HELPERS\n", HELPERS)))
    out.append(XATTR_VAL.replace("HELPERS\n", HELPERS))
    out.append("function _sc_ustr_q:string (addr:long) %{ /* bpf */ /* pure */\n" + HELPERS + _with_escape_cases(USTR_Q) + "%}\n\n")
    out.append(TIMES.replace("HELPERS\n", HELPERS + TIMES_MACRO))
    out.append(STAP_FUNCS)
    return "".join(out)


TIMES = r"""
// struct timespec / timeval arrays (n of 1 or 2) in user memory:
// "[sec.nsec]" per element, "NULL" for a null pointer, the address in hex
// when unreadable.  nsec_digits: 9 (timespec, with UTIME_NOW/UTIME_OMIT
// by name) or 6 (timeval).
function _sc_timespec:string (uaddr:long, n:long) %{ /* bpf */ /* pure */
HELPERS
	SC_TIMES(9)
%}

function _sc_timeval:string (uaddr:long, n:long) %{ /* bpf */ /* pure */
HELPERS
	SC_TIMES(6)
%}
"""
TIMES_MACRO = r"""#ifndef PYTAP_SC_TIMES
#define PYTAP_SC_TIMES
#define SC_TIMES(digits) \
	s64 tv[4] = {}; \
	u32 pos = 0; \
	s64 n = STAP_ARG_n; \
	STAP_RETVALUE[0] = 0; \
	if (!STAP_ARG_uaddr || n < 1 || n > 2) { \
		SC_PUT(STAP_RETVALUE, pos, "NULL"); \
		return 0; \
	} \
	if (bpf_probe_read_user(tv, n == 2 ? 32 : 16, (void *)STAP_ARG_uaddr) < 0) { \
		SC_HEX(STAP_RETVALUE, pos, STAP_ARG_uaddr); \
		return 0; \
	} \
	for (int i = 0; i < 2; i++) { \
		if (i >= n) \
			break; \
		s64 sec = tv[2 * i], frac = tv[2 * i + 1]; \
		if ((digits) == 9 && frac == (1L << 30) - 1) { \
			SC_PUT(STAP_RETVALUE, pos, "[UTIME_NOW]"); \
		} else if ((digits) == 9 && frac == (1L << 30) - 2) { \
			SC_PUT(STAP_RETVALUE, pos, "[UTIME_OMIT]"); \
		} else { \
			SC_PUT(STAP_RETVALUE, pos, "["); \
			pos = pytap_fmt_num(STAP_RETVALUE, pos, sec, 10, 0, 0); \
			STAP_RETVALUE[pos & PYTAP_IDX_MASK] = 0; \
			SC_PUT(STAP_RETVALUE, pos, "."); \
			pos = pytap_fmt_num(STAP_RETVALUE, pos, frac, 10, (digits), PYTAP_F_ZERO); \
			STAP_RETVALUE[pos & PYTAP_IDX_MASK] = 0; \
			SC_PUT(STAP_RETVALUE, pos, "]"); \
		} \
	} \
	return 0;
#endif
"""

XATTR_VAL = r"""
// An extended attribute's value as stap's _stp_xattr_val_str shows it: at
// most 50 bytes, quoted, printable ASCII as is and other bytes as \xHH, a
// final NUL after a printable byte left out; within stap's budget of
// MAXSTRINGLEN - 3 characters (here pytap's string size).  The address in
// hex for a null address, a size of 0 or unreadable memory.
function _sc_stp_xattr_val_str:string (uaddr:long, size:long) %{ /* bpf */ /* pure */
HELPERS
	/* a string literal would live in .rodata, which BCC does not load */
#define SC_XDIGIT(x) ((x) < 10 ? '0' + (x) : 'a' + (x) - 10)
	unsigned char *raw = (unsigned char *)E->F->fmt + 2 * PYTAP_MSL;
	char *d = STAP_RETVALUE;
	u32 pos = 0;
	s64 n = STAP_ARG_size;
	d[0] = 0;
	if (n < 0 || n > 50)
		n = 50;
	u32 sz = pytap_launder(n) & 63;
	if (!STAP_ARG_uaddr || n == 0 || sz == 0
	    || bpf_probe_read_user(raw, sz, (void *)STAP_ARG_uaddr) < 0) {
		SC_HEX(d, pos, STAP_ARG_uaddr);
		return 0;
	}
	s64 budget = PYTAP_MSL - 3;
	s64 i = 0;
	d[0] = '"';
	pos = 1;
	for (int k = 0; k < 50; k++) {
		if (i >= n)
			break;
		u32 c = raw[i & 63];
		if (c >= ' ' && c <= 0x7e) {
			budget--;
			d[pos & PYTAP_IDX_MASK] = c;
			pos++;
		} else {
			if (budget < 4)
				break;
			budget -= 4;
			d[pos & PYTAP_IDX_MASK] = '\\';
			d[(pos + 1) & PYTAP_IDX_MASK] = 'x';
			d[(pos + 2) & PYTAP_IDX_MASK] = SC_XDIGIT((c >> 4) & 15);
			d[(pos + 3) & PYTAP_IDX_MASK] = SC_XDIGIT(c & 15);
			pos += 4;
		}
		pos = pytap_launder(pos) & PYTAP_IDX_MASK;
		budget = pytap_launder(budget);
		if (budget == 0)
			break;
		i = pytap_launder(i + 1);
	}
	if (i > 1 && i <= 50 && raw[(i - 1) & 63] == 0 && raw[(i - 2) & 63] >= ' ' && raw[(i - 2) & 63] <= 0x7e && pos > 4)
		pos = pytap_launder(pos - 4) & PYTAP_IDX_MASK;
	d[pos & PYTAP_IDX_MASK] = '"';
	d[(pos + 1) & PYTAP_IDX_MASK] = 0;
	return 0;
%}

"""

STRUCTS = r"""
// Small structures in user memory, as stap's _struct_*_u print them: "NULL"
// for a null pointer, the address in hex when unreadable.
//   kind 1 rlimit      "[cur,max]"             (two longs, %ld)
//   kind 2 itimerspec  "[s.ns,s.ns]"           (%d.%06d of int casts)
//   kind 3 itimerval   "[s.us,s.us]"
//   kind 4 timezone    "[minuteswest, dsttime]" (two ints)
function _sc_ustruct:string (uaddr:long, kind:long) %{ /* bpf */ /* pure */
HELPERS
	s64 w[4] = {};
	u32 pos = 0;
	s64 kind = STAP_ARG_kind;
	STAP_RETVALUE[0] = 0;
	if (!STAP_ARG_uaddr) {
		SC_PUT(STAP_RETVALUE, pos, "NULL");
		return 0;
	}
	int size = kind == 1 ? 16 : kind == 4 ? 8 : 32;
	if (bpf_probe_read_user(w, size & 63, (void *)STAP_ARG_uaddr) < 0) {
		SC_HEX(STAP_RETVALUE, pos, STAP_ARG_uaddr);
		return 0;
	}
	if (kind == 4) {
		s64 a = (int)(w[0] & 0xffffffff), b = (int)(w[0] >> 32);
		w[0] = a;
		w[1] = b;
	}
	SC_PUT(STAP_RETVALUE, pos, "[");
	for (int i = 0; i < 4; i++) {
		if (i >= (kind == 2 || kind == 3 ? 4 : 2))
			break;
		s64 v = w[i];
		if (kind == 2 || kind == 3)
			v = (int)v;
		if (i) {
			if ((kind == 2 || kind == 3) && (i & 1))
				SC_PUT(STAP_RETVALUE, pos, ".");
			else if (kind == 4)
				SC_PUT(STAP_RETVALUE, pos, ", ");
			else
				SC_PUT(STAP_RETVALUE, pos, ",");
		}
		pos = pytap_fmt_num(STAP_RETVALUE, pos, v, 10, (kind == 2 || kind == 3) && (i & 1) ? 6 : 0,
				    (kind == 2 || kind == 3) && (i & 1) ? PYTAP_F_ZERO : 0);
		pos = pytap_launder(pos) & PYTAP_IDX_MASK;
		STAP_RETVALUE[pos & PYTAP_IDX_MASK] = 0;
	}
	SC_PUT(STAP_RETVALUE, pos, "]");
	return 0;
%}

// A little-endian unsigned value of size 1, 2, 4 or 8 bytes in user memory
// (0 when unreadable); ok = 1: 1 when readable, else 0.
function _sc_uload:long (addr:long, size:long, ok:long) %{ /* bpf */ /* pure */
	u64 v = 0;
	s64 n = STAP_ARG_size;
	long r = bpf_probe_read_user(&v, n == 1 ? 1 : n == 2 ? 2 : n == 4 ? 4 : 8, (void *)STAP_ARG_addr);
	if (STAP_ARG_ok)
		STAP_RETURN(r < 0 ? 0 : 1);
	STAP_RETURN(r < 0 ? 0 : v);
%}

// stap's user_buffer_quoted(addr, inlen, outlen): inlen bytes of user
// memory (NULs included), quoted and escaped as _stp_text_str does, in at
// most outlen characters ('"..."' when cut); the address in hex when
// unreadable.  (Bytes above 126 print as octal escapes: no UTF-8 decoding.)
function _sc_user_buffer_quoted:string (addr:long, inlen:long, outlen:long) %{ /* bpf */ /* pure */
HELPERS
	char *raw = E->F->fmt + 2 * PYTAP_MSL;
	char *d = STAP_RETVALUE;
	u32 pos = 0;
	s64 inl = STAP_ARG_inlen, budget = STAP_ARG_outlen;
	d[0] = 0;
	if (budget <= 0)
		return 0;
	if (inl <= 0 || inl > PYTAP_MSL - 1)
		inl = PYTAP_MSL - 1;
	if (budget > PYTAP_MSL - 1)
		budget = PYTAP_MSL - 1;
	u32 sz = inl;
	if (bpf_probe_read_user(raw, sz & PYTAP_IDX_MASK, (void *)STAP_ARG_addr) < 0) {
		SC_HEX(d, pos, STAP_ARG_addr);
		return 0;
	}
	budget = (budget < 5 ? 5 : budget) - 2;
	d[0] = '"';
	pos = 1;
	s64 left = inl, esc = -1, esc_len = 0;
	u32 c = 0;
	for (int i = 0; i < PYTAP_MSL - 1; i++) {
		if (left <= 0)
			break;
		c = (unsigned char)raw[i & PYTAP_IDX_MASK];
		if (budget <= 0)
			break;
		left--;
		char e1 = 0;
		s64 num = 1;
		if (c < 32 || c > 126 || c == '"' || c == '\\') {
			switch (c) {
			ESCAPE_CASES
			}
			num = e1 ? 2 : 4;
			if (esc < 0 && budget - 3 < num) {
				esc = pos;
				esc_len = num;
			}
		}
		if (budget < num)
			break;
		u32 p = pos & PYTAP_IDX_MASK;
		u32 w = num;
		if (num == 1) {
			d[p] = c;
		} else if (num == 2) {
			d[p] = '\\';
			d[(p + 1) & PYTAP_IDX_MASK] = e1;
		} else if (c == 0) {
			/* stap writes "\0" for a NUL but counts it as 4 */
			d[p] = '\\';
			d[(p + 1) & PYTAP_IDX_MASK] = '0';
			w = 2;
		} else {
			d[p] = '\\';
			d[(p + 1) & PYTAP_IDX_MASK] = '0' + ((c >> 6) & 3);
			d[(p + 2) & PYTAP_IDX_MASK] = '0' + ((c >> 3) & 7);
			d[(p + 3) & PYTAP_IDX_MASK] = '0' + (c & 7);
		}
		pos = pytap_launder(pos + w) & PYTAP_IDX_MASK;
		/* laundered: the verifier would otherwise follow each value */
		budget = pytap_launder(budget - num);
		left = pytap_launder(left);
		esc = pytap_launder(esc);
		esc_len = pytap_launder(esc_len);
	}
	if (c && left > 0) {
		s64 t = (s64)pos - 3 + budget;
		if (esc >= 0 && esc < t && t < esc + esc_len)
			t = esc;
		if (t < 1)
			t = 1;
		pos = pytap_launder(t) & PYTAP_IDX_MASK;
		d[pos] = 0;
		SC_PUT(d, pos, "\"...");
		return 0;
	}
	d[pos & PYTAP_IDX_MASK] = '"';
	d[(pos + 1) & PYTAP_IDX_MASK] = 0;
	return 0;
%}

// one of a pipe's two descriptors (stap's _fildes_index_u); 0 when unreadable
function _sc_fildes_index_u:long (uaddr:long, index:long) %{ /* bpf */ /* pure */
	int fd[2] = {};
	if (!STAP_ARG_uaddr || (STAP_ARG_index != 0 && STAP_ARG_index != 1) ||
	    bpf_probe_read_user(fd, 8, (void *)STAP_ARG_uaddr) < 0)
		STAP_RETURN(0);
	STAP_RETURN(STAP_ARG_index ? fd[1] : fd[0]);
%}

"""

STAP_FUNCS = r"""// A user string without quoting; "" when it cannot be read.
function _sc_ustr:string (addr:long) %{ /* bpf */ /* pure */
	if (bpf_probe_read_user_str(STAP_RETVALUE, STAP_RETSIZE, (void *)STAP_ARG_addr) < 0)
		STAP_RETVALUE[0] = 0;
	return 0;
%}

// The O_ACCMODE part by name, then the other flags.
function _sc_open_flags:string (f:long) {
	acc = f & 3
	s = acc == 1 ? "O_WRONLY" : acc == 2 ? "O_RDWR" : "O_RDONLY"
	rest = f & ~3 & 0xffffffff
	if (rest)
		return s . "|" . _sc_open_flags_rest(rest)
	return s
}

// clone flags, then the exit signal in the low byte by name
function _sc_clone_flags:string (f:long) {
	s = _sc_clone_flag_bits(f & ~0xff)
	if (f & 0xff)
		s = s . "|" . _sc_signal_name(f & 0xff)
	return s
}

// a socket type, then SOCK_CLOEXEC / SOCK_NONBLOCK, then what is left in hex
function _sc_sock_type:string (type:long) {
	type = type & 0xffffffff
	t = type & 0xf
	rest = type & ~0xf
	s = _sc_sock_type_name(t)
	if (s != "")
		t = 0
	if (rest & 0x80000) {
		s = s != "" ? s . "|SOCK_CLOEXEC" : "SOCK_CLOEXEC"
		rest = rest & ~0x80000
	}
	if (rest & 0x800) {
		s = s != "" ? s . "|SOCK_NONBLOCK" : "SOCK_NONBLOCK"
		rest = rest & ~0x800
	}
	t = t | rest
	if (t != 0 || s == "")
		s = s != "" ? s . sprintf("|0x%x", t) : sprintf("0x%x", t)
	return s
}

// IPPROTO_* names for the inet families only
function _sc_sock_protocol_str:string (family:long, protocol:long) {
	if (family == 2 || family == 10)
		return _sc_ipproto(protocol)
	return sprintf("%d", protocol)
}

// SCHED_RESET_ON_FORK by name, then the policy
function _sc_sched_policy:string (policy:long) {
	if (_sc_s32(policy) > 0 && (policy & 0x40000000))
		return "SCHED_RESET_ON_FORK|" . _sc_sched_policy_value(policy & ~0x40000000)
	return _sc_sched_policy_value(policy)
}

// mknod's file type by name, then the permission bits in octal
function _sc_mknod_mode:string (mode:long) {
	type = mode & 0170000
	mode = mode & ~0170000
	if (type == 0100000)
		return sprintf("S_IFREG|%#o", mode)
	if (type == 0020000)
		return sprintf("S_IFCHR|%#o", mode)
	if (type == 0060000)
		return sprintf("S_IFBLK|%#o", mode)
	if (type == 0010000)
		return sprintf("S_IFIFO|%#o", mode)
	if (type == 0140000)
		return sprintf("S_IFSOCK|%#o", mode)
	return sprintf("%#o", type | mode)
}

// a signal mask held in a long (stap's _stp_sigmask_str)
function _sc_stp_sigmask_str:string (mask:long) {
	return _sc_sigset_bits(mask)
}

function _sc_struct_rlimit_u:string (uaddr:long) { return _sc_ustruct(uaddr, 1) }
function _sc_struct_itimerspec_u:string (uaddr:long) { return _sc_ustruct(uaddr, 2) }
function _sc_struct_itimerval_u:string (uaddr:long) { return _sc_ustruct(uaddr, 3) }
function _sc_struct_timezone_u:string (uaddr:long) { return _sc_ustruct(uaddr, 4) }

// A sockaddr in user memory as stap's _struct_sockaddr_u_impl prints it.
// what: 1 the whole address ("{AF_INET, 127.0.0.1, 80}"), 2 the IP address,
// 4 the port, 8 the family name, 16/32 the IPv6 flow info (stap prints the
// flow info for the scope id too).
function _sc_sockaddr:string (uaddr:long, len:long, what:long) {
	if (!uaddr)
		return "NULL"
	len = len < 0 ? 0 : len > 128 ? 128 : len
	if (len && !_sc_uload(uaddr, len < 8 ? len : 8, 1))
		return "{...}"
	fam = len >= 2 ? _sc_uload(uaddr, 2, 0) : len == 1 ? _sc_uload(uaddr, 1, 0) : 0
	if (fam == 2 && len == 16) {
		a = _sc_uload(uaddr + 4, 4, 0)
		ip = sprintf("%d.%d.%d.%d", a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff, (a >> 24) & 0xff)
		p = _sc_uload(uaddr + 2, 2, 0)
		port = ((p & 0xff) << 8) | (p >> 8)
		if (what & 1)
			return sprintf("{AF_INET, %s, %d}", ip, port)
		s = ""
		if (what & 8) s = s . "AF_INET"
		if (what & 2) s = s . ip
		if (what & 4) s = s . sprint(port)
		return s
	}
	if (fam == 1 && len >= 4) {
		if (what & 1) {
			if (_sc_uload(uaddr + 2, 1, 0) == 0)
				return sprintf("{AF_UNIX, \"\\000%s\"}", substr(_sc_ustr(uaddr + 3), 0, len - 3))
			return sprintf("{AF_UNIX, \"%s\"}", substr(_sc_ustr(uaddr + 2), 0, len - 2))
		}
		return what & 8 ? "AF_UNIX" : ""
	}
	if (fam == 16 && len == 12) {
		if (what & 1)
			return sprintf("{AF_NETLINK, pid=%d, groups=%08x}", _sc_s32(_sc_uload(uaddr + 4, 4, 0)),
				       _sc_uload(uaddr + 8, 4, 0))
		return what & 8 ? "AF_NETLINK" : ""
	}
	if (fam == 10 && len == 28) {
		ip = ""
		for (i = 0; i < 8; i++) {
			g = _sc_uload(uaddr + 8 + 2 * i, 2, 0)
			ip = ip . (i ? ":" : "") . sprintf("%04x", ((g & 0xff) << 8) | (g >> 8))
		}
		p = _sc_uload(uaddr + 2, 2, 0)
		port = ((p & 0xff) << 8) | (p >> 8)
		if (what & 1)
			return sprintf("{AF_INET6, %s, %d}", ip, port)
		s = ""
		if (what & 8) s = s . "AF_INET6"
		if (what & 2) s = s . ip
		if (what & 4) s = s . sprint(port)
		if (what & 48) s = s . sprint(_sc_s32(_sc_uload(uaddr + 4, 4, 0)))
		return s
	}
	if (fam == 17 && len == 20) {
		if (what & 1)
			return sprintf("{AF_PACKET, proto=%d, ind=%d, hatype=%d, pkttype=%d, halen=%d, addr=0x%x}",
				       _sc_uload(uaddr + 2, 2, 0), _sc_s32(_sc_uload(uaddr + 4, 4, 0)),
				       _sc_uload(uaddr + 8, 2, 0), _sc_uload(uaddr + 10, 1, 0),
				       _sc_uload(uaddr + 11, 1, 0), _sc_uload(uaddr + 12, 8, 0))
		return what & 8 ? "AF_PACKET" : ""
	}
	if (len >= 2)
		return sprintf("{unknown sockaddr with sa=%d, salen=%d}", fam, len)
	return sprintf("{unknown sockaddr with salen=%d}", len)
}

function _sc_struct_sockaddr_u:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 1) }
function _sc_struct_sockaddr_u_ip_addr:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 2) }
function _sc_struct_sockaddr_u_tcp_port:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 4) }
function _sc_struct_sockaddr_u_sa_family:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 8) }
function _sc_struct_sockaddr_u_ipv6_flowinfo:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 16) }
function _sc_struct_sockaddr_u_ipv6_scope_id:string (uaddr:long, len:long) { return _sc_sockaddr(uaddr, len, 32) }

// A struct sigaction in user memory (the kernel's layout: handler, flags,
// restorer, mask), as stap's _struct_sigaction_u prints it.
function _sc_struct_sigaction_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 24, 8, 1))
		return sprintf("0x%x", uaddr)
	h = _sc_uload(uaddr, 8, 0)
	if (h == 0)
		return "SIG_DFL"
	if (h == 1)
		return "SIG_IGN"
	return sprintf("0x%x, %s, 0x%x, %s", h, _sc_sa_flags(_sc_uload(uaddr + 8, 8, 0)),
		       _sc_uload(uaddr + 16, 8, 0), _sc_sigset_bits(_sc_uload(uaddr + 24, 8, 0)))
}

// FUTEX_WAKE_OP's encoded operation: "{[FUTEX_OP_OPARG_SHIFT|]OP, oparg, CMP, cmparg}"
function _sc_futex_wake_op_str:string (encoded:long) {
	e = encoded & 0xffffffff
	oparg = (e >> 12) & 0xfff
	if (oparg & 0x800)
		oparg = oparg - 0x1000
	cmparg = e & 0xfff
	if (cmparg & 0x800)
		cmparg = cmparg - 0x1000
	return sprintf("{%s%s, %d, %s, %d}", e & 0x80000000 ? "FUTEX_OP_OPARG_SHIFT|" : "",
		       _sc_futex_wake_op((e >> 28) & 7), oparg, _sc_futex_wake_cmp((e >> 24) & 15), cmparg)
}

// set_mempolicy/mbind modes: the mode flags (looked up as one value), then the mode
function _sc_mempolicy_mode_str:string (mode:long) {
	mode = mode & 0xffffffff
	if (mode != 0xffffffff && (mode & 0xe000))
		return _sc_mempolicy_mode_flags(mode & 0xe000) . "|" . _sc_mempolicy_mode(mode & ~0xe000)
	return _sc_mempolicy_mode(mode)
}

// swapon flags, then the priority when SWAP_FLAG_PREFER is set
function _sc_swapon_flags_str:string (flags:long) {
	flags = flags & 0xffffffff
	s = _sc_swapon_flag_bits(flags & ~0x7fff)
	if (flags & 0x8000)
		s = s . sprintf("|%d", flags & 0x7fff)
	return s
}

// shmget flags, then the mode bits in octal
function _sc_stp_shmget_flags_str:string (shmflg:long) {
	shmflg = shmflg & 0xffffffff
	mode = shmflg & 0777
	s = _sc_shmget_flag_bits(shmflg & ~0777)
	if (mode)
		return s != "" ? s . sprintf("|%#o", mode) : sprintf("%#o", mode)
	return s
}

function _sc_stp_msgctl_cmd_str:string (cmd:long) {
	cmd = cmd & 0xffffffff
	if (cmd & 0x100)
		return "IPC_64|" . _sc_msgctl_cmd(cmd & ~0x100)
	return _sc_msgctl_cmd(cmd)
}

function _sc_semctl_cmd:string (cmd:long) {
	cmd = cmd & 0xffffffff
	if (cmd & 0x100)
		return "IPC_64|" . _sc_semctl_cmd_value(cmd & ~0x100)
	return _sc_semctl_cmd_value(cmd)
}

// msgget/semget flags: IPC_CREAT, IPC_EXCL, the rest in hex, the mode in octal
function _sc_sem_flags:string (semflg:long) {
	mode = semflg & 0777
	semflg = semflg & ~0777
	s = ""
	if (semflg & 01000) {
		s = "IPC_CREAT"
		semflg = semflg & ~01000
	}
	if (semflg & 02000) {
		s = s != "" ? s . "|IPC_EXCL" : "IPC_EXCL"
		semflg = semflg & ~02000
	}
	if (semflg)
		s = s != "" ? s . sprintf("|0x%x", semflg) : sprintf("0x%x", semflg)
	if (mode)
		s = s != "" ? s . sprintf("|%#o", mode) : sprintf("%#o", mode)
	return s
}

function _sc_stp_msgget_key_str:string (key:long) {
	if (key == 0)
		return "IPC_PRIVATE"
	return sprintf("%d", key)
}

function _sc_struct_utimbuf_actime:long (uaddr:long) { return uaddr ? _sc_uload(uaddr, 8, 0) : 0 }
function _sc_struct_utimbuf_modtime:long (uaddr:long) { return uaddr ? _sc_uload(uaddr + 8, 8, 0) : 0 }

function _sc_struct_tms_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr + 24, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{tms_utime=%u, tms_stime=%u, tms_cutime=%u, tms_cstime=%u}", _sc_uload(uaddr, 8, 0),
		       _sc_uload(uaddr + 8, 8, 0), _sc_uload(uaddr + 16, 8, 0), _sc_uload(uaddr + 24, 8, 0))
}

function _sc_struct_sysinfo_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr + 80, 2, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{uptime=%d, loads=[%u, %u, %u], totalram=%u, freeram=%u, ", _sc_uload(uaddr, 8, 0),
		       _sc_uload(uaddr + 8, 8, 0), _sc_uload(uaddr + 16, 8, 0), _sc_uload(uaddr + 24, 8, 0),
		       _sc_uload(uaddr + 32, 8, 0), _sc_uload(uaddr + 40, 8, 0))
	       . sprintf("sharedram=%u, bufferram=%u, totalswap=%u, freeswap=%u, procs=%u}",
		       _sc_uload(uaddr + 48, 8, 0), _sc_uload(uaddr + 56, 8, 0), _sc_uload(uaddr + 64, 8, 0),
		       _sc_uload(uaddr + 72, 8, 0), _sc_uload(uaddr + 80, 2, 0))
}

// a stack_t in user memory (the address in hex when null or unreadable)
function _sc_stp_sigaltstack_u:string (uaddr:long) {
	if (!uaddr || !_sc_uload(uaddr + 16, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{ss_sp=0x%x, ss_flags=%s, ss_size=%u}", _sc_uload(uaddr, 8, 0),
		       _sc_sigaltstack_flags(_sc_uload(uaddr + 8, 4, 0)), _sc_uload(uaddr + 16, 8, 0))
}

// an I/O priority: its class by name, then its data
function _sc_stp_ioprio_value_str:string (value:long) {
	return sprintf("%s|%d", _sc_ioprio_class((value & 0xffffffff) >> 13), value & 0x1fff)
}

// adjtimex's return: "N (TIME_STATE)" (a failure prints its number twice, as stap)
function _sc_adjtimex_return_str:string (ret:long) {
	return sprintf("%d (%s)", _sc_s32(ret), _sc_adjtimex_state(ret))
}

// quotactl's command without its quota type (QCMD(cmd, type) >> SUBCMDSHIFT)
function _sc_quotactl_subcmd:long (cmd:long) {
	return (cmd & 0xffffffff) >> 8
}

function _sc_dfd_str:string (d:long) {
	if (d == -100)
		return "AT_FDCWD"
	return sprint(d)
}

function _sc_s32:long (v:long) { return (v << 32) >> 32 }
function _sc_u32:long (v:long) { return v & 0xffffffff }
function _sc_s16:long (v:long) { return (v << 48) >> 48 }
function _sc_u16:long (v:long) { return v & 0xffff }

// prctl: the option by name, then its arguments as stap's _prctl_argstr
// shows each option's (none, a named value, hex, unsigned decimal, or all
// four in hex for an option stap 4.8 does not know)
function _sc_prctl_argstr:string (option:long, arg2:long, arg3:long, arg4:long, arg5:long) {
	o = option & 0xffffffff
	s = _sc_prctl_option(o)
	if (o == 3 || o == 13 || o == 7 || o == 21 || o == 31 || o == 32 || o == 30 || o == 34
	    || o == 39 || o == 42 || o == 43 || o == 44 || o == 27)
		return s
	if (o == 6)
		return s . ", " . _sc_prctl_unalign(arg2)
	if (o == 10)
		return s . ", " . _sc_prctl_fpemu(arg2)
	if (o == 12)
		return s . ", " . _sc_prctl_fpexc(arg2)
	if (o == 14)
		return s . ", " . _sc_prctl_timing(arg2)
	if (o == 20)
		return s . ", " . _sc_prctl_endian(arg2)
	if (o == 26)
		return s . ", " . _sc_prctl_tsc(arg2)
	if (o == 0x59616d61)
		return s . ", " . _sc_prctl_ptracer(arg2)
	if (o == 23 || o == 24)
		return s . ", " . _sc_capability(arg2)
	if (o == 28)
		return s . ", " . _sc_securebits(arg2)
	if (o == 1 || o == 2 || o == 5 || o == 9 || o == 11 || o == 15 || o == 16 || o == 19
	    || o == 25 || o == 40 || o == 37 || o == 41)
		return s . sprintf(", 0x%x", arg2)
	if (o == 4 || o == 8 || o == 36 || o == 38 || o == 29)
		return s . sprintf(", %u", arg2)
	if (o == 33) {
		s = s . ", " . _sc_prctl_mce_kill(arg2)
		if (arg2 == 1)
			return s . ", " . _sc_prctl_mce_kill2(arg3)
		if (arg2 == 0)
			return s
		return s . sprintf(", 0x%x", arg3)
	}
	if (o == 22)
		return s . ", " . _sc_seccomp_mode(arg2) . sprintf(", 0x%x", arg3)
	if (o == 35)
		return s . ", " . _sc_prctl_mm(arg2) . sprintf(", 0x%x", arg3)
	return s . sprintf(", 0x%x, 0x%x, 0x%x, 0x%x", arg2, arg3, arg4, arg5)
}

// struct iovec in user memory as stap prints it: "[{base, len}]"
function _sc_struct_iovec_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 8, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("[{0x%x, %u}]", _sc_uload(uaddr, 8, 0), _sc_uload(uaddr + 8, 8, 0))
}

// ptrace: the request by name and the other arguments as stap's
// _ptrace_argstr (x86_64's requests first) shows them for that request
function _sc_ptrace_argstr:string (request:long, pid:long, addr:long, data:long) {
	r = request
	if (r == 12 || r == 13 || r == 14 || r == 15 || r == 18 || r == 19)
		return sprintf("%s, %d, 0x%x, 0x%x", _sc_ptrace_arch_request(r), pid, addr, data)
	if (r == 31 || r == 32 || r == 33)
		return sprintf("%s, %d, 0x%x, %s", _sc_ptrace_arch_request(r), pid, addr, _sc_signal_name(data))
	if (r == 21)
		return sprintf("PTRACE_OLDSETOPTIONS, %d, 0x%x, %s", pid, addr, _sc_ptrace_options(data))
	if (r == 25 || r == 26)
		return sprintf("%s, %d, %d, 0x%x", _sc_ptrace_arch_request(r), pid, _sc_s32(addr), data)
	if (r == 30)
		return sprintf("PTRACE_ARCH_PRCTL, %d, 0x%x, %s", pid, addr, _sc_stp_arch_prctl_name(data))
	if (r == 1 || r == 2 || r == 3)
		return sprintf("%s, %d, 0x%x, [0x%x]", _sc_ptrace_request(r), pid, addr, data)
	if (r == 7 || r == 24 || r == 9 || r == 17)
		return sprintf("%s, %d, 0x%x, %s", _sc_ptrace_request(r), pid, addr, _sc_signal_name(data))
	if (r == 0x4204 || r == 0x4205)
		return sprintf("%s, %d, %s, %s", _sc_ptrace_request(r), pid, _sc_elf_note(addr),
			       _sc_struct_iovec_u(data))
	if (r == 0x4200)
		return sprintf("PTRACE_SETOPTIONS, %d, 0x%x, %s", pid, addr, _sc_ptrace_options(data))
	return sprintf("%s, %d, 0x%x, 0x%x", _sc_ptrace_request(r), pid, addr, data)
}

// keyctl permissions: the named bits, what is left in decimal, "0" for none
function _sc_stp_keyctl_perm_str:string (mask:long) {
	m = mask & 0xffffffff
	rest = m & ~0x3f3f3f3f
	if (!(m & 0x3f3f3f3f))
		return sprintf("%d", rest)
	s = _sc_keyctl_perm_bits(m & 0x3f3f3f3f)
	return rest ? s . sprintf("|%d", rest) : s
}

// fanotify_init flags: the notification class, then the other flags
function _sc_fanotify_init_flags_str:string (flags:long) {
	f = flags & 0xffffffff
	s = _sc_fanotify_class(f & 0xc)
	if (f & ~0xc)
		s = s . "|" . _sc_fanotify_init_extra(f & ~0xc)
	return s
}

// quotactl's cmd: the command, then the quota type
function _sc_quotactl_cmd_str:string (cmd:long) {
	c = cmd & 0xffffffff
	t = c & 0xff
	return _sc_quotactl_cmd(c >> 8) . (t == 0 ? "|USRQUOTA" : t == 1 ? "|GRPQUOTA" : sprintf("|0x%x", t))
}

// struct if_dqblk (72 bytes): its first five limits and usages
function _sc_struct_dqblk_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 64, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{dqb_bhardlimit=%u, dqb_bsoftlimit=%u, dqb_curspace=%u, dqb_ihardlimit=%u, dqb_isoftlimit=%u, ...}",
		       _sc_uload(uaddr, 8, 0), _sc_uload(uaddr + 8, 8, 0), _sc_uload(uaddr + 16, 8, 0),
		       _sc_uload(uaddr + 24, 8, 0), _sc_uload(uaddr + 32, 8, 0))
}

// struct if_dqinfo (24 bytes)
function _sc_struct_dqinfo_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 16, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{dqi_bgrace=%u, dqi_igrace=%u, dqi_flags=%d, dqi_valid=%d}",
		       _sc_uload(uaddr, 8, 0), _sc_uload(uaddr + 8, 8, 0),
		       _sc_s32(_sc_uload(uaddr + 16, 4, 0)), _sc_s32(_sc_uload(uaddr + 20, 4, 0)))
}

// struct sched_attr (56 bytes on this kernel's layout)
function _sc_struct_sched_attr_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 48, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{size=%u, sched_policy=%u, sched_flags=%u, sched_nice=%d, sched_priority=%u, sched_runtime=%u, sched_deadline=%u, sched_period=%u}",
		       _sc_uload(uaddr, 4, 0), _sc_uload(uaddr + 4, 4, 0), _sc_uload(uaddr + 8, 8, 0),
		       _sc_s32(_sc_uload(uaddr + 16, 4, 0)), _sc_uload(uaddr + 20, 4, 0),
		       _sc_uload(uaddr + 24, 8, 0), _sc_uload(uaddr + 32, 8, 0), _sc_uload(uaddr + 40, 8, 0))
}

// struct timex (208 bytes): the modes, then the fields stap shows
function _sc_struct_timex_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 200, 8, 1))
		return sprintf("0x%x", uaddr)
	return sprintf("{%s, constant=%u, esterror=%u, freq=%u, maxerror=%u, offset=%u, precision=%u, status=%d, tick=%u, tolerance=%u}",
		       _sc_adjtimex_modes(_sc_uload(uaddr, 4, 0)), _sc_uload(uaddr + 48, 8, 0),
		       _sc_uload(uaddr + 32, 8, 0), _sc_uload(uaddr + 16, 8, 0), _sc_uload(uaddr + 24, 8, 0),
		       _sc_uload(uaddr + 8, 8, 0), _sc_uload(uaddr + 56, 8, 0), _sc_s32(_sc_uload(uaddr + 40, 4, 0)),
		       _sc_uload(uaddr + 88, 8, 0), _sc_uload(uaddr + 64, 8, 0))
}

// siginfo_t (128 bytes; the union at offset 16) as stap's _stp_siginfo_u:
// the signal, si_code (generic name, else the signal's own, else hex),
// then the fields that signal and code carry
function _sc_stp_siginfo_u:string (uaddr:long) {
	if (!uaddr)
		return "NULL"
	if (!_sc_uload(uaddr, 8, 1) || !_sc_uload(uaddr + 120, 8, 1))
		return sprintf("0x%x", uaddr)
	signo = _sc_s32(_sc_uload(uaddr, 4, 0))
	code = _sc_s32(_sc_uload(uaddr + 8, 4, 0))
	cs = _sc_si_code(code)
	if (substr(cs, 0, 1) == "0" && (signo == 4 || signo == 8 || signo == 11 || signo == 7 || signo == 5
	    || signo == 17 || signo == 29 || signo == 31))
		cs = code > 0 && code < 256 ? _sc_si_code_signal((signo << 8) | code) : sprintf("0x%x", code)
	if (substr(cs, 0, 1) == "0")
		cs = sprintf("0x%x", code)
	s = "{si_signo=" . _sc_signal_name(signo) . ", si_code=" . cs
	pid = _sc_s32(_sc_uload(uaddr + 16, 4, 0))
	uid = _sc_uload(uaddr + 20, 4, 0)
	if (code <= 0) {
		if (code == -2)
			s = s . sprintf(", si_tid=0x%x, si_overrun=%d", pid & 0xffffffff, _sc_s32(uid))
		else
			s = s . sprintf(", si_pid=%u, si_uid=%u", pid, uid)
	} else if (signo == 17) {
		st = _sc_s32(_sc_uload(uaddr + 24, 4, 0))
		s = s . sprintf(", si_pid=%u, si_uid=%u, si_status=%s", pid, uid,
				code == 1 ? sprintf("%d", st) : _sc_signal_name(st))
	} else if (signo == 4 || signo == 8 || signo == 11 || signo == 7) {
		s = s . sprintf(", si_addr=0x%x", _sc_uload(uaddr + 16, 8, 0))
	} else if (signo == 29) {
		if (code == 1 || code == 2 || code == 3)
			s = s . sprintf(", si_band=%d", _sc_uload(uaddr + 16, 8, 0))
	} else if (signo == 31) {
		s = s . sprintf(", si_call_addr=0x%x, si_syscall=%d, si_arch=%u", _sc_uload(uaddr + 16, 8, 0),
				_sc_s32(_sc_uload(uaddr + 24, 4, 0)), _sc_uload(uaddr + 28, 4, 0))
	} else if (pid || uid) {
		s = s . sprintf(", si_pid=%u, si_uid=%u", pid, uid)
	}
	return s . "}"
}

// The number of an errno name for errno_str (stap's errno_p).
function _sc_errno_p:long (err:long) {
	e = err < 0 ? -err : err
	return e > 0 && e < 132 && errno_str(e) != "" ? e : 0
}

// errno_p: the errno number when err (or -err) has a name, else 0
function errno_p:long (err:long) { return _sc_errno_p(err) }

/**
 * sfunction returnstr - the probed function's return value as text
 * @format: 1 decimal, 2 hex, 3 octal
 * For return probes on functions (returnval(): the return register),
 * formatted as return_str does.
 */
function returnstr:string (format:long) {
	return return_str(format, returnval())
}

/**
 * sfunction return_str - a system call's return value as text
 * @format: 1 decimal, 2 hex, 3 octal
 * @ret: the value; a negative errno prints as "-2 (ENOENT)"
 */
function return_str:string (format:long, ret:long) {
	if (ret < 0 && _sc_errno_p(ret))
		return sprintf("%d (%s)", ret, errno_str(ret))
	if (format == 2)
		return sprintf("0x%x", ret)
	if (format == 3)
		return sprintf("%#o", ret)
	return sprintf("%d", ret)
}
"""


def python_tables() -> str:
    lines = ['"""GENERATED by scripts/gen_syscall_tapsets.py (scripts/syscall_decode.py):',
             'the decoding tables the Python twins of the syscall decoders use."""', "",
             "# name -> (kind, [(value, name)], mask, base)"]
    lines.append("DECODERS = {")
    for name, (kind, table, expr, base) in DECODERS.items():
        mask = None
        if expr.startswith("(u32)"):
            mask = 0xffffffff
        elif "~0x80000000" in expr:
            mask = ~0x80000000
        elif expr.startswith("(s32)"):
            mask = "s32"       # the low 32 bits, sign-extended
        absval = "-STAP_ARG_f" in expr
        lines.append(f"    {name!r}: ({kind!r}, {table!r}, {mask!r}, {base!r}, {absval!r}),")
    lines.append("}")
    return "\n".join(lines) + "\n"
