/* lockshim.c - an independent lock-acquisition counter for the tests: a tiny LD_PRELOAD
 * library (not intercept) that wraps the pthread mutex and rwlock acquisitions with
 * dlsym(RTLD_NEXT), counts the successful ones and prints the totals to stderr at exit:
 *   lockshim: mutex N read N write N
 * test_locks.py runs a program nobody here wrote (the sqlite3 CLI) once under this shim
 * and once under intercept's counting mode, and the two totals must be equal. Written for
 * tests only: not hook-path-grade (it relies on dlsym not taking these locks). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static _Atomic unsigned long n_mutex, n_read, n_write;

#define OK(rc) ((rc) == 0 || (rc) == EOWNERDEAD)
#define WRAP(sym, counter, params, args)                                                           \
	int sym params                                                                             \
	{                                                                                          \
		static int(*real) params;                                                          \
		if (!real)                                                                         \
			real = (int(*) params)dlsym(RTLD_NEXT, #sym);                              \
		int rc = real args;                                                                \
		if (OK(rc))                                                                        \
			atomic_fetch_add(&counter, 1);                                             \
		return rc;                                                                         \
	}

WRAP(pthread_mutex_lock, n_mutex, (pthread_mutex_t * m), (m))
WRAP(pthread_mutex_trylock, n_mutex, (pthread_mutex_t * m), (m))
WRAP(pthread_mutex_timedlock, n_mutex, (pthread_mutex_t * m, const struct timespec *t), (m, t))
WRAP(pthread_rwlock_rdlock, n_read, (pthread_rwlock_t * l), (l))
WRAP(pthread_rwlock_tryrdlock, n_read, (pthread_rwlock_t * l), (l))
WRAP(pthread_rwlock_timedrdlock, n_read, (pthread_rwlock_t * l, const struct timespec *t), (l, t))
WRAP(pthread_rwlock_wrlock, n_write, (pthread_rwlock_t * l), (l))
WRAP(pthread_rwlock_trywrlock, n_write, (pthread_rwlock_t * l), (l))
WRAP(pthread_rwlock_timedwrlock, n_write, (pthread_rwlock_t * l, const struct timespec *t),
     (l, t))

__attribute__((destructor)) static void shim_report(void)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "lockshim: mutex %lu read %lu write %lu\n",
			 atomic_load(&n_mutex), atomic_load(&n_read), atomic_load(&n_write));
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
}
