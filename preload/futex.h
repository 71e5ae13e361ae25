/* futex.h - the two futex calls the preload blocks and wakes with (writer wake-ups, threads
 * waiting for ring space, the final flush). Slow paths only: each is a system call. */
#ifndef INTERCEPT_FUTEX_H
#define INTERCEPT_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*! futex_wait_ms() : sleep while *word == expect, at most ms milliseconds (or a wake).
 * Spurious returns are fine: callers re-check their condition. */
static inline void futex_wait_ms(_Atomic uint32_t *word, uint32_t expect, unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expect, &ts, NULL, 0);
}

static inline void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

#endif /* INTERCEPT_FUTEX_H */
