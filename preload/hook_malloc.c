/* hook_malloc.c - interposes the whole malloc family: malloc, free, calloc, realloc,
 * reallocarray, posix_memalign, memalign, aligned_alloc, valloc, pvalloc (C++ new/delete
 * arrive through malloc/free), plus malloc_usable_size so that boot-arena blocks never reach
 * the real allocator. Runs on any application thread, possibly before the constructor,
 * inside signal handlers, after fork and during exit. Frees are recorded before the real
 * free and allocations after the real allocation (trace_format.h, ITF_EV_FREE).
 * Never: malloc of its own, stdio, a lock the application could hold. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "clock.h"
#include "hook.h"
#include "intercept/trace_format.h"
#include "resolve.h"
#include "sample.h"
#include "stack.h"

/* ---- recording (guard held) --------------------------------------------------------------- */

static IC_NOINLINE void rec_alloc_now(void *p, size_t n)
{
	uint64_t ts = clk_after();
	int e = errno;
	struct tstate *t = tls_state();
	if (IC_LIKELY(t != NULL)) {
		uint32_t stack = stk_capture(t);
		struct ev_alloc *ev = buf_reserve(t, sizeof(*ev));
		if (IC_LIKELY(ev != NULL)) {
			ev->h = (struct ev_hdr){.type = EV_ALLOC, .len = sizeof(*ev), .aux = stack};
			ev->ts = ts;
			ev->ptr = (uintptr_t)p;
			ev->size = n;
			buf_commit(t, sizeof(*ev));
		}
	}
	errno = e;
}

static IC_NOINLINE void rec_free_at(void *p, uint64_t ts)
{
	struct tstate *t = tls_state();
	if (IC_LIKELY(t != NULL)) {
		struct ev_free *ev = buf_reserve(t, sizeof(*ev));
		if (IC_LIKELY(ev != NULL)) {
			ev->h = (struct ev_hdr){.type = EV_FREE, .len = sizeof(*ev), .aux = 0};
			ev->ts = ts;
			ev->ptr = (uintptr_t)p;
			buf_commit(t, sizeof(*ev));
		}
	}
}

/* With INTERCEPT_SAMPLE (sample.h) only sampled allocations, and frees of blocks that may
 * have been sampled, are recorded; the decision costs a countdown or a load. */
static inline void rec_alloc(void *p, size_t n)
{
	if (IC_UNLIKELY(smp_on)) {
		int e = errno;
		bool take = smp_alloc((uintptr_t)p, n);
		errno = e;
		if (!take)
			return;
	}
	rec_alloc_now(p, n);
}

static inline void rec_free(void *p)
{
	if (IC_UNLIKELY(smp_on) && !smp_free((uintptr_t)p))
		return;
	rec_free_at(p, clk_before());
}

/* was: with sampling, old was a sampled block (smp_free() ran before the real call). */
static IC_NOINLINE void rec_realloc(uint64_t ts_free, void *old, void *p, size_t n, bool was)
{
	if (IC_UNLIKELY(smp_on)) {
		/* a realloc is a free of old and an allocation of p, each sampled or not */
		int e = errno;
		bool now = smp_alloc((uintptr_t)p, n);
		errno = e;
		if (was && !now)
			rec_free_at(old, ts_free);
		if (now && !was)
			rec_alloc_now(p, n);
		if (!was || !now)
			return;
	}
	uint64_t ts = clk_after();
	int e = errno;
	struct tstate *t = tls_state();
	if (IC_LIKELY(t != NULL)) {
		uint32_t stack = stk_capture(t);
		struct ev_realloc *ev = buf_reserve(t, sizeof(*ev));
		if (IC_LIKELY(ev != NULL)) {
			ev->h = (struct ev_hdr){.type = EV_REALLOC, .len = sizeof(*ev), .aux = stack};
			ev->ts = ts_free;
			ev->ts2 = ts;
			ev->old = (uintptr_t)old;
			ev->new_ = (uintptr_t)p;
			ev->size = n;
			buf_commit(t, sizeof(*ev));
		}
	}
	errno = e;
}

/* ---- resolution fallbacks --------------------------------------------------------------- */

/* Before the real allocator is known (dlsym's own calloc while resolving), the boot arena
 * answers. Never NULL as a trick: NULL only when the arena is exhausted, as ENOMEM. */
static void *boot_or_enomem(size_t n, size_t align)
{
	void *p = boot_alloc(n, align);
	if (!p)
		errno = ENOMEM;
	return p;
}

