/* lock_pair.c - the lock hook's uncontended-path benchmark (tools/bench/locks.sh runs it
 * with and without the preload): nanoseconds per lock/unlock pair of a pthread mutex, and
 * per rdlock/unlock and wrlock/unlock pair of a rwlock, on one thread, so that no
 * acquisition is ever contended.
 *
 * Each kind is measured two ways in alternating blocks within one run: "plt" calls
 * pthread_mutex_lock & co. as any program does (through the PLT: the preload's hook when
 * it is loaded), "libc" calls libc's own functions through pointers taken from the libc
 * handle (never the hook). The difference of their medians is what the hook adds, measured
 * in one process, so the machine's drift cancels; without the preload it shows the floor of
 * the method (about 0). Each way's figure is the fastest of BLOCKS blocks: on a shared
 * machine other processes only ever add time, so the minimum is the stable estimate of
 * the cost itself (the median is printed too). Prints per kind:
 *   KIND PLT_MIN_NS LIBC_MIN_NS PLT_MEDIAN_NS LIBC_MEDIAN_NS
 * Usage: lock_pair [PAIRS] (default 20,000,000 per kind and way). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BLOCKS 51

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;

static int (*libc_mutex_lock)(pthread_mutex_t *), (*libc_mutex_unlock)(pthread_mutex_t *);
static int (*libc_rdlock)(pthread_rwlock_t *), (*libc_wrlock)(pthread_rwlock_t *),
	(*libc_rw_unlock)(pthread_rwlock_t *);

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define LOOP(name, lock_call, unlock_call)                                                         \
	__attribute__((noinline)) static double name(long n)                                       \
	{                                                                                          \
		double t0 = now_ns();                                                              \
		for (long i = 0; i < n; i++) {                                                     \
			lock_call;                                                                 \
			unlock_call;                                                               \
		}                                                                                  \
		return (now_ns() - t0) / (double)n;                                                \
	}

LOOP(mutex_plt, pthread_mutex_lock(&mutex), pthread_mutex_unlock(&mutex))
LOOP(mutex_libc, libc_mutex_lock(&mutex), libc_mutex_unlock(&mutex))
LOOP(rdlock_plt, pthread_rwlock_rdlock(&rwlock), pthread_rwlock_unlock(&rwlock))
LOOP(rdlock_libc, libc_rdlock(&rwlock), libc_rw_unlock(&rwlock))
LOOP(wrlock_plt, pthread_rwlock_wrlock(&rwlock), pthread_rwlock_unlock(&rwlock))
LOOP(wrlock_libc, libc_wrlock(&rwlock), libc_rw_unlock(&rwlock))

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void measure(const char *kind, double (*plt)(long), double (*libc)(long), long n)
{
	double a[BLOCKS], b[BLOCKS];
	long per = n / BLOCKS > 0 ? n / BLOCKS : 1;
	plt(per / 4); /* warm up: resolution, page faults, frequency */
	libc(per / 4);
	for (int i = 0; i < BLOCKS; i++) {
		a[i] = plt(per);
		b[i] = libc(per);
	}
	qsort(a, BLOCKS, sizeof(double), cmp_dbl);
	qsort(b, BLOCKS, sizeof(double), cmp_dbl);
	printf("%s %.2f %.2f %.2f %.2f\n", kind, a[0], b[0], a[BLOCKS / 2], b[BLOCKS / 2]);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000000L;
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (n < 1 || !libc)
		return 2;
	libc_mutex_lock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_lock");
	libc_mutex_unlock = (int (*)(pthread_mutex_t *))dlsym(libc, "pthread_mutex_unlock");
	libc_rdlock = (int (*)(pthread_rwlock_t *))dlsym(libc, "pthread_rwlock_rdlock");
	libc_wrlock = (int (*)(pthread_rwlock_t *))dlsym(libc, "pthread_rwlock_wrlock");
	libc_rw_unlock = (int (*)(pthread_rwlock_t *))dlsym(libc, "pthread_rwlock_unlock");
	if (!libc_mutex_lock || !libc_mutex_unlock || !libc_rdlock || !libc_wrlock ||
	    !libc_rw_unlock)
		return 2;
	measure("mutex", mutex_plt, mutex_libc, n);
	measure("rdlock", rdlock_plt, rdlock_libc, n);
	measure("wrlock", wrlock_plt, wrlock_libc, n);
	return 0;
}
