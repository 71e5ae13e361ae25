/* json_in.h - a small strict JSON reader (json_in.c), the twin of json_out.h: parses a whole
 * document (RFC 8259, nothing more: no comments, no trailing commas, no NaN, UTF-8 only,
 * duplicate object keys refused) into a read-only tree held in one arena. Used for budget
 * files (`analyze check`), JSON reports given to `analyze diff` / `check`, and the report
 * model that check, diff and the html format walk (model.h). */
#ifndef INTERCEPT_JSON_IN_H
#define INTERCEPT_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

/* One value. Strings are NUL-terminated (len excludes the NUL; a "\u0000" escape makes an
 * embedded NUL, so use len where that matters). Arrays and objects hold n children;
 * objects also n keys, in document order. */
struct jv {
	uint8_t type;  /* enum jv_type */
	bool b;	       /* JV_BOOL */
	bool is_int;   /* JV_NUM: written without fraction or exponent and fits in u */
	bool neg;      /* JV_NUM integer: negative (the value is -u) */
	uint32_t line; /* where the value starts (1-based), for messages */
	size_t n;      /* JV_ARR, JV_OBJ: children; JV_STR: length in bytes */
	union {
		const char *s;	  /* JV_STR */
		struct jv *items; /* JV_ARR, JV_OBJ: n values */
	};
	const char **keys; /* JV_OBJ: n keys (NUL-terminated) */
	uint64_t u;	   /* JV_NUM integer: magnitude, exact */
	double d;	   /* JV_NUM: the value as a double (always set) */
};

struct jv_arena; /* json_in.c */

/* A parsed document: root and the arena that owns every node and string. */
struct jv_doc {
	struct jv *root;
	struct jv_arena *arena;
};

#define JV_MAX_DEPTH 128 /* deeper nesting is refused, never recursed into */

/*! jv_parse() : parse text[0..len) as one JSON value (whitespace around it allowed).
 * what names the input in messages ("budget.json").
 * @return 0 with doc filled (free it with jv_free()), or AZ_ECORRUPT with the message set
 * to "WHAT: line L, column C: PROBLEM", or AZ_ENOMEM; on failure doc is empty. Never reads
 * outside text[0..len). Main thread only (uses az_error). */
int jv_parse(const char *text, size_t len, const char *what, struct jv_doc *doc);

/*! jv_free() : release the document (safe on an empty or already freed one). */
void jv_free(struct jv_doc *doc);

/*! jv_get() : the value of key in object o, or NULL (o not an object, or no such key). */
const struct jv *jv_get(const struct jv *o, const char *key);

/*! jv_num() : o's number as a double into *out. @return false when o is not a number. */
bool jv_num(const struct jv *o, double *out);

#endif /* INTERCEPT_JSON_IN_H */
