/* stack.h - capturing the caller's stack and interning it (stack.c). */
#ifndef INTERCEPT_STACK_H
#define INTERCEPT_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "tls.h"

/*! stk_init() : set libunwind's per-thread cache and find our own code's address range (its
 * frames are cut from every stack). @return 0 or -errno. */
int stk_init(void);

/*! stk_in_unwinder() : is pc inside libunwind, the profiler's unwinder? Its per-thread cache
 * is freed by a thread-exit destructor, outside any hook, and takes libunwind's own mutex:
 * the lock hooks must not take that for the application's. False before stk_init(). */
bool stk_in_unwinder(uintptr_t pc);

/*! stk_capture() : walk the current stack with libunwind, drop the preload's own frames,
 * keep at most opt_stack_depth frames (counting truncation in t), and intern it.
 * @return the stack id, or 0 when it could not be interned (table full; counted).
 * Hook-path safe; call with the guard held. */
uint32_t stk_capture(struct tstate *t);

#endif /* INTERCEPT_STACK_H */
