/* agg_alloc.h - allocation aggregation (agg_alloc.c): totals, peak, sites by stack,
 * temporary allocations, and the live set that becomes the leak report. */
#ifndef INTERCEPT_AGG_ALLOC_H
#define INTERCEPT_AGG_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "order.h"
#include "util.h"

struct alloc_site {
	uint64_t allocations; /* allocations made here (realloc counts as one) */
	uint64_t bytes;	      /* bytes requested here */
	uint64_t frees;	      /* of blocks allocated here */
	uint64_t temporary;   /* freed by the same thread before it allocated anything else */
	uint64_t live_count;  /* still allocated at the end */
	uint64_t live_bytes;
	uint64_t cur_bytes;   /* live now, during the pass */
	uint64_t max_live_bytes; /* the most this site ever had live at once */
};

struct alloc_live {
	uint64_t size;
	uint64_t ts;
	uint32_t stack;
	uint32_t tid;
};

struct agg_alloc {
	struct hmap live;      /* address -> struct alloc_live */
	struct hmap sites;     /* stack id -> struct alloc_site */
	struct hmap last;      /* tid -> address of its newest allocation (temporary test) */
	struct hmap orphans;   /* address -> ts of a free that matched no block yet */
	VEC(struct { uint64_t ptr; struct alloc_live b; }) displaced;

	uint64_t allocations, frees, reallocs, bytes_allocated, bytes_freed;
	uint64_t live_bytes, live_count;
	uint64_t peak_bytes, peak_ts, peak_count;
	uint64_t temporary;
	uint64_t unmatched_frees;   /* frees of blocks the trace never saw allocated */
	uint64_t orphans_dropped;   /* unmatched frees not kept for late pairing (bound) */
	uint64_t repaired;	    /* out-of-order address reuse resolved by timestamps */
};

int agg_alloc_init(struct agg_alloc *a);
void agg_alloc_free(struct agg_alloc *a);

/*! agg_alloc_event() : an ord_consumer callback: ALLOC, FREE and REALLOC; others ignored. */
int agg_alloc_event(void *ctx, const struct ord_event *e);

/*! agg_alloc_finish() : after the last event: fold the live set into the sites' live
 * figures. */
int agg_alloc_finish(struct agg_alloc *a);

#endif /* INTERCEPT_AGG_ALLOC_H */
