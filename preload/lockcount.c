/* lockcount.c - owns the per-lock acquisition counters of INTERCEPT_LOCK_COUNT=1 (see
 * lockcount.h). Application threads call lkc_count() from the lock hooks, on every
 * acquisition, possibly in signal handlers; the writer thread calls lkc_drain() with the
 * writer lock held; fork.c calls lkc_fork_child() in the child.
 *
 * The table is open addressing over LKC_SLOTS one-cache-line slots in one anonymous
 * MAP_NORESERVE mapping (only the pages of slots in use are ever touched). A slot is
 * claimed by CAS on its key (the lock's address) and never released: a lock destroyed and
 * another created at the same address share the slot (the report says locks are told apart
 * by address). At most LKC_PROBES slots are probed; a lock that finds none is counted as
 * overflow, so the cost per acquisition stays bounded under any key set. The order in
 * which slots were claimed is kept in a list, so the writer visits only slots in use.
 * Never: malloc, stdio, a lock, a syscall on an application thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "config.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "lockcount.h"
#include "stack.h"
#include "writer.h"

#define LKC_PROBES 64

struct lkc_slot {
	/* Written by application threads. */
	_Alignas(LKC_SLOT_BYTES) _Atomic uint64_t lock; /* key: 0 free, else the address */
	_Atomic uint64_t n[3];			       /* by enum itf_lock_kind - 1 */
	_Atomic uint32_t first_stack;		       /* stored once by the claimer */
	uint32_t pad;
	/* Writer only: what was last written to the trace (counts only grow, so their sum
	 * tells whether any changed). */
	uint64_t em_total;
	uint32_t em_stack;
	uint32_t em_seen; /* 1 once an entry for this slot was written */
};
_Static_assert(sizeof(struct lkc_slot) == LKC_SLOT_BYTES, "one cache line per slot");

struct lkc_flag lkc_flag = {LKC_UNKNOWN};
_Static_assert(sizeof(struct lkc_flag) == IC_CACHELINE, "lkc_flag fills its cache line");

/* The mapping: LKC_SLOTS slots, then the claim-order list (slot index + 1 per entry, 0
 * while the claimer has not written it yet). */
static struct lkc_slot *lkc_tab;
static _Atomic uint32_t *lkc_used;
static _Alignas(IC_CACHELINE) _Atomic uint32_t lkc_n_used;   /* entries taken in lkc_used */
static _Alignas(IC_CACHELINE) _Atomic uint64_t lkc_overflow; /* acquisitions not counted */
/* Writer only: what the last LOCK_COUNTS records said. */
static struct {
	uint64_t overflow;
	bool any; /* a record was written in this process */
} lkc_em;

#define LKC_MAP_BYTES                                                                              \
	((size_t)LKC_SLOTS * sizeof(struct lkc_slot) + (size_t)LKC_SLOTS * sizeof(uint32_t))

static int lkc_map(void *at)
{
	void *p = mmap(at, LKC_MAP_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at ? MAP_FIXED : 0), -1, 0);
	if (p == MAP_FAILED)
		return -1;
	lkc_tab = p;
	lkc_used = (_Atomic uint32_t *)((char *)p + (size_t)LKC_SLOTS * sizeof(struct lkc_slot));
	return 0;
}

void lkc_init(void)
{
	if (!opt_lock_count || !(opt_hooks & ITF_HOOK_LOCK) || lkc_tab) {
		if (!lkc_tab)
			atomic_store_explicit(&lkc_flag.on, LKC_OFF, memory_order_release);
		return;
	}
	if (lkc_map(NULL)) {
		ic_log("cannot map the lock counting table (%lu KiB); lock acquisitions are not "
		       "counted",
		       (unsigned long)(LKC_MAP_BYTES >> 10));
		opt_lock_count = false;
		atomic_store_explicit(&lkc_flag.on, LKC_OFF, memory_order_release);
		return;
	}
	atomic_store_explicit(&lkc_flag.on, LKC_ON, memory_order_release);
}

