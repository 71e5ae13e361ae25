/* hook_dl.c - interposes dlclose, so that the module table (modules.c) logs every object
 * before it is unmapped and notices the unmapping right after: stacks captured inside a
 * library that is later closed still symbolize. dlopen is deliberately NOT interposed:
 * glibc's dlopen looks at its caller's address to pick the RUNPATH/$ORIGIN and namespace
 * it searches, and a wrapper would make every dlopen look like ours. New modules are found
 * instead by the writer (it rescans when a new stack has a frame outside every known module,
 * and every 100 ms) and by the rescan before each dlclose. Runs on application threads.
 * Never: malloc, stdio. */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "hook.h"
#include "modules.h"
#include "resolve.h"

IC_EXPORT int dlclose(void *handle)
{
	if (IC_UNLIKELY(!real_dlclose))
		resolve_all();
	if (IC_UNLIKELY(!real_dlclose))
		return -1;
	bool track = atomic_load_explicit(&ic_state, memory_order_acquire) == IC_READY &&
		     !ic_tls.in_hook;
	if (!track)
		return real_dlclose(handle);
	ic_tls.in_hook = 2;
	mod_rescan(); /* log whatever is mapped now, before it may go */
	int rc = real_dlclose(handle);
	mod_rescan(); /* log what went; bumps the module generation */
	ic_tls.in_hook = 0;
	return rc;
}
