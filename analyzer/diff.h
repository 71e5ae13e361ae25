/* diff.h - `analyze diff BASE NEW` (diff.c): what got slower or grew between two report
 * models (model.h), per entry of every section, in absolute and relative terms. */
#ifndef INTERCEPT_DIFF_H
#define INTERCEPT_DIFF_H

#include <stdbool.h>
#include <stdio.h>

#include "json_in.h"

struct df_options {
	bool json;			  /* JSON ("intercept-diff/1") instead of text */
	unsigned top;			  /* entries per section when top_given */
	bool top_given;			  /* else: text shows 10 grown entries, JSON every entry */
	const char *base_name, *new_name; /* shown as the two sides */
};

/*! df_run() : write the diff of base and neu (report model roots) to out.
 * @return 0, or AZ_ENOMEM / AZ_EIO with the message set. */
int df_run(const struct jv *base, const struct jv *neu, const struct df_options *o, FILE *out);

#endif /* INTERCEPT_DIFF_H */
