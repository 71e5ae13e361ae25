/* buffer.h - reserving and committing records in the calling thread's ring (buffer.c).
 * Each ring is single-producer (its thread) single-consumer (the writer): the owner
 * publishes `committed` with a release store, the writer publishes `consumed`. The fast
 * path is a few compares and stores on the owner's own cache line. */
#ifndef INTERCEPT_BUFFER_H
#define INTERCEPT_BUFFER_H

#include <stdatomic.h>

#include "event.h"
#include "tls.h"

/*! buf_reserve_slow() : make room for len bytes contiguous in t's ring: pad to the ring's
 * end when needed, wake the writer, and wait for it (default) or drop (INTERCEPT_DROP=1,
 * or the writer is not running). @return the place to write, or NULL when the event is
 * dropped (counted in t->dropped). Hook-path safe (futex syscalls only). */
void *buf_reserve_slow(struct tstate *t, uint32_t len);

/*! buf_wake_writer() : ask the writer to drain soon (one futex syscall; called when a
 * ring passes half full). */
void buf_wake_writer(struct tstate *t);

/*! buf_reset_limits() : recompute the owner's cached limits from `consumed`. */
void buf_reset_limits(struct tstate *t);

/*! buf_reserve() : room for len bytes (a multiple of 8, at most 1/4 of the ring) in t's
 * ring. @return where to write, or NULL when dropped (counted). Hook-path safe. */
IC_INLINE void *buf_reserve(struct tstate *t, uint32_t len)
{
	uint64_t off = t->head & t->mask;
	if (IC_UNLIKELY(t->head + len > t->limit || off + len > t->mask + 1))
		return buf_reserve_slow(t, len);
	return t->ring + off;
}

/*! buf_commit() : publish the len bytes written at the last reservation. */
IC_INLINE void buf_commit(struct tstate *t, uint32_t len)
{
	t->head += len;
	atomic_store_explicit(&t->committed, t->head, memory_order_release);
	if (IC_UNLIKELY(t->head > t->wake_at))
		buf_wake_writer(t);
}

#endif /* INTERCEPT_BUFFER_H */
