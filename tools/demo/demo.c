/* demo.c - the bundled demo program that tools/demo.sh profiles: a small "order service"
 * with worker threads. It has a cache that grows and stops (a plateau), a leak in an error
 * path, temporary buffers in a hot loop, and realloc-grown strings: the things the report
 * is built to find. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 4
#define ORDERS 20000

struct order {
	int id;
	char *customer;
	double total;
};

/* A cache of customer names keyed by id % CACHE: fills up, then stays. */
#define CACHE 512
static char *cache[CACHE];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void *volatile sink;

__attribute__((noinline)) static char *format_line(const struct order *o)
{
	/* a temporary buffer, freed by the caller right away */
	char *buf = malloc(128);
	snprintf(buf, 128, "order %d for %s: %.2f", o->id, o->customer, o->total);
	return buf;
}

__attribute__((noinline)) static char *customer_name(int id)
{
	pthread_mutex_lock(&cache_lock);
	char **slot = &cache[id % CACHE];
	if (!*slot) {
		*slot = malloc(32);
		snprintf(*slot, 32, "customer-%d", id % CACHE);
	}
	char *name = *slot;
	pthread_mutex_unlock(&cache_lock);
	return name;
}

__attribute__((noinline)) static char *append_note(char *notes, size_t *len, const char *s)
{
	size_t n = strlen(s);
	notes = realloc(notes, *len + n + 1); /* grows one note at a time */
	memcpy(notes + *len, s, n + 1);
	*len += n;
	return notes;
}

__attribute__((noinline)) static int validate(struct order *o)
{
	if (o->id % 97 == 0) {
		/* error path: the report is built, then the function returns without freeing it */
		char *err = malloc(256);
		snprintf(err, 256, "order %d rejected", o->id);
		sink = err;
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	int first = (int)(long)arg;
	char *notes = NULL;
	size_t len = 0;
	for (int i = first; i < ORDERS; i += WORKERS) {
		struct order *o = malloc(sizeof(*o));
		o->id = i;
		o->customer = customer_name(i);
		o->total = (i % 1000) * 1.25;
		if (validate(o) == 0) {
			char *line = format_line(o);
			sink = line;
			free(line);
			if (i % 50 == 0)
				notes = append_note(notes, &len, "checked;");
		}
		free(o);
	}
	free(notes);
	return NULL;
}

int main(void)
{
	pthread_t t[WORKERS];
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	printf("demo: processed %d orders with %d workers\n", ORDERS, WORKERS);
	return 0;
}
