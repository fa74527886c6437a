# Workload for the syscall_* runtime cases: a few system calls with
# arguments the cases recognise (odd sizes, a tab in a file name).
import mmap
import os
import signal
import time

m = mmap.mmap(-1, 11 * 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m.close()
os.kill(os.getpid(), 0)
signal.signal(signal.SIGUSR1, lambda *a: None)
os.kill(os.getpid(), signal.SIGUSR1)
time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID)
try:
    os.open("/nonexistent\tfile\n", os.O_RDONLY)
except OSError:
    pass
