/* N getppid() system calls paced at RATE calls per second (0: as fast as
 * possible), for the output-throughput benchmark: a tracer prints one line
 * per call and must print all N.  Prints the rate it achieved.
 * Usage: getppid_rate N RATE
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	double rate = argc > 2 ? atof(argv[2]) : 0;
	volatile long sink = 0;
	double start = now();

	for (long i = 0; i < n; i++) {
		/* every 64 calls, wait until the schedule allows the next ones */
		if (rate > 0 && (i & 63) == 0)
			while (now() - start < i / rate)
				;
		sink += syscall(SYS_getppid);
	}
	double took = now() - start;
	fprintf(stderr, "%ld calls in %.3f s: %.0f calls/s\n", n, took, n / took);
	return 0;
}
