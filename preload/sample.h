/* sample.h - sampling allocations by bytes (INTERCEPT_SAMPLE=N; sample.c): a Poisson
 * process over the bytes each thread allocates, with mean N bytes between sample points,
 * as tcmalloc and jemalloc do. An allocation of n bytes is recorded when a sample point
 * falls inside it, which happens with probability p(n) = 1 - exp(-n/N); it then stands for
 * 1/p(n) allocations (snapshot.c weighs it so in the writer), an unbiased estimate.
 * A free is recorded only when it frees a sampled block: sampled blocks are kept in a
 * lock-free set of addresses (groups of 16 slots, one group per address hash), entered
 * after the real allocation and left before the real free, so the set never holds a stale
 * address. A byte per group counts its entries: most frees read that byte (16 KiB of them,
 * cache-resident) and stop; the others scan one group (two cache lines).
 * The decision is on the hook path: a countdown in this thread's state (a subtraction and a
 * compare) and, for a free, one group scan; the exponential draw happens only for sampled
 * allocations. Hook-path safe: no malloc, no lock, no system call. */
#ifndef INTERCEPT_SAMPLE_H
#define INTERCEPT_SAMPLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ic.h"
#include "tls.h"

#define SMP_GROUP      16 /* slots per group: 128 bytes, two cache lines */
#define SMP_GROUP_BITS 14 /* 16384 groups: 262,144 slots, 2 MiB */
#define SMP_TOMB       1u /* a slot whose block was freed (addresses are never 1) */

extern bool smp_on;		      /* opt_sample_bytes != 0; set once by smp_init() */
extern _Atomic uint64_t *smp_set;     /* SMP_GROUP << SMP_GROUP_BITS slots: 0, TOMB, address */
extern _Atomic uint64_t smp_overflow; /* sampled blocks not entered: their group was full */
extern _Atomic uint8_t smp_count[1u << SMP_GROUP_BITS]; /* entries per group */

/*! smp_init() : map the set when sampling is on. Idempotent. @return 0 or -ENOMEM
 * (then sampling is off: every allocation is recorded, and the header says 0). */
int smp_init(void);

/*! smp_take_slow() : the countdown reached this allocation: seed the thread's generator on
 * first use, decide, draw the next interval, enter p in the set. @return recorded or not. */
bool smp_take_slow(struct tstate *t, uint64_t n, uint64_t p);

IC_INLINE uint64_t smp_hash(uint64_t p)
{
	return ((p >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - SMP_GROUP_BITS);
}

/*! smp_alloc() : is the allocation of n bytes at p sampled? (n counts as 1 when 0, so that
 * zero-size allocations are sampled too.) Call with the guard held. */
IC_INLINE bool smp_alloc(uint64_t p, uint64_t n)
{
	struct tstate *t = ic_tls.t;
	if (n == 0)
		n = 1;
	if (IC_LIKELY(t != NULL && t->smp_left > n)) {
		t->smp_left -= n;
		return false;
	}
	if (!t && !(t = tls_state()))
		return false;
	return smp_take_slow(t, n, p);
}

/*! smp_free() : was the block at p sampled? If so it leaves the set (the caller records
 * its free). Call before the real free. */
IC_INLINE bool smp_free(uint64_t p)
{
	uint64_t h = smp_hash(p);
	if (IC_LIKELY(!atomic_load_explicit(&smp_count[h], memory_order_relaxed)))
		return false;
	_Atomic uint64_t *g = smp_set + h * SMP_GROUP;
	for (unsigned i = 0; i < SMP_GROUP; i++) {
		uint64_t v = atomic_load_explicit(&g[i], memory_order_relaxed);
		if (v == p) {
			if (!atomic_compare_exchange_strong_explicit(&g[i], &v, SMP_TOMB,
								     memory_order_relaxed,
								     memory_order_relaxed))
				return false;
			atomic_fetch_sub_explicit(&smp_count[h], 1, memory_order_relaxed);
			return true;
		}
	}
	return false;
}

/*! smp_keep() : enter p in the set again (a realloc that failed left its sampled block). */
void smp_keep(uint64_t p);

/*! smp_weight() : 1/p(n) for an allocation of n bytes at mean interval mean_bytes. */
double smp_weight(uint64_t n, uint64_t mean_bytes);

#endif /* INTERCEPT_SAMPLE_H */
