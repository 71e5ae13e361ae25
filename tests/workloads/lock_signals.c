/* lock_signals.c - locks taken by signal handlers while the profiler is busy:
 * THREADS threads each take a mutex ITER times around a malloc/free (so that
 * the profiler's hooks are often running), and a rwlock now and then, while an
 * ITIMER_PROF signal every 200 us of CPU time runs a handler that trylocks a
 * mutex of its own (a handler may interrupt a hook, a stack walk, or a lock
 * hook). The threads go on, ITER iterations at a time, until the handler has
 * taken its mutex MIN_HITS times (the timer's resolution is the scheduler tick,
 * so a short run might see none). Counts every acquisition it makes, handler
 * included, and prints them as ground truth: {"sites": {},
 * "total_acquisitions": N, ...}. Usage: lock_signals [THREADS [ITER]]. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

static pthread_mutex_t work_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t handler_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic unsigned long handler_hits, acquisitions;
static int iters = 100000;
#define MIN_HITS 20
#define MAX_ROUNDS 200
static void *volatile sink;

static void on_prof(int sig)
{
	(void)sig;
	if (pthread_mutex_trylock(&handler_mutex) == 0) {
		atomic_fetch_add_explicit(&handler_hits, 1, memory_order_relaxed);
		pthread_mutex_unlock(&handler_mutex);
	}
}

static void *worker(void *arg)
{
	unsigned long n = 0;
	for (int round = 0; round < MAX_ROUNDS; round++) {
		if (round && atomic_load(&handler_hits) >= MIN_HITS)
			break;
		for (int i = 0; i < iters; i++) {
			pthread_mutex_lock(&work_mutex);
			sink = malloc(32 + (size_t)(i % 64));
			free(sink);
			pthread_mutex_unlock(&work_mutex);
			n++;
			if (i % 7 == 0) {
				pthread_rwlock_rdlock(&table);
				pthread_rwlock_unlock(&table);
				n++;
			}
			if (i % 11 == 0) {
				pthread_rwlock_wrlock(&table);
				pthread_rwlock_unlock(&table);
				n++;
			}
		}
	}
	atomic_fetch_add(&acquisitions, n);
	return arg;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 3;
	if (argc > 2)
		iters = atoi(argv[2]);
	if (threads < 1 || threads > 64 || iters < 1)
		return 2;
	struct sigaction sa = {.sa_handler = on_prof, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval it = {{0, 200}, {0, 200}};
	setitimer(ITIMER_PROF, &it, NULL);
	pthread_t th[64];
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &off, NULL);
	unsigned long hits = atomic_load(&handler_hits);
	printf("{\"sites\": {}, \"handler_acquisitions\": %lu, "
	       "\"total_acquisitions\": %lu}\n",
	       hits, atomic_load(&acquisitions) + hits);
	return 0;
}
