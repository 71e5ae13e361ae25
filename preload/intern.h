/* intern.h - lock-free interning of byte strings to small dense ids (intern.c). Used for
 * stacks (arrays of return addresses) and strings (SQL text, URLs). Insert-only: an id, once
 * given, names the same bytes for the life of the process, and its definition stays in
 * memory so the writer can emit it (and a fork child can emit it again). */
#ifndef INTERCEPT_INTERN_H
#define INTERCEPT_INTERN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ic.h"

struct intern_def {
	_Atomic uint32_t ready; /* 1 once len/off/bytes are written (release) */
	uint32_t len;		/* bytes */
	uint64_t off;		/* into the arena */
};

struct intern {
	_Atomic uint64_t *keys;	  /* per slot: 0 empty, INTERN_BUSY, or hash|1 */
	uint32_t *ids;		  /* per slot: id, valid once keys[slot] is a hash */
	uint64_t slot_mask;	  /* slots - 1 (slots = 2 * max_ids, power of two) */
	struct intern_def *defs;  /* per id (1..max_ids) */
	uint8_t *arena;		  /* key bytes, 8-byte aligned */
	uint64_t arena_cap;
	uint32_t max_ids;
	uint64_t seed;
	_Alignas(IC_CACHELINE) _Atomic uint64_t arena_used;
	_Atomic uint32_t next_id; /* last id given; ids start at 1 */
	_Atomic uint64_t overflow; /* lookups that found the table or arena full */
};

/*! intern_init() : reserve address space for max_ids keys averaging avg_len bytes (pages
 * are touched only as used). @return 0 or -ENOMEM. Not thread-safe; init.c calls it once. */
int intern_init(struct intern *in, uint32_t max_ids, uint32_t avg_len, uint64_t seed);

/*! intern_get() : the id of the len bytes at key, adding them on first sight.
 * @return id >= 1, or 0 when the table or its arena is full (counted in overflow).
 * Lock-free and hook-path safe: no malloc; may spin briefly while another thread finishes
 * inserting the same slot, or while a fork is being prepared. */
uint32_t intern_get(struct intern *in, const void *key, uint32_t len);

/*! intern_bytes() : the definition of id, or NULL when it is not (yet) complete. */
const uint8_t *intern_bytes(const struct intern *in, uint32_t id, uint32_t *len);

/*! intern_last_id() : the highest id handed out so far (its definition may still be in
 * progress: check intern_bytes()). */
uint32_t intern_last_id(const struct intern *in);

/*! intern_fork_prepare() / intern_fork_done() : block new insertions (and wait for those
 * in flight) around fork(), so that a child never inherits a half-inserted slot.
 * Shared by all tables. */
void intern_fork_prepare(void);
void intern_fork_done(void);

#endif /* INTERCEPT_INTERN_H */
