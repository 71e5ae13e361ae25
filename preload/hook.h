/* hook.h - the entry and exit every hook shares (STYLE rule 5: ensure resolved, enter the
 * guard, make the real call, record) and the run state of the preload (init.c). */
#ifndef INTERCEPT_HOOK_H
#define INTERCEPT_HOOK_H

#include <stdatomic.h>

#include "ic.h"
#include "tls.h"

enum ic_run_state {
	IC_UNINIT = 0,	/* nothing done yet */
	IC_STARTING = 1, /* ic_lazy_init() is running on some thread */
	IC_READY = 2,	/* hooks record into rings */
	IC_CLOSED = 3,	/* the final flush ran, or tracing is off for good */
};

/* The ITF_HOOK_* bits that record right now: opt_hooks while READY, 0 otherwise. The one
 * global every hook reads; it changes a handful of times per process. */
extern _Atomic unsigned ic_active;
extern _Atomic int ic_state;

/*! ic_lazy_init() : bring the preload to READY from whichever hook runs first (other
 * libraries' constructors can allocate before ours). A thread that finds another one
 * initializing does not wait. Can't fail: on failure tracing stays off. */
void ic_lazy_init(void);

/*! hook_enter() : may this call be recorded? Takes the guard when it returns true. A call
 * made while the guard is held (our own allocations, or a signal handler interrupting a
 * hook) is passed through; the latter is counted as missed. */
IC_INLINE bool hook_enter(unsigned hook)
{
	if (IC_UNLIKELY(ic_tls.in_hook)) {
		if (ic_tls.in_hook == 1 && ic_tls.t)
			atomic_fetch_add_explicit(&ic_tls.t->missed, 1, memory_order_relaxed);
		return false;
	}
	if (IC_UNLIKELY(!(atomic_load_explicit(&ic_active, memory_order_relaxed) & hook))) {
		if (atomic_load_explicit(&ic_state, memory_order_relaxed) != IC_UNINIT)
			return false;
		ic_tls.in_hook = 2;
		ic_lazy_init();
		ic_tls.in_hook = 0;
		if (!(atomic_load_explicit(&ic_active, memory_order_relaxed) & hook))
			return false;
	}
	ic_tls.in_hook = 1;
	return true;
}

IC_INLINE void hook_leave(void)
{
	ic_tls.in_hook = 0;
}

#endif /* INTERCEPT_HOOK_H */
