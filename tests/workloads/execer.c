/* execer.c - exec without fork: the first image leaks at before_exec, prints its truth and
 * execs this same program with "after"; the new image (same pid) leaks at after_exec and
 * prints its own truth. Each image's trace must hold exactly its own part. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "truth.h"

__attribute__((noinline)) static void before_exec(void)
{
	for (int i = 0; i < 8; i++) {
		void *p = malloc(640);
		keep(p);
		truth_alloc("before_exec", 640);
		truth_leak("before_exec", 640);
	}
}

__attribute__((noinline)) static void after_exec(void)
{
	for (int i = 0; i < 3; i++) {
		void *p = malloc(96);
		keep(p);
		truth_alloc("after_exec", 96);
		truth_leak("after_exec", 96);
	}
}

int main(int argc, char **argv)
{
	char extra[64];
	if (argc > 1 && !strcmp(argv[1], "after")) {
		after_exec();
		snprintf(extra, sizeof(extra), ", \"pid\": %d, \"role\": \"after\"", getpid());
		truth_print(stdout, extra);
		return 0;
	}
	before_exec();
	snprintf(extra, sizeof(extra), ", \"pid\": %d, \"role\": \"before\"", getpid());
	truth_print(stdout, extra);
	execl("/proc/self/exe", argv[0], "after", (char *)NULL);
	return 1;
}
