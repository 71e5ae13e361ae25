/* sqlnorm.h - normalizing SQL statement text (sqlnorm.c) so that executions of one
 * statement with different literal values count as one statement, and so that literal
 * values (passwords, e-mail addresses, tokens) never reach the trace unless the user asks
 * for them (INTERCEPT_SQL_LITERALS=1). docs/sqlite.md lists the rules. */
#ifndef INTERCEPT_SQLNORM_H
#define INTERCEPT_SQLNORM_H

#include <stdbool.h>
#include <stddef.h>

/*! sqn_normalize() : normalize the SQL text src[0..len) into dst (cap bytes):
 *   - string literals ('...'), numbers (12, 1.5e3, 0x1f, .5) and blob literals (x'00ff')
 *     become `?` (kept as written when keep_literals);
 *   - comments (-- to the end of the line, C-style) are dropped;
 *   - every run of whitespace becomes one space; leading and trailing whitespace and
 *     trailing semicolons are dropped;
 *   - a list of two or more bare `?` after IN becomes `IN (?` followed by the comment
 *     `, ...` and `)`: still valid SQL, so that `analyze --explain` can prepare the
 *     normalized text;
 *   - identifiers, keywords, quoted identifiers ("x", `x`, [x]) and parameters (?1, :name,
 *     @name, $name) are kept as written.
 * The output is cut at cap bytes; a literal is never cut half-way (it is one `?`), so a cut
 * never leaks part of a value. Not NUL-terminated.
 * @return the number of bytes written. Pure: no malloc, no locks, no errno; hook-path
 * safe and callable from any thread. */
size_t sqn_normalize(const char *src, size_t len, char *dst, size_t cap, bool keep_literals);

#endif /* INTERCEPT_SQLNORM_H */