#define ENSURE(sym)                                                                                \
	do {                                                                                       \
		if (IC_UNLIKELY(!real_##sym))                                                      \
			resolve_all();                                                             \
	} while (0)

/* ---- the hooks ---------------------------------------------------------------------------- */

IC_EXPORT void *malloc(size_t n)
{
	ENSURE(malloc);
	if (IC_UNLIKELY(!real_malloc))
		return boot_or_enomem(n, 16);
	if (!hook_enter(ITF_HOOK_MALLOC))
		return real_malloc(n);
	void *p = real_malloc(n);
	if (IC_LIKELY(p != NULL))
		rec_alloc(p, n);
	hook_leave();
	return p;
}

IC_EXPORT void free(void *p)
{
	if (IC_UNLIKELY(!p))
		return;
	if (IC_UNLIKELY(boot_owns(p)))
		return; /* arena blocks are never reused */
	ENSURE(free);
	if (IC_UNLIKELY(!real_free))
		return; /* cannot happen: no real block exists before real_free is known */
	if (!hook_enter(ITF_HOOK_MALLOC)) {
		real_free(p);
		return;
	}
	rec_free(p);
	real_free(p);
	hook_leave();
}

IC_EXPORT void *calloc(size_t nmemb, size_t size)
{
	ENSURE(calloc);
	if (IC_UNLIKELY(!real_calloc)) {
		size_t total;
		if (__builtin_mul_overflow(nmemb, size, &total)) {
			errno = ENOMEM;
			return NULL;
		}
		return boot_or_enomem(total, 16); /* static storage is zeroed */
	}
	if (!hook_enter(ITF_HOOK_MALLOC))
		return real_calloc(nmemb, size);
	void *p = real_calloc(nmemb, size);
	if (IC_LIKELY(p != NULL))
		rec_alloc(p, nmemb * size); /* cannot overflow: the real calloc succeeded */
	hook_leave();
	return p;
}

/* realloc_common() : realloc and reallocarray share this. glibc semantics: (NULL, n) is
 * malloc(n); (p, 0) frees p and returns NULL (some allocators return a new block instead:
 * then that block is recorded as an allocation); failure leaves p untouched. */
static void *realloc_common(void *old, size_t n)
{
	if (IC_UNLIKELY(old && boot_owns(old))) {
		void *p = malloc(n);
		if (p) {
			size_t keep = boot_size(old);
			memcpy(p, old, keep < n ? keep : n);
		}
		return p;
	}
	if (!hook_enter(ITF_HOOK_MALLOC))
		return real_realloc(old, n);
	void *p;
	if (!old) {
		p = real_realloc(NULL, n);
		if (p)
			rec_alloc(p, n);
	} else if (n == 0) {
		rec_free(old);
		p = real_realloc(old, 0);
		if (p)
			rec_alloc(p, 0);
	} else {
		/* before the call: once old is freed another thread may get its address */
		bool was = IC_UNLIKELY(smp_on) && smp_free((uintptr_t)old);
		uint64_t ts_free = clk_before();
		p = real_realloc(old, n);
		if (p)
			rec_realloc(ts_free, old, p, n, was);
		else if (was)
			smp_keep((uintptr_t)old); /* failed: old is still allocated, and sampled */
	}
	hook_leave();
	return p;
}

IC_EXPORT void *realloc(void *old, size_t n)
{
	ENSURE(realloc);
	if (IC_UNLIKELY(!real_realloc)) {
		void *p = boot_or_enomem(n, 16);
		if (p && old)
			memcpy(p, old, boot_owns(old) && boot_size(old) < n ? boot_size(old) : n);
		return p;
	}
	return realloc_common(old, n);
}

/* glibc's reallocarray calls realloc through the PLT, which would come back here as a
 * nested call; doing its overflow check ourselves and calling the real realloc once is
 * what it does anyway. */
IC_EXPORT void *reallocarray(void *old, size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(old, n);
}

IC_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	ENSURE(posix_memalign);
	if (IC_UNLIKELY(!real_posix_memalign)) {
		void *p = boot_alloc(n, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (!hook_enter(ITF_HOOK_MALLOC))
		return real_posix_memalign(out, align, n);
	int rc = real_posix_memalign(out, align, n);
	if (rc == 0)
		rec_alloc(*out, n);
	hook_leave();
	return rc;
}

/* The other aligned allocators share one shape. */
#define ALIGNED_HOOK(sym, params, args, size_expr, align_expr)                                     \
	IC_EXPORT void *sym params                                                                 \
	{                                                                                          \
		ENSURE(sym);                                                                       \
		if (IC_UNLIKELY(!real_##sym))                                                      \
			return boot_or_enomem(size_expr, align_expr);                              \
		if (!hook_enter(ITF_HOOK_MALLOC))                                                  \
			return real_##sym args;                                                    \
		void *p = real_##sym args;                                                         \
		if (IC_LIKELY(p != NULL))                                                          \
			rec_alloc(p, size_expr);                                                   \
		hook_leave();                                                                      \
		return p;                                                                          \
	}

ALIGNED_HOOK(memalign, (size_t align, size_t n), (align, n), n, align)
ALIGNED_HOOK(aligned_alloc, (size_t align, size_t n), (align, n), n, align)
ALIGNED_HOOK(valloc, (size_t n), (n), n, 4096)
ALIGNED_HOOK(pvalloc, (size_t n), (n), n, 4096)

IC_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (boot_owns(p))
		return boot_size(p);
	ENSURE(malloc_usable_size);
	return real_malloc_usable_size ? real_malloc_usable_size(p) : 0;
}
