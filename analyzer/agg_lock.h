/* agg_lock.h - lock contention aggregation (agg_lock.c): per lock (by address) the
 * contended acquisitions, total and longest wait, timeouts and errors, the waiting stacks,
 * the stack where the lock was first seen, and in counting mode (INTERCEPT_LOCK_COUNT=1) its
 * acquisitions. */
#ifndef INTERCEPT_AGG_LOCK_H
#define INTERCEPT_AGG_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "order.h"
#include "trace.h"
#include "util.h"

/* One waiting stack of one lock. Times are clock units until agg_lock_finish(), then ns. */
struct lock_waiter {
	uint32_t stack;
	unsigned kinds;	  /* bit (1 << enum itf_lock_kind) per kind of wait seen here */
	uint64_t waits;	  /* contended acquisitions (and timeouts, errors) from this stack */
	uint64_t wait_ns; /* total */
	uint64_t max_wait_ns;
};

struct lock_ent {
	uint64_t addr;
	unsigned kinds; /* bit (1 << enum itf_lock_kind) per kind seen, in waits or counts */

	/* Contention, from LOCK_WAIT records. */
	uint64_t contended; /* every wait: acquired, timed out or failed */
	uint64_t timeouts;  /* ETIMEDOUT */
	uint64_t errors;    /* any other failure (EDEADLK, EINVAL, ...) */
	uint64_t wait_ns, max_wait_ns;
	uint64_t read_contended, read_wait_ns, write_contended, write_wait_ns;
	uint64_t first_wait_ts; /* raw clock of the earliest wait's return */
	uint32_t first_wait_stack;
	struct hmap waiters;	/* stack id -> struct lock_waiter */

	/* Counting mode, from LOCK_COUNTS records (the newest wins). */
	bool counted;
	uint64_t acq_mutex, acq_read, acq_write;
	uint32_t first_acq_stack; /* its first counted acquisition */

	/* agg_lock_finish(): waiters sorted by waits, then wait. */
	struct lock_waiter *sorted;
	size_t n_sorted;
};

/* One wait, for timelines (the chrome format): the longest LOCK_WAITS_KEPT are kept. */
struct lock_wait_ev {
	uint64_t end_ts;  /* raw clock when the blocking call returned */
	uint64_t wait_ns; /* clock units until agg_lock_finish() */
	uint64_t addr;
	uint32_t tid, stack;
	uint32_t kind;	 /* enum itf_lock_kind */
	uint32_t result; /* 0 or the errno value */
};
#define LOCK_WAITS_KEPT 65536u

struct agg_lock {
	struct hmap locks; /* address -> struct lock_ent * */
	uint64_t waits, timeouts, errors;
	uint64_t wait_ns;     /* summed over every wait of every thread (agg_lock_finish) */
	bool counting;	      /* the trace was made with INTERCEPT_LOCK_COUNT=1 */
	uint64_t count_overflow; /* acquisitions the preload's table had no room to count */
	uint64_t acquisitions;	 /* counted, all locks (agg_lock_finish) */
	uint64_t locks_counted;	 /* distinct locks counted */
	uint64_t locks_contended;
	/* agg_lock_finish(): contended locks by total wait, then contended, then address. */
	struct lock_ent **sorted;
	size_t n_sorted;
	/* The longest waits (a min-heap on wait while reading; by end_ts after finish). */
	VEC(struct lock_wait_ev) waits_kept;
	uint64_t waits_not_kept; /* shorter waits left out of waits_kept */
};

int agg_lock_init(struct agg_lock *a);
void agg_lock_free(struct agg_lock *a);

/*! agg_lock_event() : an ord_consumer callback: LOCK_WAIT records; others ignored.
 * @return 0, AZ_ECORRUPT for a malformed record (message set), or AZ_ENOMEM. */
int agg_lock_event(void *ctx, const struct ord_event *e);

/*! agg_lock_counts() : one LOCK_COUNTS META record's payload (len bytes, untrusted).
 * @return 0, AZ_ECORRUPT (message set) or AZ_ENOMEM. */
int agg_lock_counts(struct agg_lock *a, const uint8_t *payload, size_t len);

/*! agg_lock_finish() : after the last event and tr_finish_clock(): convert waits to ns,
 * total the counts and sort. @return 0 or AZ_ENOMEM. */
int agg_lock_finish(struct agg_lock *a, const struct trace *tr);

/*! lock_kind_name() : "mutex", "rwlock", or "mutex+rwlock" (an address used for both, one
 * after the other). */
const char *lock_kind_name(const struct lock_ent *l);

/*! lock_acquisitions() : l's counted acquisitions (0 when not counted). */
uint64_t lock_acquisitions(const struct lock_ent *l);

#endif /* INTERCEPT_AGG_LOCK_H */
