/* liblockearly.c - a library whose constructor takes a mutex before the profiler's own
 * constructor runs (the loader initializes a program's libraries before the preloaded
 * one) and before any other hook: lock_early.c links it. */
#include <pthread.h>

static pthread_mutex_t early_mutex = PTHREAD_MUTEX_INITIALIZER;
static int early_acquisitions;

__attribute__((constructor)) static void take_early(void)
{
	for (int i = 0; i < 5; i++) {
		pthread_mutex_lock(&early_mutex);
		early_acquisitions++;
		pthread_mutex_unlock(&early_mutex);
	}
	if (pthread_mutex_trylock(&early_mutex) == 0) {
		early_acquisitions++;
		pthread_mutex_unlock(&early_mutex);
	}
}

/* lockearly_count() : acquisitions the constructor made (6). */
int lockearly_count(void)
{
	return early_acquisitions;
}
