/* resolve.h - the real functions behind every interposed symbol, and the bootstrap arena
 * that serves allocations made while they are being looked up (resolve.c). */
#ifndef INTERCEPT_RESOLVE_H
#define INTERCEPT_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

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

/*! boot_alloc() : bump-allocate n bytes aligned to align (a power of two, <= 4096) from
 * the static arena. @return NULL when it is exhausted (64 KiB). Async-signal-safe. */
void *boot_alloc(size_t n, size_t align);

/*! boot_owns() : is p inside the boot arena? (free/realloc must never pass such a pointer
 * to the real allocator.) */
bool boot_owns(const void *p);

/*! boot_size() : the size requested for an arena block p (boot_owns(p) must hold). */
size_t boot_size(const void *p);

#endif /* INTERCEPT_RESOLVE_H */
