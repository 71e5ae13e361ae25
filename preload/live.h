/* live.h - the process's live heap as the writer sees it (live.c): every block allocated
 * and not yet freed (address, size, stack, time) and per-site counters, kept up to date
 * from the events the writer drains, off the application's threads. Endurance snapshots
 * and the exit-time reachability scan read it. All functions require the writer lock
 * (writer.c): only the thread that drains touches these tables. */
#ifndef INTERCEPT_LIVE_H
#define INTERCEPT_LIVE_H

#include <stdbool.h>
#include <stdint.h>

struct live_block {
	uint64_t ptr;	/* 0: empty slot */
	uint64_t size;	/* bytes requested */
	uint64_t ts;	/* allocation time (raw clock) */
	uint32_t stack; /* stack id, 0 = unknown */
	uint32_t flags; /* LIVE_INHERITED: allocated before this process was forked */
};
#define LIVE_INHERITED 0x1u

/* Per allocation site (stack id), cumulative since the start of tracing. */
struct live_site {
	uint64_t allocations, frees;
	uint64_t bytes, freed_bytes;
	uint64_t live_count, live_bytes;
};

struct live_stats {
	uint64_t live_count, live_bytes;
	uint64_t allocations, frees, bytes, freed_bytes;
	uint64_t unmatched_frees; /* frees of blocks never seen allocated */
	uint64_t repaired;	  /* address reuse seen out of order, resolved by timestamps */
	uint64_t lost;		  /* blocks forgotten because a bound was reached */
	uint64_t table_bytes;	  /* memory held by the tables */
};

/*! live_init() : map the tables (they grow on demand, up to max_sites sites). Idempotent.
 * @return 0 or -ENOMEM (then every live_* call is a no-op and live_ok() is false). */
int live_init(uint32_t max_sites);

/*! live_ok() : are the tables usable? */
bool live_ok(void);

/*! live_alloc() / live_free() / live_realloc() : apply one event. Events of one thread come
 * in order; across threads they may not: a conflict on an address is decided by the
 * timestamps (the same rules as analyzer/agg_alloc.c), so the result is exact whatever the
 * drain order. Can't fail: when a bound is reached the block is counted in stats.lost. */
void live_alloc(uint64_t ptr, uint64_t size, uint32_t stack, uint64_t ts);
void live_free(uint64_t ptr, uint64_t ts);
void live_realloc(uint64_t old, uint64_t ts_free, uint64_t ptr, uint64_t size, uint32_t stack,
		  uint64_t ts_alloc);

/*! live_stats() : totals now. */
void live_get_stats(struct live_stats *out);

/*! live_site() : counters of stack id `stack`, or NULL when it has none. */
const struct live_site *live_site(uint32_t stack);

/*! live_max_site() : one more than the highest stack id with counters. */
uint32_t live_max_site(void);

/*! live_foreach() : call fn for every live block (table order). fn must not call live_*. */
void live_foreach(void (*fn)(const struct live_block *b, void *arg), void *arg);

/*! live_find() : the live block containing addr (start <= addr < start + max(size, 1)),
 * or NULL. For exact starts this is one probe; for interior pointers it needs the sorted
 * index built by live_sort(). */
const struct live_block *live_find(uint64_t addr);

/*! live_sort() : build (or rebuild) an index of the live blocks sorted by address, for
 * interior-pointer lookups with live_find() and ordered walks. @return 0 or -ENOMEM. */
int live_sort(void);

/*! live_fork_child() : in a forked child: every block now in the table was allocated by
 * the parent (LIVE_INHERITED); they stay, so that the child's frees of them match, but are
 * no longer counted in the child's totals and sites. */
void live_fork_child(void);

#endif /* INTERCEPT_LIVE_H */
