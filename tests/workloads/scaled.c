/* scaled.c - a program whose allocation sites change with its argument N (1..9), for
 * `analyze diff`: grow_site does N*10 allocations of 1000 bytes, shrink_site (10-N)*5 of
 * 200, fixed_site always 10 of 100, leak_site leaks N blocks of 512, only_when_big runs
 * only when N > 1 and only_when_small only when N == 1. Everything but leak_site's blocks
 * is freed. Prints its ground truth (truth.h) with "n". */
#define _GNU_SOURCE
#include <stdlib.h>

#include "truth.h"

static void *held[256];

__attribute__((noinline)) static void grow_site(int n)
{
	for (int i = 0; i < n * 10; i++) {
		held[i] = malloc(1000);
		keep(held[i]);
		truth_alloc("grow_site", 1000);
	}
	for (int i = 0; i < n * 10; i++)
		free(held[i]);
}

__attribute__((noinline)) static void shrink_site(int n)
{
	for (int i = 0; i < (10 - n) * 5; i++) {
		held[i] = malloc(200);
		keep(held[i]);
		truth_alloc("shrink_site", 200);
	}
	for (int i = 0; i < (10 - n) * 5; i++)
		free(held[i]);
}

__attribute__((noinline)) static void fixed_site(void)
{
	for (int i = 0; i < 10; i++) {
		held[i] = malloc(100);
		keep(held[i]);
		truth_alloc("fixed_site", 100);
	}
	for (int i = 0; i < 10; i++)
		free(held[i]);
}

__attribute__((noinline)) static void leak_site(int n)
{
	for (int i = 0; i < n; i++) {
		keep(malloc(512));
		truth_alloc("leak_site", 512);
		truth_leak("leak_site", 512);
	}
}

__attribute__((noinline)) static void only_when_big(void)
{
	for (int i = 0; i < 3; i++) {
		held[i] = malloc(64);
		keep(held[i]);
		truth_alloc("only_when_big", 64);
	}
	for (int i = 0; i < 3; i++)
		free(held[i]);
}

__attribute__((noinline)) static void only_when_small(void)
{
	for (int i = 0; i < 2; i++) {
		held[i] = malloc(48);
		keep(held[i]);
		truth_alloc("only_when_small", 48);
	}
	for (int i = 0; i < 2; i++)
		free(held[i]);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	char extra[32];
	if (n < 1 || n > 9)
		return 2;
	grow_site(n);
	shrink_site(n);
	fixed_site();
	leak_site(n);
	if (n > 1)
		only_when_big();
	else
		only_when_small();
	snprintf(extra, sizeof(extra), ", \"n\": %d", n);
	truth_print(stdout, extra);
	return 0;
}
