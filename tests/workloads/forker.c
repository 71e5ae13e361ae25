/* forker.c - fork without exec: the parent leaks at parent_leak before and after the fork,
 * the child leaks at child_leak and frees some blocks it inherited (those frees are of
 * blocks its own trace never saw allocated). Both processes print their ground truth, one
 * JSON line each, with their pid; the parent prints after the child exited. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "truth.h"

static void *inherited[5];

__attribute__((noinline)) static void parent_leak(int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(size);
		keep(p);
		truth_alloc("parent_leak", size);
		truth_leak("parent_leak", size);
	}
}

__attribute__((noinline)) static void child_leak(int n, size_t size)
{
	for (int i = 0; i < n; i++) {
		void *p = malloc(size);
		keep(p);
		truth_alloc("child_leak", size);
		truth_leak("child_leak", size);
	}
}

__attribute__((noinline)) static void shared_blocks(void)
{
	for (int i = 0; i < 5; i++) {
		inherited[i] = malloc(64);
		truth_alloc("shared_blocks", 64);
	}
}

int main(void)
{
	char extra[64];
	parent_leak(3, 1000);
	shared_blocks();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* the child's own truth: only what it did itself */
		memset(truth, 0, sizeof(truth));
		truth_n = 0;
		child_leak(4, 333);
		for (int i = 0; i < 5; i++)
			free(inherited[i]);
		snprintf(extra, sizeof(extra), ", \"pid\": %d, \"role\": \"child\"", getpid());
		truth_print(stdout, extra);
		exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	parent_leak(2, 1000);
	for (int i = 0; i < 5; i++)
		free(inherited[i]);
	snprintf(extra, sizeof(extra), ", \"pid\": %d, \"role\": \"parent\"", getpid());
	truth_print(stdout, extra);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
