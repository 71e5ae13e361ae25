/* util.h - the analyzer's shared plumbing (util.c): error codes and messages, checked
 * allocation, growable arrays, an open-addressing hash map from 64-bit keys, and a string
 * builder. Nothing here prints or exits: main.c alone prints "analyze:" and picks the exit
 * status. */
#ifndef INTERCEPT_UTIL_H
#define INTERCEPT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum az_err {
	AZ_OK = 0,
	AZ_EUSAGE = -1,	  /* bad command line */
	AZ_EIO = -2,	  /* cannot open or read a file */
	AZ_ECORRUPT = -3, /* the trace is malformed */
	AZ_ENOMEM = -4,	  /* out of memory, or a bound on memory was reached */
	AZ_EVERSION = -5, /* a trace format this analyzer does not know */
	AZ_ENOTTRACE = -6, /* not an intercept trace at all */
};

/*! az_error() : record the message for the current failure (the first one wins until
 * az_error_clear()). In debug builds the caller's file:line is prepended. @return code. */
int az_error_at(const char *file, int line, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define az_error(code, ...) az_error_at(__FILE__, __LINE__, code, __VA_ARGS__)
const char *az_error_msg(void);
void az_error_clear(void);

/* RETURN_ERR_IF: decoders check every length this way (zstd's RETURN_ERROR_IF). */
#define RETURN_ERR_IF(cond, code, ...)                                                             \
	do {                                                                                       \
		if (cond)                                                                          \
			return az_error(code, __VA_ARGS__);                                        \
	} while (0)

/* ALWAYS/NEVER: "cannot happen" branches that are still handled (SQLite's idiom). */
#define ALWAYS(x) (x)
#define NEVER(x) (x)

/*! xmalloc() family : allocation that returns NULL on failure like malloc, but also fails
 * (NULL) beyond the analyzer's memory bound (ANALYZE_MAX_MB, default 16384 MiB). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);

/*! vec_grow() : make room for at least want elements of size sz in *data (capacity *cap).
 * @return 0 or AZ_ENOMEM (then data and cap are unchanged). */
int vec_grow(void **data, size_t *cap, size_t want, size_t sz);
#define VEC(type)                                                                                  \
	struct {                                                                                   \
		type *v;                                                                           \
		size_t n, cap;                                                                     \
	}
#define VEC_PUSH(vec, item)                                                                        \
	((vec).n < (vec).cap || !vec_grow((void **)&(vec).v, &(vec).cap, (vec).n + 1,               \
					  sizeof(*(vec).v))                                         \
		 ? ((vec).v[(vec).n++] = (item), 0)                                                \
		 : AZ_ENOMEM)
#define VEC_FREE(vec) (free((vec).v), (vec).v = NULL, (vec).n = (vec).cap = 0)

/* ---- u64 -> value hash map (open addressing, linear probing, tombstone-free deletion) -- */

struct hmap {
	uint64_t *keys;	  /* HMAP_EMPTY marks a free slot */
	uint8_t *vals;	  /* val_size bytes per slot */
	size_t val_size;
	size_t mask;	  /* slots - 1 */
	size_t n;	  /* live entries */
};
#define HMAP_EMPTY UINT64_MAX /* the one key that cannot be stored */

int hmap_init(struct hmap *m, size_t val_size, size_t expect);
void hmap_free(struct hmap *m);
/*! hmap_get() : pointer to key's value, or NULL. */
void *hmap_get(const struct hmap *m, uint64_t key);
/*! hmap_put() : pointer to key's value, inserted zeroed if absent (*is_new says which).
 * @return NULL when out of memory (the map is unchanged). */
void *hmap_put(struct hmap *m, uint64_t key, bool *is_new);
/*! hmap_del() : remove key if present (backward-shift deletion, no tombstones). */
bool hmap_del(struct hmap *m, uint64_t key);
/*! hmap_next() : iterate: start with *it = 0; @return the next slot's key pointer or NULL. */
bool hmap_next(const struct hmap *m, size_t *it, uint64_t *key, void **val);

static inline uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* ---- byte strings -> ids 1, 2, ... (merge.c, diff.c) ------------------------------------- */

struct strmap {
	struct hmap index;		    /* hash -> id (rehashed linearly on collisions) */
	VEC(struct { char *s; size_t len; }) keys; /* by id - 1, NUL-terminated copies */
};
int strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/*! strmap_intern() : the id of s[0..n), added when new (*is_new says which).
 * @return the id (>= 1), or 0 when out of memory (nothing changed). */
uint32_t strmap_intern(struct strmap *m, const char *s, size_t n, bool *is_new);

/* ---- string builder -------------------------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom; /* an append failed; the content is truncated */
};
void sb_putc(struct sbuf *b, char c);
void sb_put(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct sbuf *b);

/*! fmt_bytes() / fmt_ns() : human-readable "1.5 MiB", "12.3 ms" into buf. @return buf. */
const char *fmt_bytes(char *buf, size_t cap, double bytes);
const char *fmt_ns(char *buf, size_t cap, double ns);
const char *fmt_count(char *buf, size_t cap, uint64_t n);

#endif /* INTERCEPT_UTIL_H */
