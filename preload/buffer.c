/* buffer.c - owns the slow paths of a thread's ring: wrapping at the end, waking the
 * writer, and waiting for space (lossless default) or dropping (INTERCEPT_DROP=1). Runs on
 * application threads inside hooks, guard held. Never: malloc, locks; only futex calls. */
#define _GNU_SOURCE
#include <stdatomic.h>

#include "buffer.h"
#include "clock.h"
#include "config.h"
#include "futex.h"
#include "writer.h"

/* A thread waits for ring space at most this long without the writer making progress;
 * then it drops events (counted) instead of hanging the application on a stuck disk. */
#define BUF_STALL_NS (5ull * 1000000000ull)

void buf_reset_limits(struct tstate *t)
{
	uint64_t c = atomic_load_explicit(&t->consumed, memory_order_acquire);
	uint64_t size = t->mask + 1;
	t->limit = c + size;
	t->wake_at = c + size / 2;
}

void buf_wake_writer(struct tstate *t)
{
	t->wake_at = UINT64_MAX; /* once per refill; buf_reset_limits() re-arms it */
	wr_wake();
}

void *buf_reserve_slow(struct tstate *t, uint32_t len)
{
	uint64_t size = t->mask + 1;
	uint64_t waited_since = 0, progress_at = 0, last_consumed = 0;
	IC_ASSERT(len % 8 == 0 && len <= size / 4);
	for (;;) {
		uint64_t off = t->head & t->mask;
		uint64_t pad = off + len > size ? size - off : 0;
		buf_reset_limits(t);
		if (t->head + pad + len <= t->limit) {
			if (pad) {
				struct ev_hdr *h = (struct ev_hdr *)(t->ring + off);
				h->type = EV_PAD;
				h->len = 0;
				h->aux = (uint32_t)pad;
				t->head += pad; /* published with the next commit */
			}
			if (waited_since)
				atomic_fetch_add_explicit(&t->wait_ns, clk_mono_ns() - waited_since,
							  memory_order_relaxed);
			return t->ring + (t->head & t->mask);
		}
		if (opt_drop || !wr_running())
			goto drop;
		uint64_t now = clk_mono_ns();
		uint64_t c = atomic_load_explicit(&t->consumed, memory_order_acquire);
		if (!waited_since)
			waited_since = now;
		if (!progress_at || c != last_consumed) {
			progress_at = now;
			last_consumed = c;
		}
		if (now - progress_at > BUF_STALL_NS) {
			static _Atomic int warned;
			if (!atomic_exchange(&warned, 1))
				ic_log("the trace writer has made no progress for 5 s; dropping "
				       "events instead of stalling the program");
			goto drop;
		}
		uint32_t seq = atomic_load_explicit(&t->consumed_seq, memory_order_acquire);
		atomic_store_explicit(&t->waiting, 1, memory_order_seq_cst);
		wr_wake();
		if (atomic_load_explicit(&t->consumed, memory_order_acquire) == c)
			futex_wait_ms(&t->consumed_seq, seq, 50);
		atomic_store_explicit(&t->waiting, 0, memory_order_relaxed);
	}
drop:
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return NULL;
}
