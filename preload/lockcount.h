/* lockcount.h - per-lock acquisition counts, the opt-in INTERCEPT_LOCK_COUNT=1 mode
 * (lockcount.c): a bounded table in mmap'ed memory that the lock hooks (hook_pthread.c)
 * bump on every acquisition by the application, and that the writer turns into
 * ITF_META_LOCK_COUNTS records. Off by default: it costs a table probe and an atomic add on
 * a shared counter per acquisition, where the default mode costs nothing. */
#ifndef INTERCEPT_LOCKCOUNT_H
#define INTERCEPT_LOCKCOUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ic.h"

/* LKC_SLOTS distinct lock addresses are counted (LKC_SLOT_BYTES each, one cache line, so
 * that two hot locks never share a counter line); acquisitions of locks beyond that, or
 * whose probe sequence is full, are counted as overflow and reported. */
#define LKC_SLOTS (1u << 16)
#define LKC_SLOT_BYTES 64u

/* Whether acquisitions are counted. LKC_UNKNOWN until the profiler has initialized (the
 * configuration is not read yet: a lock taken by another library's constructor, before
 * any other hook ran, must still be counted); then LKC_ON (INTERCEPT_LOCK_COUNT=1 and the
 * table mapped) or LKC_OFF for good. Read on every acquisition (relaxed; it changes once
 * or twice), so it has a cache line of its own that nothing else writes. */
enum { LKC_OFF = 0, LKC_ON = 1, LKC_UNKNOWN = 2 };
struct lkc_flag {
	_Alignas(IC_CACHELINE) _Atomic uint8_t on;
};
extern struct lkc_flag lkc_flag;

/*! lkc_counting() : may this acquisition have to be counted? (on or not yet known: then
 * lkc_count() decides, initializing the profiler if nothing did yet.) Hook-path safe. */
IC_INLINE bool lkc_counting(void)
{
	return atomic_load_explicit(&lkc_flag.on, memory_order_relaxed) != LKC_OFF;
}

/*! lkc_init() : map the table when opt_lock_count is set. Run once by ic_lazy_init(). On
 * failure (no memory) one "intercept:" line is written, opt_lock_count is cleared and the
 * default mode goes on. Can't fail otherwise. */
void lkc_init(void);

/*! lkc_count() : count one acquisition of lock (kind: enum itf_lock_kind) by the
 * application (the caller has already excluded libunwind's). Does nothing on the writer
 * thread, once recording stopped, or while another thread initializes the profiler (as
 * hooks of every kind); initializes the profiler when nothing did yet.
 * The first acquisition of a lock claims its slot and records its stack (the lock's
 * "first seen" stack in this mode). Hook-path safe: no malloc, no lock, no syscall (the
 * stack walk may fault pages in). */
void lkc_count(const void *lock, unsigned kind);

/*! lkc_drain() : append LOCK_COUNTS records for the locks whose counts changed since the
 * last call. Writer only, with the writer lock held (drain()). */
void lkc_drain(void);

/*! lkc_fork_child() : in a fork child: start counting from zero (the parent's counts are
 * in the parent's trace). Single-threaded context only. */
void lkc_fork_child(void);

/*! lkc_table_bytes() : bytes mapped for the table (0 when the mode is off). */
uint64_t lkc_table_bytes(void);

#endif /* INTERCEPT_LOCKCOUNT_H */
