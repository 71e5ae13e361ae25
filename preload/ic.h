/* ic.h - macros and small helpers shared by every preload file: export marking, branch
 * hints, initial-exec TLS, hook-path asserts and the one logging primitive. Nothing here
 * allocates or takes a lock. */
#ifndef INTERCEPT_IC_H
#define INTERCEPT_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Only interposed symbols are exported; everything else is hidden by -fvisibility=hidden. */
#define IC_EXPORT __attribute__((visibility("default")))
#define IC_TLS __thread __attribute__((tls_model("initial-exec")))
#define IC_LIKELY(x) __builtin_expect(!!(x), 1)
#define IC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define IC_NOINLINE __attribute__((noinline))
#define IC_INLINE static inline __attribute__((always_inline))
#define IC_CACHELINE 64

#ifndef IC_DEBUG
#define IC_DEBUG 0
#endif
static const bool cfg_debug = IC_DEBUG;

/* IC_ASSERT: documents an invariant. Debug builds trap without touching stdio or malloc;
 * release builds compile it away, because the profiler must never kill its host. */
#define IC_ASSERT(x)                                                                               \
	do {                                                                                       \
		if (cfg_debug && !(x))                                                             \
			__builtin_trap();                                                          \
	} while (0)

#define IC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*! ic_log() : write one line "intercept: <message>\n" to stderr with write(2). Supports
 * %s, %d, %u, %lu, %llu, %x, %lx, %% only (no stdio, no malloc: safe anywhere, including
 * the hook path and signal handlers). Silent when INTERCEPT_QUIET=1. Never fails. */
void ic_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*! ic_fmt() : the formatter behind ic_log(), for building strings (paths) without stdio.
 * Writes at most cap-1 bytes plus a NUL. @return the length written. */
size_t ic_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*! ic_gettid() : the kernel thread id, by system call (not cached). */
uint32_t ic_gettid(void);

#endif /* INTERCEPT_IC_H */
