/* json_out.h - a small streaming JSON writer (json_out.c): commas, nesting, indentation,
 * escaping, and invalid UTF-8 replaced by U+FFFD so output always parses. */
#ifndef INTERCEPT_JSON_OUT_H
#define INTERCEPT_JSON_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct jw {
	FILE *f;
	int depth;
	bool need_comma[64];
	bool pretty;
};

void jw_init(struct jw *w, FILE *f, bool pretty);
/* key may be NULL inside arrays and at the top level */
void jw_obj(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *s); /* NULL -> null */
void jw_strn(struct jw *w, const char *key, const char *s, size_t n);
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_dbl(struct jw *w, const char *key, double v); /* non-finite -> null */
void jw_bool(struct jw *w, const char *key, bool v);
void jw_null(struct jw *w, const char *key);
/* jw_fixed() : the number v / 10^decimals written exactly, e.g. nanoseconds as microseconds
 * with 3 decimals ("1234.567"); decimals at most 9. */
void jw_fixed(struct jw *w, const char *key, uint64_t v, unsigned decimals);
/* jw_utf8_len() : the length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0
 * when it is not one (for writers of other formats that must emit valid UTF-8). */
size_t jw_utf8_len(const unsigned char *s, size_t n);
/* jw_escape() : write s as a JSON string literal (quotes included) to f. */
void jw_escape(FILE *f, const char *s, size_t n);

#endif /* INTERCEPT_JSON_OUT_H */
