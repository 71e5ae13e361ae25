/* lock_pair.c - the lock hook's uncontended-path benchmark (tools/bench/locks.sh runs it
 * with and without the preload): nanoseconds per lock/unlock pair of a pthread mutex, and
 * per rdlock/unlock and wrlock/unlock pair of a rwlock, on one thread, so no acquisition is
 * ever contended. Prints one line per kind: "KIND NS_PER_PAIR".
 * Usage: lock_pair [PAIRS] (default 20,000,000 per kind). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* noinline, and the calls go through the PLT, as in any program: what the preload
 * interposes. */
__attribute__((noinline)) static double bench_mutex(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&mutex);
		pthread_mutex_unlock(&mutex);
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double bench_rdlock(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pthread_rwlock_rdlock(&rwlock);
		pthread_rwlock_unlock(&rwlock);
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double bench_wrlock(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pthread_rwlock_wrlock(&rwlock);
		pthread_rwlock_unlock(&rwlock);
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000000L;
	if (n < 1)
		return 2;
	bench_mutex(n / 10); /* warm up: resolution, page faults, frequency */
	printf("mutex %.2f\n", bench_mutex(n));
	printf("rdlock %.2f\n", bench_rdlock(n));
	printf("wrlock %.2f\n", bench_wrlock(n));
	return 0;
}
