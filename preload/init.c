/* init.c - owns the preload's life cycle: lazy initialization from the first hook, the
 * constructor (writer, fork handlers), the destructor (final flush). ic_lazy_init() runs
 * on whichever thread calls a hook first, possibly before our constructor; the constructor
 * and destructor run on the thread the loader or exit() uses. Never: a lock an application
 * could hold, waiting on another thread's initialization. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <sys/auxv.h>

#include "clock.h"
#include "config.h"
#include "fork.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "live.h"
#include "lockcount.h"
#include "modules.h"
#include "resolve.h"
#include "sample.h"
#include "stack.h"
#include "writer.h"

struct ic_run ic_run;

void ic_lazy_init(void)
{
	int expect = IC_UNINIT;
	if (!atomic_compare_exchange_strong(&ic_state, &expect, IC_STARTING))
		return;
	resolve_all();
	resolve_pthread(); /* now, so that a first lock in a signal handler needs no dlsym */
	cfg_load();
	if (opt_secure || !opt_hooks) {
		atomic_store(&ic_state, IC_CLOSED);
		return;
	}
	clk_init();
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
	if (rnd)
		for (int i = 0; i < 8; i++)
			seed = (seed << 8 | (seed >> 56)) ^ rnd[i];
	if (tls_init() || mod_init() || stk_init() ||
	    intern_init(&str_table, 1u << 18, 128, seed ^ 0x5bd1e995u) ||
	    ((opt_hooks & ITF_HOOK_MALLOC) && live_init(opt_max_stacks))) {
		ic_log("cannot set up the profiler's tables (out of memory?); nothing is recorded");
		atomic_store(&ic_state, IC_CLOSED);
		return;
	}
	lkc_init(); /* INTERCEPT_LOCK_COUNT=1; on failure counting stays off, nothing else */
	if (smp_init())
		ic_log("INTERCEPT_SAMPLE: out of memory for the sample filter; recording every "
		       "allocation");
	atomic_store(&ic_state, IC_READY);
	atomic_store(&ic_active, opt_hooks);
}

__attribute__((constructor(101))) static void ic_constructor(void)
{
	uint8_t saved = ic_tls.in_hook;
	ic_tls.in_hook = 2;
	ic_lazy_init();
	if (atomic_load(&ic_state) == IC_READY) {
		fork_install();
		if (wr_start(false)) {
			atomic_store(&ic_active, 0);
			atomic_store(&ic_state, IC_CLOSED);
		}
	}
	ic_tls.in_hook = saved;
}

__attribute__((destructor(101))) static void ic_destructor(void)
{
	uint8_t saved = ic_tls.in_hook;
	ic_tls.in_hook = 2;
	/* The trace ends here: threads still running while the process exits record nothing
	 * more (their events would land after the final chunk, and must not be counted as
	 * dropped). What they committed before is in the final drain. */
	atomic_store(&ic_active, 0);
	if (atomic_load(&ic_state) == IC_READY)
		wr_finish();
	atomic_store(&ic_state, IC_CLOSED);
	ic_tls.in_hook = saved;
}
