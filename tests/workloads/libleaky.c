/* libleaky.c - a library that dl_host.c dlopen()s: leaky_alloc() allocates and keeps the
 * block (a leak inside a module that is later unloaded and loaded again). */
#define _GNU_SOURCE
#include <stdlib.h>

static void *volatile sink;

__attribute__((visibility("default"), noinline)) void *leaky_alloc(size_t n)
{
	void *p = malloc(n);
	sink = p;
	return p;
}
