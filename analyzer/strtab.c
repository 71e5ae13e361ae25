/* strtab.c - owns string interning for the export formats: a hash map from the string's
 * 64-bit hash to its id, with linear re-keying when two strings share a hash, and the
 * strings themselves by id. Main thread only; never prints. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

int strtab_init(struct strtab *t)
{
	memset(t, 0, sizeof(*t));
	return hmap_init(&t->index, sizeof(uint64_t), 256);
}

void strtab_free(struct strtab *t)
{
	for (size_t i = 0; i < t->strs.n; i++)
		free(t->strs.v[i]);
	VEC_FREE(t->strs);
	VEC_FREE(t->lens);
	hmap_free(&t->index);
}

/* hash_bytes() : FNV-1a, finished with the map's mixer. */
static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return hash64(h ^ n);
}

int64_t strtab_id(struct strtab *t, const void *s, size_t n, bool *is_new)
{
	uint64_t key = hash_bytes(s, n);
	if (is_new)
		*is_new = false;
	/* equal hashes of different strings: try key + 1, key + 2, ... (in practice never
	 * more than one step with a 64-bit hash) */
	for (;; key++) {
		if (key == HMAP_EMPTY)
			continue;
		uint64_t *id = hmap_get(&t->index, key);
		if (!id)
			break;
		if (t->lens.v[*id] == n && !memcmp(t->strs.v[*id], s, n))
			return (int64_t)*id;
	}
	if (n > UINT32_MAX)
		return -1;
	char *copy = xmalloc(n + 1);
	if (!copy)
		return -1;
	memcpy(copy, s, n);
	copy[n] = '\0';
	uint64_t id = t->strs.n;
	if (VEC_PUSH(t->strs, copy)) {
		free(copy);
		return -1;
	}
	uint64_t *slot;
	if (VEC_PUSH(t->lens, (uint32_t)n) || !(slot = hmap_put(&t->index, key, NULL))) {
		t->strs.n--;
		if (t->lens.n > t->strs.n)
			t->lens.n--;
		free(copy);
		return -1;
	}
	*slot = id;
	if (is_new)
		*is_new = true;
	return (int64_t)id;
}

const char *strtab_str(const struct strtab *t, uint64_t id)
{
	return id < t->strs.n ? t->strs.v[id] : NULL;
}
