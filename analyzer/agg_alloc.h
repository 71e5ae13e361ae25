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

/* The live heap over time, in bounded memory: ALLOC_SERIES_MAX buckets of equal width cover
 * the run from its first event. When an event falls past the last bucket, neighbouring
 * buckets merge pairwise and the width doubles, so a run of any length keeps at most
 * ALLOC_SERIES_MAX buckets and O(1) work per event (amortized). Each bucket keeps the most
 * that was live at any moment of its span, so no peak is lost by merging: the largest
 * max_bytes of all buckets is peak_bytes exactly. Formats read it through rp_heap_series()
 * (report.h), which converts times. */
#define ALLOC_SERIES_MAX 1024 /* even: buckets merge in pairs */

struct alloc_bucket {
	uint64_t max_bytes; /* most live bytes at any moment of the bucket (incl. its start) */
	uint64_t end_bytes; /* live bytes after the bucket's last event */
	uint64_t end_count; /* live blocks after the bucket's last event */
	uint64_t events;    /* events that fell in it; 0: nothing changed (level carried over) */
};

struct alloc_series {
	uint64_t t0;	   /* clock ts where bucket 0 starts (the first event's) */
	uint32_t shift;	   /* bucket width: 1 << shift clock units */
	uint32_t n;	   /* buckets in use (0 before the first event) */
	uint64_t level;	   /* live bytes after the last event noted */
	struct alloc_bucket b[ALLOC_SERIES_MAX];
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
	struct alloc_series series; /* live bytes over time (heap charts, chrome counters) */
};

int agg_alloc_init(struct agg_alloc *a);
void agg_alloc_free(struct agg_alloc *a);

/*! agg_alloc_event() : an ord_consumer callback: ALLOC, FREE and REALLOC; others ignored. */
int agg_alloc_event(void *ctx, const struct ord_event *e);

/*! agg_alloc_finish() : after the last event: fold the live set into the sites' live
 * figures. */
int agg_alloc_finish(struct agg_alloc *a);

#endif /* INTERCEPT_AGG_ALLOC_H */
