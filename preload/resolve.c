/* resolve.c - owns the real_* pointers and the bootstrap arena. resolve_all() runs from the
 * constructor and lazily from the first hook on any thread, because other libraries'
 * constructors may allocate before ours runs (mutrace's lesson). dlsym itself calls calloc
 * (for its error buffer), which arrives back in our calloc hook with real_calloc still
 * NULL: the arena answers it, and free/realloc recognise arena blocks by address
 * (heaptrack's DummyPool idea, musl's lite_malloc bump allocator). Never: malloc, locks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "ic.h"
#include "resolve.h"

void *(*real_malloc)(size_t);
void (*real_free)(void *);
void *(*real_calloc)(size_t, size_t);
void *(*real_realloc)(void *, size_t);
int (*real_posix_memalign)(void **, size_t, size_t);
void *(*real_memalign)(size_t, size_t);
void *(*real_aligned_alloc)(size_t, size_t);
void *(*real_valloc)(size_t);
void *(*real_pvalloc)(size_t);
size_t (*real_malloc_usable_size)(void *);
void *(*real_dlopen)(const char *, int);
int (*real_dlclose)(void *);

/* Each arena block is preceded by a 16-byte header holding its requested size. */
#define BOOT_SIZE (64u << 10)
static _Alignas(4096) unsigned char boot_arena[BOOT_SIZE];
/* Bump offset into boot_arena; only ever grows (blocks are never reused). */
static _Atomic size_t boot_used;

void *boot_alloc(size_t n, size_t align)
{
	if (align < 16)
		align = 16;
	if (n > BOOT_SIZE || align > 4096)
		return NULL;
	size_t old = atomic_load_explicit(&boot_used, memory_order_relaxed);
	for (;;) {
		size_t start = (old + 16 + align - 1) & ~(align - 1);
		size_t end = start + ((n + 15) & ~(size_t)15);
		if (end > BOOT_SIZE)
			return NULL;
		if (atomic_compare_exchange_weak_explicit(&boot_used, &old, end,
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			memcpy(boot_arena + start - 16, &n, sizeof(n));
			return boot_arena + start; /* static storage: already zeroed */
		}
	}
}

bool boot_owns(const void *p)
{
	return (const unsigned char *)p >= boot_arena &&
	       (const unsigned char *)p < boot_arena + BOOT_SIZE;
}

size_t boot_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - 16, sizeof(n));
	return n;
}

#define RESOLVE(sym) real_##sym = (__typeof__(real_##sym))dlsym(RTLD_NEXT, #sym)

void resolve_all(void)
{
	/* 0 = not started, 1 = running on some thread, 2 = done. Others do not wait: their
	 * allocations meanwhile go to the arena, which needs no real function. */
	static _Atomic int state;
	int expect = 0;
	if (atomic_load_explicit(&state, memory_order_acquire) == 2)
		return;
	if (!atomic_compare_exchange_strong(&state, &expect, 1))
		return;
	/* free and realloc first: once malloc is set, blocks from the real allocator exist
	 * and must be freed by it. */
	RESOLVE(free);
	RESOLVE(realloc);
	RESOLVE(calloc);
	RESOLVE(posix_memalign);
	RESOLVE(memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(valloc);
	RESOLVE(pvalloc);
	RESOLVE(malloc_usable_size);
	RESOLVE(dlopen);
	RESOLVE(dlclose);
	RESOLVE(malloc);
	atomic_store_explicit(&state, 2, memory_order_release);
}

/* ---- the lock functions (hook_pthread.c) -----------------------------------------------
 * glibc 2.36 keeps several versions of some of them (pthread_mutex_timedlock@GLIBC_2.2.5
 * and @@GLIBC_2.34, pthread_mutex_clocklock@GLIBC_2.30 and @@GLIBC_2.34, ...), but `nm -D
 * --with-symbol-versions` shows every version of one function at the same address: they
 * are one implementation, moved from libpthread to libc in 2.34. So plain dlsym (the
 * default version) is right here; dlvsym is needed only where versions differ in
 * behaviour, like pthread_cond_* (GLIBC_2.2.5 vs 2.3.2), which this hook does not wrap. */
_Atomic(int (*)(pthread_mutex_t *)) real_pthread_mutex_lock;
_Atomic(int (*)(pthread_mutex_t *)) real_pthread_mutex_trylock;
_Atomic(int (*)(pthread_mutex_t *, const struct timespec *)) real_pthread_mutex_timedlock;
_Atomic(int (*)(pthread_mutex_t *, clockid_t, const struct timespec *))
	real_pthread_mutex_clocklock;
_Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_rdlock;
_Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_wrlock;
_Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_tryrdlock;
_Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_trywrlock;
_Atomic(int (*)(pthread_rwlock_t *, const struct timespec *)) real_pthread_rwlock_timedrdlock;
_Atomic(int (*)(pthread_rwlock_t *, const struct timespec *)) real_pthread_rwlock_timedwrlock;
_Atomic(int (*)(pthread_rwlock_t *, clockid_t, const struct timespec *))
	real_pthread_rwlock_clockrdlock;
_Atomic(int (*)(pthread_rwlock_t *, clockid_t, const struct timespec *))
	real_pthread_rwlock_clockwrlock;

/* RESOLVE_LK: dlsym a lock function (idempotent: every caller stores the same value). */
#define RESOLVE_LK(sym)                                                                            \
	do {                                                                                       \
		void *p_ = dlsym(RTLD_NEXT, #sym);                                                 \
		if (p_)                                                                            \
			atomic_store_explicit(&real_##sym, (__typeof__(LK_REAL(sym)))p_,           \
					      memory_order_relaxed);                               \
	} while (0)

void resolve_pthread(void)
{
	static _Atomic int done;
	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	RESOLVE_LK(pthread_mutex_trylock);
	RESOLVE_LK(pthread_mutex_lock);
	RESOLVE_LK(pthread_rwlock_tryrdlock);
	RESOLVE_LK(pthread_rwlock_trywrlock);
	RESOLVE_LK(pthread_rwlock_rdlock);
	RESOLVE_LK(pthread_rwlock_wrlock);
	RESOLVE_LK(pthread_mutex_timedlock);
	RESOLVE_LK(pthread_mutex_clocklock);
	RESOLVE_LK(pthread_rwlock_timedrdlock);
	RESOLVE_LK(pthread_rwlock_timedwrlock);
	RESOLVE_LK(pthread_rwlock_clockrdlock);
	RESOLVE_LK(pthread_rwlock_clockwrlock);
	atomic_store_explicit(&done, 1, memory_order_release);
}
