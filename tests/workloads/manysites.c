/* manysites.c - 1024 distinct allocation sites that all keep changing: 32 x 32 pairs of
 * functions (fb_j calls fa_i through a table: each pair is its own stack), RATE
 * allocations a second spread round-robin over the sites, each site holding a ring of 4
 * blocks (so its counters change all the time and its live bytes stay level). For measuring
 * what a snapshot costs per site (tools/bench/endurance.py). Usage: manysites SECONDS
 * [RATE]. Prints its ground truth (truth.h: totals only, under "all"). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include "truth.h"

#define NA   32
#define NB   32
#define RING 4

typedef void *(*fa_t)(size_t);

#define FA(i)                                                                                      \
	__attribute__((noinline)) static void *fa##i(size_t n)                                     \
	{                                                                                          \
		char *p = malloc(n + i);                                                           \
		if (p)                                                                             \
			p[0] = (char)i;                                                            \
		keep(p);                                                                           \
		return p;                                                                          \
	}
#define FB(j)                                                                                      \
	__attribute__((noinline)) static void *fb##j(fa_t f, size_t n)                             \
	{                                                                                          \
		void *p = f(n + j);                                                                \
		keep(p);                                                                           \
		return p;                                                                          \
	}
/* clang-format off */
#define X8(M, o) M(o##0) M(o##1) M(o##2) M(o##3) M(o##4) M(o##5) M(o##6) M(o##7)
X8(FA, ) X8(FA, 1) X8(FA, 2) X8(FA, 3)
X8(FB, ) X8(FB, 1) X8(FB, 2) X8(FB, 3)
#define L8(p, o) p##o##0, p##o##1, p##o##2, p##o##3, p##o##4, p##o##5, p##o##6, p##o##7
static const fa_t fas[NA] = {L8(fa, ), L8(fa, 1), L8(fa, 2), L8(fa, 3)};
static void *(*const fbs[NB])(fa_t, size_t) = {L8(fb, ), L8(fb, 1), L8(fb, 2), L8(fb, 3)};
/* clang-format on */

static void *ring[NA * NB][RING];

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	long rate = argc > 2 ? atol(argv[2]) : 100000;
	if (seconds <= 0 || rate < 1000)
		return 2;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t n = 0, bytes = 0, per_ms = (uint64_t)rate / 1000;
	for (uint64_t ms = 1;; ms++) {
		for (uint64_t k = 0; k < per_ms; k++, n++) {
			unsigned s = (unsigned)(n % (NA * NB));
			unsigned r = (unsigned)(n / (NA * NB)) % RING;
			size_t sz = 32 + (n * 7919) % 200;
			free(ring[s][r]);
			ring[s][r] = fbs[s / NA](fas[s % NA], sz);
			bytes += sz + s / NA + s % NA;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double t = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) * 1e-9;
		if (t >= seconds)
			break;
		if (t * 1000 < (double)ms) {
			struct timespec ts = {.tv_sec = t0.tv_sec, .tv_nsec = t0.tv_nsec};
			uint64_t ns = (uint64_t)ts.tv_nsec + ms * 1000000u;
			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	for (unsigned s = 0; s < NA * NB; s++)
		for (unsigned r = 0; r < RING; r++)
			free(ring[s][r]);
	struct truth_site *t = truth_get("all");
	t->allocations = n;
	t->bytes = bytes;
	truth_print(stdout, "");
	return 0;
}
