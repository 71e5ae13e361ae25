/* writer.h - the writer thread and the trace file (writer.c): drains every thread's ring,
 * encodes the records of trace_format.h, compresses each chunk as one zstd frame and
 * writes it. */
#ifndef INTERCEPT_WRITER_H
#define INTERCEPT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intern.h"

extern struct intern stk_table; /* stacks (stack.c fills it) */
extern struct intern str_table; /* strings: SQL text, URLs, names */

/*! wr_start() : open the trace for this process, write its header chunk, and start the
 * writer thread (all signals blocked, guard held for its whole life). fork_child says
 * whether this is a forked child starting its own trace.
 * @return 0, or -errno (the trace could not be opened: one "intercept:" line was written
 * and nothing will be recorded). */
int wr_start(bool fork_child);

/*! wr_running() : is a writer thread draining rings? (When not, threads that find their
 * ring full drop events instead of waiting.) Hook-path safe. */
bool wr_running(void);

/*! wr_wake() : ask the writer to drain now. One futex syscall. Hook-path safe. */
void wr_wake(void);

/*! wr_finish() : final drain, END record, close. Idempotent; called by the destructor.
 * Waits at most a few seconds for the writer, never forever. */
void wr_finish(void);

/*! wr_before_exec() : flush everything recorded so far and write an EXEC record, before
 * the process image is replaced. Waits for a drain in progress. Does nothing in a vfork
 * child (another pid sharing our memory). */
void wr_before_exec(const char *path);

/*! wr_meta_put() : append one META record (type 0x40..0xff, len payload bytes, at most
 * WR_META_MAX) to the chunk being built. Only for the producers drain() calls with the
 * writer lock held (lkc_drain()). */
#define WR_META_MAX 8192u
void wr_meta_put(uint8_t type, const uint8_t *payload, size_t len);

/*! wr_fork_prepare() / wr_fork_parent() / wr_fork_child() : pthread_atfork handlers
 * (fork.c calls them in its documented lock order). The child reopens its own trace and
 * starts a fresh writer. */
void wr_fork_prepare(void);
void wr_fork_parent(void);
void wr_fork_child(void);

#endif /* INTERCEPT_WRITER_H */
