/* hook_pthread.c - interposes the blocking acquisitions of pthread mutexes and rwlocks
 * (pthread_mutex_lock, _timedlock, _clocklock; pthread_rwlock_rdlock, _wrlock and their
 * timed and clock variants) to record contention, and the trylocks, which only the
 * counting mode (INTERCEPT_LOCK_COUNT=1, lockcount.c) looks at. Runs on any application
 * thread, maybe before the constructor, inside signal handlers, after fork and during exit,
 * on locks that glibc, other libraries or the profiler itself use.
 *
 * Every blocking hook first makes the real trylock call. When it succeeds (or fails with
 * anything but EBUSY) that is the answer: the uncontended path is a trylock plus two loads,
 * with no syscall, no store to shared memory and nothing recorded (mutrace's idea, without
 * its gettid per lock; NOTES: that costs 1.2 us). Only when the lock is busy does the hook
 * take the waiting thread's stack, make the real blocking call and record one LOCK_WAIT
 * (trace_format.h): address, kind, wait, result, stack. The wait runs without the guard, so
 * signal handlers that interrupt it are profiled as usual.
 *
 * Trying first changes nothing the caller can see: glibc's lock functions begin with the
 * same compare-and-swap, and a mutex that trylock reports busy is one the real call would
 * wait for or refuse (an error-checking mutex relocked by its owner: EDEADLK, recorded with
 * that result). Where glibc validates arguments before trying (the clockid of the clock
 * variants, the abstime of the rwlock timed variants), the hook passes an invalid call
 * straight to the real function, so it fails exactly as it would without us.
 *
 * The profiler's own acquisitions are never recorded or counted: the writer thread's (guard
 * held for ever, no thread state) and libunwind's (told by return address: its stack walks,
 * and its thread-exit destructor, which runs outside any hook). An application lock taken
 * while the guard is held on an application thread comes from a signal handler that
 * interrupted the profiler: its wait cannot be recorded (the ring may be mid-record) and is
 * counted as missed; its acquisition is counted in the counting mode.
 * Never: malloc, stdio, a lock the application could hold, a syscall when uncontended. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "lockcount.h"
#include "record.h"
#include "resolve.h"
#include "stack.h"

/* A LOCK_WAIT payload: six varints. */
#define LK_MAX_PAYLOAD (6u * ITF_VARINT_MAX)

/* EOWNERDEAD: a robust mutex whose owner died; the caller holds it now. */
#define LK_ACQUIRED(rc) ((rc) == 0 || (rc) == EOWNERDEAD)

/* ---- recording (slow path only) ------------------------------------------------------------ */

struct lk_wait {
	uint64_t t0;	/* clock when the lock was found busy */
	uint32_t stack; /* the waiting thread's stack */
};

/*! lk_begin() : the lock was busy (the hook was called from pc). When this wait is to be
 * recorded, take the waiting thread's stack (while the lock is held by someone else, so it
 * lengthens no critical section) and start the clock. @return true when lk_end() must
 * follow. errno kept. */
static IC_NOINLINE bool lk_begin(struct lk_wait *w, uintptr_t pc)
{
	/* libunwind's own lock (the profiler's unwinder: stack walks, and its thread-exit
	 * destructor, which runs outside any hook) */
	if (IC_UNLIKELY(stk_in_unwinder(pc)))
		return false;
	/* Guard held on an application thread: a signal handler (or an atfork handler run by
	 * fork.c) interrupted the profiler and now waits for a lock. The ring may be mid-record:
	 * count the wait as missed, as hook_enter() does for allocations. The writer thread
	 * (guard held for ever) has no thread state and takes no application lock. */
	if (IC_UNLIKELY(ic_tls.in_hook)) {
		if (ic_tls.t)
			atomic_fetch_add_explicit(&ic_tls.t->missed, 1, memory_order_relaxed);
		return false;
	}
	int e = errno;
	if (!(atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_LOCK)) {
		if (atomic_load_explicit(&ic_state, memory_order_relaxed) != IC_UNINIT)
			return false;
		ic_tls.in_hook = 2;
		ic_lazy_init();
		ic_tls.in_hook = 0;
		if (!(atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_LOCK)) {
			errno = e;
			return false;
		}
	}
	ic_tls.in_hook = 1;
	w->t0 = clk_before();
	struct tstate *t = tls_state();
	w->stack = t ? stk_capture(t) : 0;
	ic_tls.in_hook = 0;
	errno = e;
	return true;
}

