/* storm.c - a multithreaded allocation storm with exact totals: THREADS threads, each
 * ITER iterations of malloc/calloc/realloc at known sizes, most freed at once, some kept
 * in a ring and freed later, and exactly KEEP blocks per thread leaked at the end.
 * Usage: storm [THREADS [ITER]]. Prints its ground truth (truth.h). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "truth.h"

#define RING 256
#define KEEP 7

static int iters = 50000;
static pthread_mutex_t truth_lock = PTHREAD_MUTEX_INITIALIZER;

struct counts {
	uint64_t m, mb, c, cb, r, rb, k, kb;
};

__attribute__((noinline)) static void *storm_malloc(size_t n)
{
	void *p = malloc(n);
	keep(p);
	return p;
}

__attribute__((noinline)) static void *storm_calloc(size_t n)
{
	void *p = calloc(1, n);
	keep(p);
	return p;
}

__attribute__((noinline)) static void *storm_realloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	keep(q);
	return q;
}

/* Its body differs from storm_malloc's on purpose: identical functions are folded into
 * one by the compiler (-fipa-icf), and the stack could not tell them apart. */
__attribute__((noinline)) static void *storm_keep(size_t n)
{
	char *p = malloc(n);
	if (p)
		p[0] = 1;
	keep(p);
	return p;
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;
	struct counts c = {0};
	void *ring[RING] = {0};
	for (int i = 0; i < iters; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 16 + (seed >> 8) % 4080;
		void *p;
		switch ((seed >> 4) % 3) {
		case 0:
			p = storm_malloc(n);
			c.m++;
			c.mb += n;
			break;
		case 1:
			p = storm_calloc(n);
			c.c++;
			c.cb += n;
			break;
		default:
			p = storm_malloc(n / 2 + 1);
			c.m++;
			c.mb += n / 2 + 1;
			p = storm_realloc(p, n);
			c.r++;
			c.rb += n;
			break;
		}
		if (i % 8 == 0) { /* keep some for a while */
			free(ring[i / 8 % RING]);
			ring[i / 8 % RING] = p;
		} else {
			free(p);
		}
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	for (int i = 0; i < KEEP; i++) {
		size_t n = 100 + (size_t)i;
		storm_keep(n);
		c.k++;
		c.kb += n;
	}
	pthread_mutex_lock(&truth_lock);
	struct truth_site *s = truth_get("storm_malloc");
	s->allocations += c.m;
	s->bytes += c.mb;
	s = truth_get("storm_calloc");
	s->allocations += c.c;
	s->bytes += c.cb;
	s = truth_get("storm_realloc");
	s->allocations += c.r;
	s->bytes += c.rb;
	s = truth_get("storm_keep");
	s->allocations += c.k;
	s->bytes += c.kb;
	s->leaked_allocations += c.k;
	s->leaked_bytes += c.kb;
	pthread_mutex_unlock(&truth_lock);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 4;
	if (argc > 2)
		iters = atoi(argv[2]);
	if (threads < 1 || threads > 256 || iters < 1)
		return 2;
	pthread_t th[256];
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	truth_get("storm_malloc");
	char extra[64];
	snprintf(extra, sizeof(extra), ", \"threads\": %d", threads);
	truth_print(stdout, extra);
	return 0;
}
