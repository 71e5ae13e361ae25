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

/* The run state every hook reads and that changes a handful of times per process, alone on
 * its cache line: a frequently written variable placed next to it by the linker would make
 * every hook miss (it happened: intern.c's insertion counter). */
struct ic_run {
	_Alignas(IC_CACHELINE) _Atomic unsigned active; /* ITF_HOOK_* bits recording now:
							   opt_hooks while READY, else 0 */
	_Atomic int state;				/* enum ic_run_state */
	char pad[IC_CACHELINE - sizeof(unsigned) - sizeof(int)];
};
extern struct ic_run ic_run;
#define ic_active ic_run.active
#define ic_state ic_run.state

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
