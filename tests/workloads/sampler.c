/* sampler.c - a known mix of allocation sizes for the sampling test (INTERCEPT_SAMPLE):
 * two threads, each making half of: small_site() 200,000 x 32 B freed at once; mid_site()
 * 20,000 x 1000 B, every tenth one leaked; big_site() 200 x 256 KiB freed. Prints its
 * ground truth (truth.h) and, per site, how many allocations of each size it made and
 * leaked, from which the test computes the standard error of the sampling estimates. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#include "truth.h"

#define SMALL_N 200000
#define MID_N	20000
#define BIG_N	200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static void *small_site(void)
{
	void *p = malloc(32);
	keep(p);
	return p;
}

__attribute__((noinline)) static void *mid_site(void)
{
	char *p = malloc(1000);
	if (p)
		p[0] = 2;
	keep(p);
	return p;
}

__attribute__((noinline)) static void *big_site(void)
{
	char *p = malloc(256 << 10);
	if (p)
		p[1] = 3;
	keep(p);
	return p;
}

static void *worker(void *arg)
{
	(void)arg;
	uint64_t mid_leaked = 0;
	for (int i = 0; i < SMALL_N / 2; i++) {
		free(small_site());
		if (i % 10 == 0) {
			void *p = mid_site();
			if ((i / 10) % 10 == 0)
				mid_leaked++;
			else
				free(p);
		}
		if (i % 1000 == 0)
			free(big_site());
	}
	pthread_mutex_lock(&lock);
	struct truth_site *s = truth_get("small_site");
	s->allocations += SMALL_N / 2;
	s->bytes += (uint64_t)SMALL_N / 2 * 32;
	s = truth_get("mid_site");
	s->allocations += MID_N / 2;
	s->bytes += (uint64_t)MID_N / 2 * 1000;
	s->leaked_allocations += mid_leaked;
	s->leaked_bytes += mid_leaked * 1000;
	s = truth_get("big_site");
	s->allocations += BIG_N / 2;
	s->bytes += (uint64_t)BIG_N / 2 * (256 << 10);
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	char extra[256];
	snprintf(extra, sizeof(extra),
		 ", \"sizes\": {\"small_site\": [32, %d, 0], \"mid_site\": [1000, %d, %llu], "
		 "\"big_site\": [262144, %d, 0]}",
		 SMALL_N, MID_N, (unsigned long long)truth_get("mid_site")->leaked_allocations,
		 BIG_N);
	truth_print(stdout, extra);
	return 0;
}
