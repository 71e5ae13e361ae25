/* strtab.h - interning byte strings to dense ids (strtab.c), for the formats that write
 * tables of distinct names: pprof's string table, functions and locations, sqlite's frames.
 */
#ifndef INTERCEPT_STRTAB_H
#define INTERCEPT_STRTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct strtab {
	struct hmap index; /* probe key (from the hash) -> id */
	VEC(char *) strs;  /* by id: a NUL-terminated copy (the bytes may hold NULs too) */
	VEC(uint32_t) lens;
};

/*! strtab_init() : an empty table. @return 0 or AZ_ENOMEM. */
int strtab_init(struct strtab *t);

/*! strtab_free() : release the table and every string it holds. */
void strtab_free(struct strtab *t);

/*! strtab_id() : the id of the n bytes at s: ids are 0, 1, 2, ... in order of first sight.
 * A new string is copied (*is_new set when is_new is not NULL). Work per call is bounded
 * by the length plus a short probe (a full 64-bit hash decides; equal hashes compare
 * bytes). @return the id, or -1 when out of memory (the table is unchanged). */
int64_t strtab_id(struct strtab *t, const void *s, size_t n, bool *is_new);

/*! strtab_str() : the string with id (NUL-terminated). @return NULL for an unknown id. */
const char *strtab_str(const struct strtab *t, uint64_t id);

#endif /* INTERCEPT_STRTAB_H */
