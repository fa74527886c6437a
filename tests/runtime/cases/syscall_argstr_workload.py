# Workload for the syscall_argstr runtime case: system calls whose
# arguments stap decodes (socket types, sockaddrs, flags, signal sets,
# structures in user memory), with values the case recognises.
import fcntl
import mmap
import os
import resource
import select
import signal
import socket

s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, socket.IPPROTO_UDP)
s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.connect(("127.0.0.1", 7))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.connect(("::1", 5353))
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for path in ("/nonexistent/pytap.sock", "\0pytap-abstract"):
    try:
        u.connect(path)
    except OSError:
        pass
fd = os.open("/tmp", os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
fcntl.flock(fd, fcntl.LOCK_UN)
os.posix_fadvise(fd, 0, 4097, os.POSIX_FADV_DONTNEED)
os.dup2(fd, 97, inheritable=False)
os.getpriority(os.PRIO_PGRP, 0)
resource.prlimit(0, resource.RLIMIT_CORE, (0, resource.RLIM_INFINITY))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2, signal.SIGTERM])
signal.pthread_sigmask(signal.SIG_SETMASK, [])
signal.setitimer(signal.ITIMER_VIRTUAL, 7.5, 0.25)
signal.setitimer(signal.ITIMER_VIRTUAL, 0, 0)
os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
ep = select.epoll()
r, w = os.pipe()
ep.register(r, select.EPOLLIN)
ep.unregister(r)
m = mmap.mmap(-1, 3 * 4096)
m.flush()
m.resize(5 * 4096)
os.sched_setscheduler(0, os.SCHED_BATCH | os.SCHED_RESET_ON_FORK, os.sched_param(0))
os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
try:
    os.mkfifo("/nonexistent/pytap-fifo", 0o640)
except OSError:
    pass
pid = os.fork()
if pid == 0:
    os._exit(3)
os.waitid(os.P_PID, pid, os.WEXITED)
n = os.dup2(os.open("/dev/null", os.O_WRONLY), 50)   # a descriptor number that never varies
os.write(n, b"hello\n")
os.write(n, b"tab\there \"q\" back\\slash \x01\x00z" + b"x" * 60)
os.write(n, b"a" * 45 + b"\n\n\n\n")
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