uint64_t lkc_table_bytes(void)
{
	return lkc_tab ? LKC_MAP_BYTES : 0;
}

/* lkc_first_stack() : record where the lock of slot s was (first) acquired, unless another
 * thread did meanwhile. Guard taken around the stack walk so that nothing it does is
 * recorded. errno kept. Call with the guard free. */
static IC_NOINLINE void lkc_first_stack(struct lkc_slot *s)
{
	int e = errno;
	ic_tls.in_hook = 1;
	struct tstate *t = tls_state();
	uint32_t stack = t ? stk_capture(t) : 0;
	ic_tls.in_hook = 0;
	uint32_t none = 0;
	if (stack)
		atomic_compare_exchange_strong_explicit(&s->first_stack, &none, stack,
							memory_order_release, memory_order_relaxed);
	errno = e;
}

/* lkc_claimed() : a slot just became lock's: list it for the writer, and take its
 * first-seen stack when the guard is free (not in a signal handler that interrupted a
 * hook: a later acquisition takes it then). */
static IC_NOINLINE void lkc_claimed(struct lkc_slot *s, bool may_walk)
{
	uint32_t i = atomic_fetch_add_explicit(&lkc_n_used, 1, memory_order_relaxed);
	if (i < LKC_SLOTS)
		atomic_store_explicit(&lkc_used[i], (uint32_t)(s - lkc_tab) + 1,
				      memory_order_release);
	if (may_walk)
		lkc_first_stack(s);
}

/* lkc_settle() : the flag says LKC_UNKNOWN: initialize the profiler if nothing did yet (a
 * lock taken before any other hook ran, in another library's constructor), and settle the
 * flag once initialization is over. @return true when counting is on. */
static IC_NOINLINE bool lkc_settle(void)
{
	int st = atomic_load_explicit(&ic_state, memory_order_acquire);
	if (st == IC_UNINIT && !ic_tls.in_hook) {
		int e = errno;
		ic_tls.in_hook = 2;
		ic_lazy_init();
		ic_tls.in_hook = 0;
		errno = e;
		st = atomic_load_explicit(&ic_state, memory_order_acquire);
	}
	if (st == IC_UNINIT || st == IC_STARTING)
		return false; /* another thread is initializing: not counted, as for every hook */
	/* READY: lkc_init() has decided. CLOSED (secure mode, no hooks, no memory): off. */
	uint8_t unknown = LKC_UNKNOWN;
	atomic_compare_exchange_strong_explicit(&lkc_flag.on, &unknown, LKC_OFF,
						memory_order_acq_rel, memory_order_acquire);
	return atomic_load_explicit(&lkc_flag.on, memory_order_acquire) == LKC_ON;
}

void lkc_count(const void *lock, unsigned kind)
{
	if (IC_UNLIKELY(atomic_load_explicit(&lkc_flag.on, memory_order_acquire) != LKC_ON) &&
	    !lkc_settle())
		return;
	/* The profiler's own acquisitions are libunwind's (its callers filter them out by
	 * return address) and the writer thread's (guard held, no thread state). With the
	 * guard held on an application thread, a signal handler (or an atfork handler run by
	 * fork.c) interrupted the profiler: counted (only atomics below) but with no stack
	 * walk. dlsym and glibc's internals never come through the PLT. */
	uint8_t guard = ic_tls.in_hook;
	if ((guard && !ic_tls.t) ||
	    !(atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_LOCK) ||
	    kind < ITF_LOCK_MUTEX || kind > ITF_LOCK_WRITE)
		return;
	uint64_t key = (uint64_t)(uintptr_t)lock;
	/* Fibonacci hashing: lock addresses differ in their middle bits */
	uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 48);
	for (uint32_t i = 0; i < LKC_PROBES; i++) {
		struct lkc_slot *s = &lkc_tab[(h + i) & (LKC_SLOTS - 1)];
		uint64_t k = atomic_load_explicit(&s->lock, memory_order_acquire);
		if (k == 0) {
			if (atomic_compare_exchange_strong_explicit(&s->lock, &k, key,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				lkc_claimed(s, guard == 0);
				k = key;
			}
		}
		if (k == key) {
			atomic_fetch_add_explicit(&s->n[kind - 1], 1, memory_order_relaxed);
			/* claimed by a signal handler, which could not walk the stack */
			if (IC_UNLIKELY(!atomic_load_explicit(&s->first_stack, memory_order_relaxed)) &&
			    guard == 0)
				lkc_first_stack(s);
			return;
		}
	}
	atomic_fetch_add_explicit(&lkc_overflow, 1, memory_order_relaxed);
}

