/* resolve.h - the real functions behind every interposed symbol, and the bootstrap arena
 * that serves allocations made while they are being looked up (resolve.c). */
#ifndef INTERCEPT_RESOLVE_H
#define INTERCEPT_RESOLVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

extern void *(*real_malloc)(size_t);
extern void (*real_free)(void *);
extern void *(*real_calloc)(size_t, size_t);
extern void *(*real_realloc)(void *, size_t);
extern int (*real_posix_memalign)(void **, size_t, size_t);
extern void *(*real_memalign)(size_t, size_t);
extern void *(*real_aligned_alloc)(size_t, size_t);
extern void *(*real_valloc)(size_t);
extern void *(*real_pvalloc)(size_t);
extern size_t (*real_malloc_usable_size)(void *);
extern void *(*real_dlopen)(const char *, int);
extern int (*real_dlclose)(void *);

/*! resolve_all() : look up every real symbol with dlsym(RTLD_NEXT, ...). Idempotent and
 * safe to call from any hook on any thread, before or after the constructor; allocations
 * that dlsym makes meanwhile are served by the boot arena. A symbol that cannot be found
 * stays NULL (its hook then serves from the arena or fails as the real call would).
 * Can't fail. */
void resolve_all(void);

/* The lock functions hook_pthread.c wraps. Atomic because any thread may resolve them at
 * any time, also before the constructor; load them with LK_REAL() (a plain load). */
#define LK_REAL(sym) atomic_load_explicit(&real_##sym, memory_order_relaxed)
extern _Atomic(int (*)(pthread_mutex_t *)) real_pthread_mutex_lock;
extern _Atomic(int (*)(pthread_mutex_t *)) real_pthread_mutex_trylock;
extern _Atomic(int (*)(pthread_mutex_t *, const struct timespec *)) real_pthread_mutex_timedlock;
extern _Atomic(int (*)(pthread_mutex_t *, clockid_t, const struct timespec *))
	real_pthread_mutex_clocklock;
extern _Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_rdlock;
extern _Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_wrlock;
extern _Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_tryrdlock;
extern _Atomic(int (*)(pthread_rwlock_t *)) real_pthread_rwlock_trywrlock;
extern _Atomic(int (*)(pthread_rwlock_t *, const struct timespec *))
	real_pthread_rwlock_timedrdlock;
extern _Atomic(int (*)(pthread_rwlock_t *, const struct timespec *))
	real_pthread_rwlock_timedwrlock;
extern _Atomic(int (*)(pthread_rwlock_t *, clockid_t, const struct timespec *))
	real_pthread_rwlock_clockrdlock;
extern _Atomic(int (*)(pthread_rwlock_t *, clockid_t, const struct timespec *))
	real_pthread_rwlock_clockwrlock;

/*! resolve_pthread() : look up the lock functions above with dlsym(RTLD_NEXT, ...). Run by
 * ic_lazy_init() (the first hook of any kind, or the constructor) and by any lock hook that
 * finds a pointer NULL. Unlike resolve_all() it never returns early because another thread
 * is resolving: a lock call cannot be served from an arena, so each caller resolves for
 * itself (dlsym is thread-safe, takes no lock the application can hold, and all callers
 * store the same values). A symbol that cannot be found stays NULL and its hook returns
 * ENOSYS (cannot happen with the glibc that links the program). Can't fail. */
void resolve_pthread(void);

/*! boot_alloc() : bump-allocate n bytes aligned to align (a power of two, <= 4096) from
 * the static arena. @return NULL when it is exhausted (64 KiB). Async-signal-safe. */
void *boot_alloc(size_t n, size_t align);

/*! boot_owns() : is p inside the boot arena? (free/realloc must never pass such a pointer
 * to the real allocator.) */
bool boot_owns(const void *p);

/*! boot_size() : the size requested for an arena block p (boot_owns(p) must hold). */
size_t boot_size(const void *p);

#endif /* INTERCEPT_RESOLVE_H */
