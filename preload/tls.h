/* tls.h - per-thread state: the recursion guard, the thread's ring (buffer.h) and its entry
 * in the registry the writer walks (tls.c). One cache-line-aligned struct behind one
 * initial-exec TLS pointer (STYLE rule 12; NOTES: global-dynamic TLS costs 1.4x). */
#ifndef INTERCEPT_TLS_H
#define INTERCEPT_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ic.h"

enum ts_state {
	TS_FREE = 0,   /* in the registry, owned by nobody; ring empty */
	TS_ACTIVE = 1, /* owned by a live thread */
	TS_EXITED = 2, /* its thread exited; the writer drains it, then frees it */
};

struct tstate {
	/* Owner-only, hot. */
	_Alignas(IC_CACHELINE) uint8_t *ring; /* ring_size bytes, page-aligned */
	uint64_t mask;			      /* ring_size - 1 */
	uint64_t head;			      /* next write position (monotonic) */
	uint64_t limit;			      /* head may reach this without asking */
	uint64_t wake_at;		      /* wake the writer when head passes this */
	uint32_t tid;			      /* kernel tid, cached at registration */
	uint32_t pad0;
	uint64_t smp_left;		      /* sample.h: bytes until the next sample */
	uint64_t smp_rng;		      /* sample.h: xorshift state, 0 = not seeded */

	/* Written by the owner (release), read by the writer (acquire). */
	_Alignas(IC_CACHELINE) _Atomic uint64_t committed; /* records below are complete */
	_Atomic uint64_t dropped;  /* drop mode: events not recorded (relaxed) */
	_Atomic uint64_t missed;   /* hook re-entered by a signal handler (relaxed) */
	_Atomic uint64_t wait_ns;  /* time spent waiting for ring space (relaxed) */
	_Atomic uint64_t truncated; /* stacks cut at opt_stack_depth (relaxed) */
	_Atomic uint32_t waiting;  /* 1 while the owner sleeps for space */

	/* Written by the writer (release), read by the owner in slow paths (acquire). */
	_Alignas(IC_CACHELINE) _Atomic uint64_t consumed; /* bytes below are free again */
	_Atomic uint32_t consumed_seq;			 /* futex word, bumped per drain */

	/* Registry: the state word is the ownership hand-off (CAS FREE -> ACTIVE by a new
	 * thread, store EXITED by the exiting one, store FREE by the writer). */
	_Alignas(IC_CACHELINE) _Atomic uint32_t state;
	uint32_t announced; /* writer-only: THREAD start record written */
	uint32_t half;	    /* writer-only: the REALLOC at `consumed` has its FREE half out */
	uint64_t map_size;  /* bytes mapped for this entry, ring included */
	struct tstate *next; /* immutable once published */
};

/* The per-thread slot. in_hook is the recursion guard (STYLE rule 7): set while a hook
 * records, and for ever on the preload's own threads. */
struct tls_slot {
	struct tstate *t;
	uint8_t in_hook;
	uint8_t exiting; /* the key destructor ran; a later hook re-registers */
};
extern IC_TLS struct tls_slot ic_tls;

/*! tls_state() : this thread's state, registering the thread on first use (one mmap for
 * its ring, a gettid, a pthread_setspecific so that its exit is seen).
 * @return NULL when the pool bound is reached or mmap fails (the caller counts a drop).
 * Hook-path safe: no malloc, no lock. Call with the guard held. */
static inline struct tstate *tls_state(void);

/*! tls_register() : the slow path of tls_state(). */
struct tstate *tls_register(void);

/*! tls_first() : head of the registry, for the writer and fork.c (entries are never
 * unmapped, only recycled, so the list may be walked without a lock). */
struct tstate *tls_first(void);

/*! tls_init() : create the thread-exit key. Idempotent; run by init before any hook
 * records. @return 0 or -errno. */
int tls_init(void);

/*! tls_reset_after_fork() : in a fork child: every entry but the caller's becomes FREE with
 * an empty ring (its data belongs to the parent, which writes it); the caller's ring is
 * emptied too and its tid refreshed. Single-threaded context only. */
void tls_reset_after_fork(void);

/*! tls_pool_bytes() : bytes currently mapped for thread entries. */
uint64_t tls_pool_bytes(void);

static inline struct tstate *tls_state(void)
{
	struct tstate *t = ic_tls.t;
	if (IC_LIKELY(t != NULL))
		return t;
	return tls_register();
}

#endif /* INTERCEPT_TLS_H */
