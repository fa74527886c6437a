/* N getppid() system calls in a tight loop; prints nanoseconds per call.
 * The per-syscall cost of a tracer attached to raw_syscalls:sys_enter is the
 * difference between a run with the tracer and one without.
 * Usage: getppid_loop [N]   (default 1000000)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a, b;
	volatile long sink = 0;

	if (n <= 0)
		n = 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		sink += syscall(SYS_getppid);	/* raw syscall: never cached by libc */
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("%.1f ns/call (%ld calls)\n", ns / n, n);
	return 0;
}
