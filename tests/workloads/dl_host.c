/* dl_host.c - dlopen/dlclose of a library that allocates and leaks: four leaks from
 * libleaky.so, dlclose (the module is unmapped), dlopen again, two more leaks, and a
 * dlopen/dlclose loop in between. Usage: dl_host PATH/libleaky.so. Prints its ground truth:
 * the six blocks are leaked at leaky_alloc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#include "truth.h"

static void call(const char *path, int n, size_t size)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		exit(1);
	}
	void *(*fn)(size_t) = (void *(*)(size_t))dlsym(h, "leaky_alloc");
	for (int i = 0; i < n; i++) {
		keep(fn(size));
		truth_alloc("leaky_alloc", size);
		truth_leak("leaky_alloc", size);
	}
	if (n == 4)
		dlclose(h);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	call(argv[1], 4, 4096);
	for (int i = 0; i < 20; i++) { /* load and unload in a loop, no allocation from it */
		void *h = dlopen(argv[1], RTLD_NOW);
		if (h)
			dlclose(h);
	}
	call(argv[1], 2, 777);
	truth_print(stdout, NULL);
	return 0;
}
