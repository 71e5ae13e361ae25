/* tls.c - owns the registry of per-thread states and each thread's registration and exit.
 * tls_register() runs on an application thread inside a hook (guard held), the exit key's
 * destructor at thread exit; the writer walks the registry and recycles exited entries.
 * Entries are mmap'd (never malloc) and never unmapped, so the list needs no lock: it only
 * grows at the head by CAS, and ownership moves through each entry's state word.
 * Never: malloc, an application-visible lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "buffer.h"
#include "config.h"
#include "tls.h"

IC_TLS struct tls_slot ic_tls;

/* Head of the registry; entries are pushed, never removed. */
static _Atomic(struct tstate *) ts_head;
/* Bytes mapped for entries (pool bound, INTERCEPT_POOL_MB). */
static _Atomic uint64_t ts_pool_bytes;
static pthread_key_t ts_key;
static _Atomic int ts_key_ok;

struct tstate *tls_first(void)
{
	return atomic_load_explicit(&ts_head, memory_order_acquire);
}

uint64_t tls_pool_bytes(void)
{
	return atomic_load_explicit(&ts_pool_bytes, memory_order_relaxed);
}

/* The exit key's destructor: runs at thread exit after C++ thread_local destructors. A hook
 * that runs later on this thread (another key's destructor freeing memory) registers a
 * fresh entry; the writer notices when that thread is gone (wr_* housekeeping). */
static void ts_on_exit(void *arg)
{
	struct tstate *t = arg;
	if (ic_tls.t == t)
		ic_tls.t = NULL;
	ic_tls.exiting = 1;
	atomic_store_explicit(&t->state, TS_EXITED, memory_order_release);
}

int tls_init(void)
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&ts_key_ok, &expect, 1))
		return 0;
	int rc = pthread_key_create(&ts_key, ts_on_exit);
	if (rc) {
		atomic_store(&ts_key_ok, 0);
		return -rc;
	}
	atomic_store(&ts_key_ok, 2);
	return 0;
}

/* ts_new() : map one more entry (state header page(s) + ring) and push it, owned by the
 * caller. @return NULL when over the pool bound or out of memory. */
static struct tstate *ts_new(void)
{
	uint64_t ring = (uint64_t)opt_buffer_kb << 10;
	uint64_t hdr = (sizeof(struct tstate) + 4095) & ~(uint64_t)4095;
	uint64_t size = hdr + ring;
	uint64_t used = atomic_fetch_add_explicit(&ts_pool_bytes, size, memory_order_relaxed);
	if (used + size > ((uint64_t)opt_pool_mb << 20)) {
		atomic_fetch_sub_explicit(&ts_pool_bytes, size, memory_order_relaxed);
		static _Atomic int warned;
		if (!atomic_exchange(&warned, 1))
			ic_log("INTERCEPT_POOL_MB=%u reached: threads beyond it are not recorded "
			       "(counted as dropped events)",
			       opt_pool_mb);
		return NULL;
	}
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		atomic_fetch_sub_explicit(&ts_pool_bytes, size, memory_order_relaxed);
		return NULL;
	}
	struct tstate *t = m;
	t->ring = (uint8_t *)m + hdr;
	t->mask = ring - 1;
	t->map_size = size;
	atomic_store_explicit(&t->state, TS_ACTIVE, memory_order_relaxed);
	struct tstate *old = atomic_load_explicit(&ts_head, memory_order_relaxed);
	do
		t->next = old;
	while (!atomic_compare_exchange_weak_explicit(&ts_head, &old, t, memory_order_release,
						      memory_order_relaxed));
	return t;
}

struct tstate *tls_register(void)
{
	struct tstate *t;
	for (t = tls_first(); t; t = t->next) {
		uint32_t s = TS_FREE;
		if (atomic_load_explicit(&t->state, memory_order_relaxed) == TS_FREE &&
		    atomic_compare_exchange_strong_explicit(&t->state, &s, TS_ACTIVE,
							    memory_order_acquire,
							    memory_order_relaxed))
			break;
	}
	if (!t && !(t = ts_new()))
		return NULL;
	/* A FREE entry has head == committed == consumed (the writer left it so). */
	uint64_t pos = atomic_load_explicit(&t->consumed, memory_order_acquire);
	t->head = pos;
	atomic_store_explicit(&t->committed, pos, memory_order_relaxed);
	buf_reset_limits(t);
	t->tid = ic_gettid();
	ic_tls.t = t;
	if (atomic_load_explicit(&ts_key_ok, memory_order_acquire) == 2)
		pthread_setspecific(ts_key, t);
	return t;
}

void tls_reset_after_fork(void)
{
	for (struct tstate *t = tls_first(); t; t = t->next) {
		uint64_t pos = atomic_load_explicit(&t->consumed, memory_order_relaxed);
		t->head = pos;
		atomic_store_explicit(&t->committed, pos, memory_order_relaxed);
		atomic_store_explicit(&t->waiting, 0, memory_order_relaxed);
		atomic_store_explicit(&t->dropped, 0, memory_order_relaxed);
		atomic_store_explicit(&t->missed, 0, memory_order_relaxed);
		atomic_store_explicit(&t->wait_ns, 0, memory_order_relaxed);
		atomic_store_explicit(&t->truncated, 0, memory_order_relaxed);
		t->announced = 0;
		t->half = 0;
		t->smp_rng = 0; /* sampling: a child draws its own sample points */
		buf_reset_limits(t);
		if (t != ic_tls.t)
			atomic_store_explicit(&t->state, TS_FREE, memory_order_relaxed);
	}
	if (ic_tls.t)
		ic_tls.t->tid = ic_gettid();
}
