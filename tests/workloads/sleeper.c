/* sleeper.c - allocates and leaks a known amount, prints its ground truth, then sleeps
 * until killed (the test kills it with SIGKILL once a flush has happened). Usage:
 * sleeper [SECONDS] (default 30: it exits by itself if nobody kills it). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "truth.h"

__attribute__((noinline)) static void before_kill(void)
{
	for (int i = 0; i < 25; i++) {
		void *p = malloc(2048);
		keep(p);
		truth_alloc("before_kill", 2048);
		truth_leak("before_kill", 2048);
	}
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 30;
	before_kill();
	truth_print(stdout, NULL);
	sleep((unsigned)secs);
	return 0;
}
