/* config.h - the preload's knobs: opt_<name> mirrors INTERCEPT_<NAME> (config.c). Read once
 * by cfg_load() before anything is recorded, then read-only. docs/configuration.md lists
 * them; `intercept --help` shows them. */
#ifndef INTERCEPT_CONFIG_H
#define INTERCEPT_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

extern char opt_output[PATH_MAX];   /* INTERCEPT_OUTPUT: trace path pattern, %p = pid */
extern unsigned opt_hooks;	    /* INTERCEPT_HOOKS: ITF_HOOK_* mask */
extern unsigned opt_malloc;	    /* INTERCEPT_MALLOC: enum itf_malloc_mode */
extern uint64_t opt_max_mb;	    /* INTERCEPT_MAX_MB: trace size bound, 0 = none */
extern unsigned opt_stack_depth;    /* INTERCEPT_STACK_DEPTH: frames kept per stack */
extern unsigned opt_flush_ms;	    /* INTERCEPT_FLUSH_MS: longest time between flushes */
extern bool opt_drop;		    /* INTERCEPT_DROP: drop (and count) instead of waiting */
extern unsigned opt_buffer_kb;	    /* INTERCEPT_BUFFER_KB: per-thread ring size */
extern unsigned opt_pool_mb;	    /* INTERCEPT_POOL_MB: bound on all rings together */
extern int opt_zstd_level;	    /* INTERCEPT_ZSTD_LEVEL */
extern unsigned opt_max_stacks;	    /* INTERCEPT_MAX_STACKS: distinct stacks interned */
extern unsigned opt_snapshot_ms;    /* INTERCEPT_SNAPSHOT_MS: heap snapshot interval, 0 = none */
extern uint64_t opt_sample_bytes;   /* INTERCEPT_SAMPLE: mean bytes between samples, 0 = all */
extern bool opt_quiet;		    /* INTERCEPT_QUIET: no "intercept:" lines */
extern bool opt_url_query;	    /* INTERCEPT_URL_QUERY: keep URL query strings */
extern bool opt_lock_count;	    /* INTERCEPT_LOCK_COUNT: count every lock acquisition */
extern bool opt_sql_literals;	    /* INTERCEPT_SQL_LITERALS: keep literals in SQL text */
extern bool opt_secure;		    /* not a knob: secure-execution mode, nothing recorded */

/*! cfg_load() : read every INTERCEPT_* variable. Unknown or malformed values are reported
 * once as "intercept: ..." and the default is kept. Idempotent; getenv only, no malloc.
 * Ignores the environment entirely in secure-execution mode (AT_SECURE) and sets
 * opt_secure. Can't fail. */
void cfg_load(void);

/*! cfg_trace_path() : expand opt_output for process pid into buf (%p -> pid, %% -> %).
 * A forked child (is_fork_child) whose pattern has no %p gets ".<pid>" inserted before a
 * trailing ".zst", or appended. @return 0, or -ENAMETOOLONG. */
int cfg_trace_path(char *buf, unsigned cap, int pid, bool is_fork_child);

#endif /* INTERCEPT_CONFIG_H */
