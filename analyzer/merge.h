/* merge.h - one report from several traces (merge.c): `analyze TRACE1 TRACE2 ...`, for a
 * parent and its forked or exec'd children. Each trace is analyzed on its own (its own
 * live set, clock and ids), then the results are merged into a report whose stacks and
 * strings get merged ids. What each section does to merge is one function in merge.c's
 * table; a section that keeps results in struct report adds its own there, using the three
 * maps below to translate a part's ids and timestamps. */
#ifndef INTERCEPT_MERGE_H
#define INTERCEPT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* Translation from one part (one trace's report) into the merged report. */
struct mg_map {
	struct merge *g;
	size_t part;		  /* index into the parts */
	struct report *dst;	  /* the merged report */
	const struct report *src; /* the part */
};

/*! mg_stack() : the merged id of the part's stack id. Stacks whose frames are the same
 * (module path and ELF address of every frame) in several processes get one id, so a fork
 * child's sites add up with its parent's. 0 stays 0 (unknown stack). @return the id, or 0
 * when out of memory (the merge then fails with AZ_ENOMEM). */
uint32_t mg_stack(const struct mg_map *m, uint32_t src_stack);

/*! mg_string() : the merged id of the part's string id; the text is copied into the merged
 * trace (tr_string(&dst->tr, id) works), identical texts share one id. 0 when unknown. */
uint32_t mg_string(const struct mg_map *m, uint32_t src_string);

/*! mg_ts() : a part's raw timestamp in the merged report's clock (that of the process that
 * started first), through CLOCK_MONOTONIC, which all processes of a machine share. */
uint64_t mg_ts(const struct mg_map *m, uint64_t src_ts);

/*! mg_rp_stack() : rp_stack() of a merged report (report.c calls it): the part's
 * symbolized stack. */
const struct rp_stack *mg_rp_stack(struct report *r, uint32_t stack_id);

/*! mg_free() : release a merged report's parts and maps (rp_free() calls it). */
void mg_free(struct report *r);

/*! mg_count() / mg_part() : the per-process reports: a merged report's parts in start order,
 * or r itself as the one part of a report of one trace. */
size_t mg_count(const struct report *r);
struct report *mg_part(struct report *r, size_t k);

#endif /* INTERCEPT_MERGE_H */