/* LOCK_COUNTS records are cut at this many entries (each at most 5 varints). */
#define LKC_REC_ENTRIES 96

static void lkc_emit(const uint8_t *entries, size_t len, uint32_t n, uint64_t overflow)
{
	uint8_t rec[3 * ITF_VARINT_MAX + LKC_REC_ENTRIES * 5 * ITF_VARINT_MAX];
	uint8_t *p = rec;
	p = itf_put_u(p, clk_now());
	p = itf_put_u(p, overflow);
	p = itf_put_u(p, n);
	memcpy(p, entries, len);
	wr_meta_put(ITF_META_LOCK_COUNTS, rec, (size_t)(p - rec) + len);
}

void lkc_drain(void)
{
	if (!lkc_tab)
		return;
	uint8_t ent[LKC_REC_ENTRIES * 5 * ITF_VARINT_MAX];
	uint8_t *p = ent;
	uint32_t n = 0;
	uint64_t overflow = atomic_load_explicit(&lkc_overflow, memory_order_relaxed);
	bool wrote = false;
	uint32_t used = atomic_load_explicit(&lkc_n_used, memory_order_relaxed);
	if (used > LKC_SLOTS)
		used = LKC_SLOTS;
	for (uint32_t i = 0; i < used; i++) {
		uint32_t idx = atomic_load_explicit(&lkc_used[i], memory_order_acquire);
		if (!idx)
			continue; /* being claimed right now: next drain */
		struct lkc_slot *s = &lkc_tab[idx - 1];
		uint64_t c[3];
		for (int k = 0; k < 3; k++)
			c[k] = atomic_load_explicit(&s->n[k], memory_order_relaxed);
		uint64_t total = c[0] + c[1] + c[2];
		uint32_t stack = atomic_load_explicit(&s->first_stack, memory_order_acquire);
		if (s->em_seen && stack == s->em_stack && total == s->em_total)
			continue;
		p = itf_put_u(p, atomic_load_explicit(&s->lock, memory_order_relaxed));
		for (int k = 0; k < 3; k++)
			p = itf_put_u(p, c[k]);
		p = itf_put_u(p, stack);
		s->em_total = total;
		s->em_stack = stack;
		s->em_seen = 1;
		if (++n == LKC_REC_ENTRIES) {
			lkc_emit(ent, (size_t)(p - ent), n, overflow);
			wrote = true;
			p = ent;
			n = 0;
		}
	}
	/* One record on the first drain even when nothing was counted yet, and whenever the
	 * overflow figure moved. */
	if (n || (!wrote && (!lkc_em.any || overflow != lkc_em.overflow)))
		lkc_emit(ent, (size_t)(p - ent), n, overflow);
	lkc_em.any = true;
	lkc_em.overflow = overflow;
}

void lkc_fork_child(void)
{
	if (!lkc_tab)
		return;
	/* A fresh mapping over the old one: zero pages, no memset of 4 MiB in the child (and
	 * no slot left half claimed by a thread that does not exist here). */
	if (lkc_map(lkc_tab)) {
		atomic_store_explicit(&lkc_flag.on, LKC_OFF, memory_order_relaxed);
		opt_lock_count = false;
		lkc_tab = NULL;
		return;
	}
	atomic_store_explicit(&lkc_n_used, 0, memory_order_relaxed);
	atomic_store_explicit(&lkc_overflow, 0, memory_order_relaxed);
	lkc_em.overflow = 0;
	lkc_em.any = false;
}
