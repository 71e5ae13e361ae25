/* endurance.c - a service in miniature for the endurance tests (docs/endurance.md): for
 * SECONDS it
 *   - leaks from leak_site() at exactly LEAK bytes per second (one LEAK/100-byte block
 *     every 10 ms, paced by the absolute clock, so a late thread catches up);
 *   - keeps a cache of CACHE_N entries in cache_site(): filled at start, then one entry
 *     replaced every millisecond (sizes vary; the total stays level: a plateau);
 *   - churns from churn_site(): CHURN malloc/free pairs a second in bursts, a few kept in a
 *     small ring (high allocation rate, nothing held).
 * At the end the cache and the ring are freed, the leaked blocks are not. Prints its ground
 * truth (truth.h) with the leak rate.
 * Usage: endurance SECONDS [LEAK_BYTES_PER_S [CHURN_PER_S]] (defaults 10 100000 200000). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "truth.h"

#define CACHE_N 2000
#define RING	64

static double seconds = 10;
static uint64_t leak_rate = 100000, churn_rate = 200000;
static _Atomic int stop;
static struct timespec t0;

static void at(struct timespec *ts, uint64_t ns_from_start)
{
	uint64_t ns = (uint64_t)t0.tv_nsec + ns_from_start;
	ts->tv_sec = t0.tv_sec + (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

static uint64_t elapsed_ns(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)now.tv_nsec -
	       (uint64_t)t0.tv_nsec;
}

/* ---- the leak ---------------------------------------------------------------------------- */

static uint64_t leak_n, leak_bytes;

__attribute__((noinline)) static void *leak_site(size_t n)
{
	char *p = malloc(n);
	if (p)
		p[0] = 1;
	keep(p);
	return p;
}

static void *leaker(void *arg)
{
	(void)arg;
	size_t block = (size_t)(leak_rate / 100);
	for (uint64_t k = 1; !atomic_load(&stop); k++) {
		struct timespec ts;
		at(&ts, k * 10000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (atomic_load(&stop))
			break;
		leak_site(block);
		leak_n++;
		leak_bytes += block;
	}
	return NULL;
}

/* ---- the cache: a plateau ------------------------------------------------------------------ */

static void *cache[CACHE_N];
static size_t cache_size[CACHE_N];
static uint64_t cache_n, cache_bytes;

__attribute__((noinline)) static void cache_site(unsigned i, size_t n)
{
	free(cache[i]);
	cache[i] = malloc(n);
	cache_size[i] = n;
	keep(cache[i]);
}

/* cache_pick() / cache_pace() : which entry gets a new block of what size (fill entry k;
 * once full, a random one), and the pace (none while filling, then one a millisecond).
 * Kept out of line so that the loop below calls cache_site() from one place: with both
 * phases inline the compiler duplicates the call, making two allocation sites. */
__attribute__((noinline)) static void cache_pick(uint64_t k, unsigned *seed, unsigned *i, size_t *n)
{
	*seed = *seed * 1103515245u + 12345u;
	*i = k < CACHE_N ? (unsigned)k : (*seed >> 8) % CACHE_N;
	*n = 512 + (*seed >> 4) % 1024;
}

__attribute__((noinline)) static void cache_pace(uint64_t k)
{
	if (k >= CACHE_N) {
		struct timespec ts;
		at(&ts, (k - CACHE_N + 1) * 1000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

static void *cacher(void *arg)
{
	(void)arg;
	unsigned seed = 12345, i;
	size_t n;
	for (uint64_t k = 0; !atomic_load(&stop); k++) {
		cache_pick(k, &seed, &i, &n);
		cache_site(i, n);
		cache_n++;
		cache_bytes += n;
		cache_pace(k);
	}
	return NULL;
}

/* ---- churn ----------------------------------------------------------------------------------- */

static uint64_t churn_n, churn_bytes;

__attribute__((noinline)) static void *churn_site(size_t n)
{
	void *p = malloc(n);
	keep(p);
	return p;
}

static void *churner(void *arg)
{
	(void)arg;
	unsigned seed = 777;
	void *ring[RING] = {0};
	uint64_t per_ms = churn_rate / 1000;
	for (uint64_t ms = 1; !atomic_load(&stop); ms++) {
		for (uint64_t j = 0; j < per_ms; j++) {
			seed = seed * 1103515245u + 12345u;
			size_t n = 16 + (seed >> 8) % 4080;
			void *p = churn_site(n);
			churn_n++;
			churn_bytes += n;
			unsigned r = (seed >> 4) % RING;
			free(ring[r]);
			ring[r] = p;
		}
		/* behind schedule (a busy machine): go on without sleeping */
		if (elapsed_ns() < ms * 1000000u) {
			struct timespec ts;
			at(&ts, ms * 1000000u);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		seconds = atof(argv[1]);
	if (argc > 2)
		leak_rate = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		churn_rate = strtoull(argv[3], NULL, 10);
	if (seconds <= 0 || leak_rate < 100)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th[3];
	pthread_create(&th[0], NULL, leaker, NULL);
	pthread_create(&th[1], NULL, cacher, NULL);
	pthread_create(&th[2], NULL, churner, NULL);
	struct timespec end;
	at(&end, (uint64_t)(seconds * 1e9));
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	uint64_t cache_live = 0;
	for (int i = 0; i < CACHE_N; i++)
		cache_live += cache[i] ? cache_size[i] : 0;
	for (int i = 0; i < CACHE_N; i++)
		free(cache[i]);

	struct truth_site *s = truth_get("leak_site");
	s->allocations = s->leaked_allocations = leak_n;
	s->bytes = s->leaked_bytes = leak_bytes;
	s = truth_get("cache_site");
	s->allocations = cache_n;
	s->bytes = cache_bytes;
	s = truth_get("churn_site");
	s->allocations = churn_n;
	s->bytes = churn_bytes;
	char extra[256];
	snprintf(extra, sizeof(extra),
		 ", \"leak_bytes_per_s\": %llu, \"seconds\": %.3f, \"cache_live_bytes\": %llu",
		 (unsigned long long)leak_rate, seconds, (unsigned long long)cache_live);
	truth_print(stdout, extra);
	return 0;
}
