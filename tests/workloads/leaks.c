/* leaks.c - leaks of known count, size and site through every allocation function:
 * malloc, calloc, realloc-grown, reallocarray, posix_memalign, memalign, aligned_alloc,
 * valloc, pvalloc; plus sites that free everything (no leak), realloc(p, 0) and free(NULL).
 * Prints its ground truth (truth.h). */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>

#include "truth.h"

static void *leaked[64];
static int n_leaked;

static void hold(void *p)
{
	leaked[n_leaked++ % 64] = p; /* a global still points at it: reachable, but unfreed */
}

__attribute__((noinline)) static void leak_malloc(void)
{
	for (int i = 0; i < 10; i++) {
		void *p = malloc(100);
		keep(p);
		truth_alloc("leak_malloc", 100);
		truth_leak("leak_malloc", 100);
	}
}

__attribute__((noinline)) static void leak_calloc(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = calloc(4, 25);
		keep(p);
		truth_alloc("leak_calloc", 100);
		truth_leak("leak_calloc", 100);
	}
}

/* Each block is grown twice; the leaked block is the last realloc's (5000 bytes). */
__attribute__((noinline)) static void leak_realloc(void)
{
	for (int i = 0; i < 3; i++) {
		char *p = malloc(10);
		keep(p);
		truth_alloc("leak_realloc", 10);
		p = realloc(p, 2000);
		keep(p);
		truth_alloc("leak_realloc", 2000);
		p = realloc(p, 5000);
		keep(p);
		truth_alloc("leak_realloc", 5000);
		truth_leak("leak_realloc", 5000);
	}
}

__attribute__((noinline)) static void leak_reallocarray(void)
{
	void *p = reallocarray(NULL, 10, 30);
	keep(p);
	truth_alloc("leak_reallocarray", 300);
	truth_leak("leak_reallocarray", 300);
}

__attribute__((noinline)) static void leak_aligned(void)
{
	void *p;
	if (posix_memalign(&p, 64, 256) == 0) {
		hold(p);
		truth_alloc("leak_aligned", 256);
		truth_leak("leak_aligned", 256);
	}
	p = memalign(128, 300);
	hold(p);
	truth_alloc("leak_aligned", 300);
	truth_leak("leak_aligned", 300);
	p = aligned_alloc(256, 512);
	hold(p);
	truth_alloc("leak_aligned", 512);
	truth_leak("leak_aligned", 512);
	p = valloc(1000);
	hold(p);
	truth_alloc("leak_aligned", 1000);
	truth_leak("leak_aligned", 1000);
	p = pvalloc(100); /* rounds up to a page; the request was 100 */
	hold(p);
	truth_alloc("leak_aligned", 100);
	truth_leak("leak_aligned", 100);
}

__attribute__((noinline)) static void no_leak(void)
{
	for (int i = 0; i < 1000; i++) {
		void *p = malloc((size_t)(i % 64) + 1);
		keep(p);
		truth_alloc("no_leak", (uint64_t)(i % 64) + 1);
		free(p);
	}
	free(NULL);
}

__attribute__((noinline)) static void realloc_zero(void)
{
	void *p = malloc(50);
	keep(p);
	truth_alloc("realloc_zero", 50);
	p = realloc(p, 0); /* glibc: frees and returns NULL */
	keep(p);
	if (p)
		free(p);
}

int main(void)
{
	leak_malloc();
	leak_calloc();
	leak_realloc();
	leak_reallocarray();
	leak_aligned();
	no_leak();
	realloc_zero();
	truth_print(stdout, NULL);
	return 0;
}
