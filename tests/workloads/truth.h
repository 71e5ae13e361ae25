/* truth.h - how workload programs report their ground truth: one JSON object on stdout,
 * {"sites": {"FUNCTION": {"allocations": N, "bytes": N, "leaked_allocations": N,
 * "leaked_bytes": N}, ...}, ...extra fields}. The integration tests compare the analyzer's
 * JSON with it. Counting is done by the workload itself, per function that allocates. */
#ifndef INTERCEPT_TRUTH_H
#define INTERCEPT_TRUTH_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct truth_site {
	const char *name;
	uint64_t allocations, bytes, leaked_allocations, leaked_bytes;
};

#define TRUTH_MAX 32
static struct truth_site truth[TRUTH_MAX];
static int truth_n;

static struct truth_site *truth_get(const char *name)
{
	for (int i = 0; i < truth_n; i++)
		if (!strcmp(truth[i].name, name))
			return &truth[i];
	truth[truth_n].name = name;
	return &truth[truth_n++];
}

/* truth_alloc() / truth_leak() : count an allocation made in function `name`, and mark
 * bytes of it as never freed. */
static inline void truth_alloc(const char *name, uint64_t bytes)
{
	struct truth_site *s = truth_get(name);
	s->allocations++;
	s->bytes += bytes;
}

static inline void truth_leak(const char *name, uint64_t bytes)
{
	struct truth_site *s = truth_get(name);
	s->leaked_allocations++;
	s->leaked_bytes += bytes;
}

/* truth_print() : the JSON object; extra is inserted verbatim (",\"k\": v" or ""). */
static inline void truth_print(FILE *f, const char *extra)
{
	fprintf(f, "{\"sites\": {");
	for (int i = 0; i < truth_n; i++)
		fprintf(f, "%s\"%s\": {\"allocations\": %llu, \"bytes\": %llu, "
			   "\"leaked_allocations\": %llu, \"leaked_bytes\": %llu}",
			i ? ", " : "", truth[i].name, (unsigned long long)truth[i].allocations,
			(unsigned long long)truth[i].bytes,
			(unsigned long long)truth[i].leaked_allocations,
			(unsigned long long)truth[i].leaked_bytes);
	fprintf(f, "}%s}\n", extra ? extra : "");
	fflush(f);
}

/* Keeps results alive so the compiler can neither drop an allocation nor turn the call
 * into a tail call (which would hide the allocating function from the stack). */
static void *volatile truth_sink[4096];
static volatile unsigned truth_sink_i;
static inline void keep(void *p)
{
	truth_sink[truth_sink_i++ % 4096] = p;
}

#endif /* INTERCEPT_TRUTH_H */
