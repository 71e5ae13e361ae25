/* thread_exit.c - exit() called from a worker thread while other threads still allocate,
 * and threads that come and go: the process must end normally with a complete trace. The
 * main thread's own leaks (main_leak) are exact; the churners' are whatever they did. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "truth.h"

__attribute__((noinline)) static void main_leak(void)
{
	for (int i = 0; i < 12; i++) {
		void *p = malloc(48);
		keep(p);
		truth_alloc("main_leak", 48);
		truth_leak("main_leak", 48);
	}
}

static void *churn(void *arg)
{
	(void)arg;
	for (;;) {
		void *p = malloc(32);
		keep(p);
		free(p);
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	for (int i = 0; i < 100; i++) {
		void *p = malloc(16 + (size_t)(uintptr_t)arg);
		keep(p);
		free(p);
	}
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	usleep(100000);
	truth_print(stdout, NULL);
	exit(0);
}

int main(void)
{
	main_leak();
	pthread_t t;
	for (int i = 0; i < 3; i++)
		pthread_create(&t, NULL, churn, NULL);
	for (int i = 0; i < 50; i++) { /* threads that exit while others run */
		pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)i);
		pthread_join(t, NULL);
	}
	pthread_create(&t, NULL, exiter, NULL);
	pause();
	return 1;
}