/*! lk_end() : the blocking call returned rc: record the wait. errno kept. */
static IC_NOINLINE void lk_end(const struct lk_wait *w, const void *lock, unsigned kind, int rc,
			       unsigned flags)
{
	uint64_t t1 = clk_after();
	if (ic_tls.in_hook ||
	    !(atomic_load_explicit(&ic_active, memory_order_relaxed) & ITF_HOOK_LOCK))
		return; /* recording stopped meanwhile (exit) */
	int e = errno;
	ic_tls.in_hook = 1;
	struct rec r;
	if (rec_begin(&r, ITF_EV_LOCK_WAIT, LK_MAX_PAYLOAD, t1) == 0) {
		rec_u(&r, (uint64_t)(uintptr_t)lock);
		rec_u(&r, kind);
		rec_u(&r, t1 > w->t0 ? t1 - w->t0 : 0);
		rec_u(&r, (uint64_t)(unsigned)rc);
		rec_u(&r, w->stack);
		rec_u(&r, flags);
		rec_end(&r);
	}
	ic_tls.in_hook = 0;
	errno = e;
}

/*! lk_count() : count an acquisition for the counting mode, unless libunwind made it. */
static IC_NOINLINE void lk_count(const void *lock, unsigned kind, uintptr_t pc)
{
	if (!stk_in_unwinder(pc))
		lkc_count(lock, kind);
}

/* ---- the real trylocks ---------------------------------------------------------------------- */

/* Resolved by ic_lazy_init() or by the first lock call, whichever comes first. */
#define LK_TRY(sym, type)                                                                          \
	IC_INLINE int lk_##sym(type *l)                                                            \
	{                                                                                          \
		int (*f)(type *) = LK_REAL(sym);                                                   \
		if (IC_UNLIKELY(!f)) {                                                             \
			resolve_pthread();                                                         \
			f = LK_REAL(sym);                                                          \
			if (!f)                                                                    \
				return ENOSYS; /* cannot happen: see resolve_pthread() */          \
		}                                                                                  \
		return f(l);                                                                       \
	}
LK_TRY(pthread_mutex_trylock, pthread_mutex_t)
LK_TRY(pthread_rwlock_tryrdlock, pthread_rwlock_t)
LK_TRY(pthread_rwlock_trywrlock, pthread_rwlock_t)

/* glibc accepts only these clocks for timed waits (futex_abstimed_supported_clockid) and
 * checks the clock, and for rwlocks the abstime too, before trying the lock. */
static inline bool lk_clock_ok(clockid_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC;
}

static inline bool lk_abstime_ok(const struct timespec *at)
{
	return !at || (at->tv_nsec >= 0 && at->tv_nsec < 1000000000);
}

/* ---- the hooks ------------------------------------------------------------------------------
 * LK_HOOK(sym, type, try, kind, flags, params, args, precheck): the blocking function sym
 * on a lock `l` of type; try is the trylock that goes first; precheck is an expression that
 * is false for calls glibc rejects before trying (they go straight to the real function). */
#define EXPAND(...) __VA_ARGS__
/* the caller's address, read only where it is needed (not on the uncontended path) */
#define LK_PC ((uintptr_t)__builtin_return_address(0))
#define LK_HOOK(sym, type, try, kind, flags, params, args, precheck)                               \
	static IC_NOINLINE int sym##_wait(uintptr_t pc, EXPAND params)                             \
	{                                                                                          \
		__typeof__(LK_REAL(sym)) real = LK_REAL(sym);                                      \
		if (IC_UNLIKELY(!real)) {                                                          \
			resolve_pthread();                                                         \
			real = LK_REAL(sym);                                                       \
			if (!real)                                                                 \
				return ENOSYS;                                                     \
		}                                                                                  \
		if (IC_UNLIKELY(!(precheck)))                                                      \
			return real args; /* glibc rejects it before trying: as without us */     \
		struct lk_wait w;                                                                  \
		bool rec = lk_begin(&w, pc);                                                       \
		int rc = real args;                                                                \
		if (rec)                                                                           \
			lk_end(&w, l, kind, rc, flags);                                            \
		if (IC_UNLIKELY(lkc_counting()) && LK_ACQUIRED(rc))                                \
			lk_count(l, kind, pc);                                                     \
		return rc;                                                                         \
	}                                                                                          \
	IC_EXPORT int sym params                                                                   \
	{                                                                                          \
		if (IC_UNLIKELY(!(precheck)))                                                      \
			return sym##_wait(LK_PC, EXPAND args);                                     \
		int rc = lk_##try(l);                                                              \
		if (IC_LIKELY(rc != EBUSY)) {                                                      \
			if (IC_UNLIKELY(lkc_counting()) && LK_ACQUIRED(rc))                        \
				lk_count(l, kind, LK_PC);                                          \
			return rc;                                                                 \
		}                                                                                  \
		return sym##_wait(LK_PC, EXPAND args);                                             \
	}

