/* stack.c - owns stack capture: libunwind's unw_backtrace with the per-thread cache (NOTES:
 * ~10 ns a frame here; frame-pointer walks are faster but Debian's libraries have no frame
 * pointers), the cut of our own frames, and interning into stk_table. Runs on application
 * threads inside hooks with the guard held (set to 2 around the walk, so allocations
 * libunwind makes for its caches are known to be ours). Never: malloc of our own, locks. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <errno.h>
#include <libunwind.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>

#include "config.h"
#include "intercept/trace_format.h"
#include "modules.h"
#include "stack.h"
#include "writer.h"

/* How many of our own frames a stack can hold (hook, recorder, capture, plus inlining
 * slack, plus a hook further down such as sqlite3_step's): the walk asks for this many
 * more than the depth kept. Frames inside [own_lo, own_hi) are dropped wherever they are. */
#define STK_OWN_MAX 8
static uintptr_t own_lo, own_hi;
/* libunwind's mapped range (stk_in_unwinder). Written once by stk_init(). */
static uintptr_t unw_lo, unw_hi;

/* The module that maps `probe`: its PT_LOAD range. */
struct range_probe {
	uintptr_t probe, lo, hi;
};

static int range_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct range_probe *rp = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (rp->probe >= lo && rp->probe < hi) {
		rp->lo = lo;
		rp->hi = hi;
		return 1;
	}
	return 0;
}

int stk_init(void)
{
	struct range_probe own = {.probe = (uintptr_t)&stk_init};
	struct range_probe unw = {.probe = (uintptr_t)&unw_backtrace};
	dl_iterate_phdr(range_cb, &own);
	dl_iterate_phdr(range_cb, &unw);
	own_lo = own.lo;
	own_hi = own.hi;
	unw_lo = unw.lo;
	unw_hi = unw.hi;
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	/* key = generation word + frames */
	return intern_init(&stk_table, opt_max_stacks, 8u * 24, (uint64_t)(uintptr_t)&own_lo);
}

bool stk_in_unwinder(uintptr_t pc)
{
	return pc >= unw_lo && pc < unw_hi;
}

uint32_t stk_capture(struct tstate *t)
{
	uint64_t key[1 + ITF_MAX_FRAMES + STK_OWN_MAX];
	void **ips = (void **)&key[1];
	int want = (int)opt_stack_depth + STK_OWN_MAX;
	uint8_t saved = ic_tls.in_hook;
	ic_tls.in_hook = 2;
	int n = unw_backtrace(ips, want);
	ic_tls.in_hook = saved;
	/* Our frames are dropped wherever they are, not only on top: a hook that calls into
	 * the real library (sqlite3_step, curl_easy_perform) sits in the middle of the stacks
	 * of everything that library does, and the contract says stacks have no profiler
	 * frames. */
	int keep = 0;
	for (int i = 0; i < n; i++)
		if ((uintptr_t)ips[i] < own_lo || (uintptr_t)ips[i] >= own_hi)
			ips[keep++] = ips[i];
	if (keep > (int)opt_stack_depth) {
		keep = (int)opt_stack_depth;
		atomic_fetch_add_explicit(&t->truncated, 1, memory_order_relaxed);
	} else if (n == want) {
		atomic_fetch_add_explicit(&t->truncated, 1, memory_order_relaxed);
	}
	key[0] = atomic_load_explicit(&mod_gen, memory_order_relaxed);
	return intern_get(&stk_table, key, (uint32_t)(1 + keep) * 8u);
}
