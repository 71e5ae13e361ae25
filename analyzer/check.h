/* check.h - `analyze check TRACE --budget FILE` (check.c): budget files, and their
 * evaluation against a report model (model.h). The grammar of keys is in docs/reports.md. */
#ifndef INTERCEPT_CHECK_H
#define INTERCEPT_CHECK_H

#include <stdio.h>

#include "json_in.h"
#include "util.h"

struct ck_seg {
	char *name;   /* a field name */
	char *filter; /* the text inside [...], or NULL */
};

struct ck_rule {
	const char *key;	/* as written in the budget file (points into doc) */
	const struct jv *limit; /* a number >= 0 */
	struct ck_seg *segs;
	size_t n_segs;
};

struct ck_budget {
	struct jv_doc doc;
	struct ck_rule *rules;
	size_t n_rules;
	const char *path;
	VEC(char *) notes; /* after ck_run(): keys that matched no entry (not an error) */
};

/*! ck_load() : read and validate the budget file at path: one JSON object whose keys follow
 * the grammar and whose values are numbers >= 0. @return 0, or AZ_EUSAGE / AZ_EIO with the
 * message set ("budget.json: ..."); b is then empty (ck_free() is still safe). */
int ck_load(struct ck_budget *b, const char *path);

/*! ck_parse() : the same for a budget already in memory (text[0..len), named path in
 * messages, which must outlive b). */
int ck_parse(struct ck_budget *b, const char *text, size_t len, const char *path);

/*! ck_free() : release a budget (safe on one that failed to load). */
void ck_free(struct ck_budget *b);

/*! ck_run() : evaluate every rule against the report model root. Each value above its limit
 * is one line on out: "KEY limit=LIMIT actual=VALUE ENTRY", ENTRY being the object's path
 * ("leaks") or the entry's ("sql[2]") followed by its label as a JSON string.
 * @return the number of breaches, or AZ_EUSAGE with the message set when a key names a
 * field the report does not have or that is not a number (nothing more is printed). */
int ck_run(struct ck_budget *b, const struct jv *report, FILE *out);

#endif /* INTERCEPT_CHECK_H */
