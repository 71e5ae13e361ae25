/* modules.h - the table of loaded modules (executable, shared objects, vdso) and the log of
 * loads and unloads that the writer turns into MODULE_LOAD / MODULE_UNLOAD records. */
#ifndef INTERCEPT_MODULES_H
#define INTERCEPT_MODULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mod_entry {
	uint32_t id;	    /* 1, 2, ... in load order */
	uint32_t gen;	    /* module generation when first seen */
	uint64_t bias;	    /* dlpi_addr */
	uint64_t lo, hi;    /* runtime range of PT_LOAD segments */
	uint64_t load_ts;   /* clock when seen */
	uint64_t unload_ts; /* clock when found gone, 0 while present */
	uint32_t path_off, path_len;
	uint8_t build_id[40];
	uint8_t build_id_len;
	bool present;
};

struct mod_event {
	uint32_t module; /* index into the entries (id - 1) */
	uint32_t unload; /* 0: load, 1: unload */
};

/* The module generation: bumped by every unload, mixed into every stack key so that a
 * stack is always resolved against the modules that were mapped when it was captured. */
extern _Atomic uint32_t mod_gen;

/*! mod_init() : map the tables and take the first inventory. @return 0 or -ENOMEM. */
int mod_init(void);

/*! mod_rescan() : compare dl_iterate_phdr's view with the table and log what appeared or
 * disappeared. Any thread; takes the module lock only inside dl_iterate_phdr's callback
 * (so the order is always loader lock, then module lock). No malloc. */
void mod_rescan(void);

/*! mod_changed() : has the loader added or removed objects since the last rescan? Cheap
 * (dl_iterate_phdr's adds/subs counters need one call); used by the writer. */
bool mod_changed(void);

/*! mod_events() : the log for the writer: *n events, entries at *entries, paths in *arena.
 * Entries and events below *n are immutable. */
const struct mod_event *mod_events(uint32_t *n, const struct mod_entry **entries,
				   const char **arena);

/*! mod_fork_lock() / mod_fork_unlock() : hold the module lock across fork() (fork.c). */
void mod_fork_lock(void);
void mod_fork_unlock(void);

/*! mod_covers() : is addr inside a module the table knows as present? (The writer checks
 * new stacks with it and rescans when a frame lies in a module loaded since.) */
bool mod_covers(uint64_t addr);

#endif /* INTERCEPT_MODULES_H */
