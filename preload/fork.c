/* fork.c - owns what happens around fork(). Unlike heaptrack, children are traced: each
 * forked child writes its own trace (%p, or ".<pid>" inserted) with its own writer.
 *
 * Lock order, taken by prepare and released in reverse by parent:
 *   1. the writer lock (writer.c): no chunk is half built or half written;
 *   2. the module lock (modules.c): no module table update is half done;
 *   3. the interning gate (intern.c): no stack or string is half inserted.
 * The child finds all three held by its only thread and resets them, empties every ring
 * (their contents are the parent's, which writes them), and starts a fresh trace. Blocks
 * allocated before the fork are not in the child's trace; its frees of them are counted as
 * unmatched (the header says ITF_HDR_FORK_CHILD). vfork and posix_spawn run no handlers:
 * their children exec at once without allocating. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "fork.h"
#include "hook.h"
#include "intern.h"
#include "lockcount.h"
#include "modules.h"
#include "tls.h"
#include "writer.h"

/* The forking thread's guard while the handlers run: its allocations inside fork (glibc's
 * own) must not be recorded into a ring that the child is about to reset. */
static IC_TLS uint8_t fork_saved_guard;

static void fork_prepare(void)
{
	fork_saved_guard = ic_tls.in_hook;
	ic_tls.in_hook = 2;
	if (atomic_load(&ic_state) != IC_READY)
		return;
	wr_fork_prepare();
	mod_fork_lock();
	intern_fork_prepare();
}

static void fork_parent(void)
{
	if (atomic_load(&ic_state) == IC_READY) {
		intern_fork_done();
		mod_fork_unlock();
		wr_fork_parent();
	}
	ic_tls.in_hook = fork_saved_guard;
}

static void fork_child(void)
{
	if (atomic_load(&ic_state) == IC_READY) {
		intern_fork_done();
		mod_fork_unlock();
		tls_reset_after_fork();
		lkc_fork_child();
		wr_fork_child();
	}
	ic_tls.in_hook = fork_saved_guard;
}

void fork_install(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