LK_HOOK(pthread_mutex_lock, pthread_mutex_t, pthread_mutex_trylock, ITF_LOCK_MUTEX, 0,
	(pthread_mutex_t * l), (l), true)
LK_HOOK(pthread_mutex_timedlock, pthread_mutex_t, pthread_mutex_trylock, ITF_LOCK_MUTEX,
	ITF_LOCKF_TIMED, (pthread_mutex_t * l, const struct timespec *at), (l, at), true)
LK_HOOK(pthread_mutex_clocklock, pthread_mutex_t, pthread_mutex_trylock, ITF_LOCK_MUTEX,
	ITF_LOCKF_TIMED, (pthread_mutex_t * l, clockid_t c, const struct timespec *at),
	(l, c, at), lk_clock_ok(c))
LK_HOOK(pthread_rwlock_rdlock, pthread_rwlock_t, pthread_rwlock_tryrdlock, ITF_LOCK_READ, 0,
	(pthread_rwlock_t * l), (l), true)
LK_HOOK(pthread_rwlock_wrlock, pthread_rwlock_t, pthread_rwlock_trywrlock, ITF_LOCK_WRITE, 0,
	(pthread_rwlock_t * l), (l), true)
LK_HOOK(pthread_rwlock_timedrdlock, pthread_rwlock_t, pthread_rwlock_tryrdlock, ITF_LOCK_READ,
	ITF_LOCKF_TIMED, (pthread_rwlock_t * l, const struct timespec *at), (l, at),
	lk_abstime_ok(at))
LK_HOOK(pthread_rwlock_timedwrlock, pthread_rwlock_t, pthread_rwlock_trywrlock, ITF_LOCK_WRITE,
	ITF_LOCKF_TIMED, (pthread_rwlock_t * l, const struct timespec *at), (l, at),
	lk_abstime_ok(at))
LK_HOOK(pthread_rwlock_clockrdlock, pthread_rwlock_t, pthread_rwlock_tryrdlock, ITF_LOCK_READ,
	ITF_LOCKF_TIMED, (pthread_rwlock_t * l, clockid_t c, const struct timespec *at),
	(l, c, at), lk_clock_ok(c) && lk_abstime_ok(at))
LK_HOOK(pthread_rwlock_clockwrlock, pthread_rwlock_t, pthread_rwlock_trywrlock, ITF_LOCK_WRITE,
	ITF_LOCKF_TIMED, (pthread_rwlock_t * l, clockid_t c, const struct timespec *at),
	(l, c, at), lk_clock_ok(c) && lk_abstime_ok(at))

/* The trylocks never wait, so they are never contention; they are acquisitions, which the
 * counting mode counts. Otherwise they cost one call through a pointer. */
#define LK_TRYHOOK(sym, type, kind)                                                                \
	IC_EXPORT int sym(type *l)                                                                 \
	{                                                                                          \
		int rc = lk_##sym(l);                                                              \
		if (IC_UNLIKELY(lkc_counting()) && LK_ACQUIRED(rc))                                \
			lk_count(l, kind, LK_PC);                                                  \
		return rc;                                                                         \
	}

LK_TRYHOOK(pthread_mutex_trylock, pthread_mutex_t, ITF_LOCK_MUTEX)
LK_TRYHOOK(pthread_rwlock_tryrdlock, pthread_rwlock_t, ITF_LOCK_READ)
LK_TRYHOOK(pthread_rwlock_trywrlock, pthread_rwlock_t, ITF_LOCK_WRITE)
