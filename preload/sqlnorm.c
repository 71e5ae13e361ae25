/* sqlnorm.c - owns SQL text normalization (sqlnorm.h): one pass over the statement text
 * with a small tokenizer that knows SQLite's lexical rules for literals, quoted
 * identifiers, parameters and comments (https://www.sqlite.org/lang_expr.html,
 * lang_keywords.html). Called by hook_sqlite.c on application threads, once per prepared
 * statement, with the guard held; also linked into the unit test. Never: malloc, locks,
 * errno, reading past src + len. */
#include <stdint.h>
#include <string.h>

#include "sqlnorm.h"

enum tok { TOK_WORD, TOK_QMARK, TOK_OPEN, TOK_CLOSE, TOK_COMMA, TOK_OTHER };

struct out {
	char *dst;
	size_t cap, n;
	bool space;	    /* whitespace or a comment seen since the last token */
	bool full;	    /* a token did not fit: everything after it is dropped */
	bool after_in;	    /* the last token was the keyword IN */
	size_t list_at;	    /* output offset of the '(' of an IN-list being watched, or SIZE_MAX */
	unsigned items;	    /* bare ? seen in that list */
	bool want_item;	    /* the list expects a ? next (after '(' or ',') */
};

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* SQLite's identifier characters: letters, digits, '_', '$' and every byte >= 0x80. */
static bool is_ident(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* put() : append one token, with the pending space before it. A token that does not fit
 * ends the output (never half a token). */
static void put(struct out *o, enum tok kind, const char *s, size_t len)
{
	if (o->full)
		return;
	size_t need = len + (o->space && o->n ? 1 : 0);
	if (need > o->cap - o->n) {
		o->full = true;
		return;
	}
	if (o->space && o->n)
		o->dst[o->n++] = ' ';
	o->space = false;
	size_t start = o->n;
	memcpy(o->dst + o->n, s, len);
	o->n += len;

	/* Watch IN (?, ?, ...) lists: collapse those of two or more bare ? at the ')'. */
	if (o->list_at != SIZE_MAX) {
		bool ok = false;
		if (kind == TOK_QMARK && o->want_item) {
			o->items++;
			o->want_item = false;
			ok = true;
		} else if (kind == TOK_COMMA && !o->want_item) {
			o->want_item = true;
			ok = true;
		} else if (kind == TOK_CLOSE && !o->want_item && o->items >= 2) {
			static const char folded[] = "(? /*, ... */)";
			o->n = o->list_at; /* fits: the list it replaces was at least "(?,?)" */
			if (sizeof(folded) - 1 <= o->cap - o->n) {
				memcpy(o->dst + o->n, folded, sizeof(folded) - 1);
				o->n += sizeof(folded) - 1;
			} else {
				o->full = true;
			}
		}
		if (!ok)
			o->list_at = SIZE_MAX;
	}
	if (kind == TOK_OPEN && o->after_in) {
		o->list_at = start;
		o->items = 0;
		o->want_item = true;
	}
	o->after_in = kind == TOK_WORD && len == 2 && (s[0] | 0x20) == 'i' && (s[1] | 0x20) == 'n';
}

/* skip_quoted() : the end of a quoted run starting at p (on the opening quote) whose
 * closing character is close; a doubled closing character is an escaped one (SQL's ''
 * and ""). An unterminated run ends at e. */
static const char *skip_quoted(const char *p, const char *e, char close)
{
	for (p++; p < e; p++) {
		if (*p == close) {
			if (close != ']' && p + 1 < e && p[1] == close) {
				p++;
				continue;
			}
			return p + 1;
		}
	}
	return e;
}

/* skip_number() : the end of a numeric literal at p: digits, '.', hex digits and 'x' of
 * 0x..., an exponent with its sign, and the identifier characters SQLite would reject
 * right after a number anyway (so "12abc" is one token, not a number and a word). */
static const char *skip_number(const char *p, const char *e)
{
	bool hex = p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	if (hex)
		p += 2;
	while (p < e) {
		unsigned char c = (unsigned char)*p;
		if (!hex && (c == 'e' || c == 'E') && p + 1 < e && (p[1] == '+' || p[1] == '-')) {
			p += 2;
			continue;
		}
		if (is_ident(c) || c == '.')
			p++;
		else
			break;
	}
	return p;
}

static void literal(struct out *o, const char *s, size_t len, bool keep)
{
	if (keep)
		put(o, TOK_OTHER, s, len);
	else
		put(o, TOK_QMARK, "?", 1);
}

size_t sqn_normalize(const char *src, size_t len, char *dst, size_t cap, bool keep_literals)
{
	struct out o = {.dst = dst, .cap = cap, .list_at = SIZE_MAX};
	const char *p = src, *e = src + len;
	while (p < e && !o.full) {
		unsigned char c = (unsigned char)*p;
		const char *q;
		if (is_space(c)) {
			o.space = true;
			p++;
		} else if (c == '-' && p + 1 < e && p[1] == '-') {
			while (p < e && *p != '\n')
				p++;
			o.space = true;
		} else if (c == '/' && p + 1 < e && p[1] == '*') {
			for (p += 2; p < e && !(*p == '*' && p + 1 < e && p[1] == '/'); p++)
				;
			p = p < e ? p + 2 : e;
			o.space = true;
		} else if (c == '\'') {
			q = skip_quoted(p, e, '\'');
			literal(&o, p, (size_t)(q - p), keep_literals);
			p = q;
		} else if ((c == 'x' || c == 'X') && p + 1 < e && p[1] == '\'') {
			q = skip_quoted(p + 1, e, '\'');
			literal(&o, p, (size_t)(q - p), keep_literals);
			p = q;
		} else if (is_digit(c) || (c == '.' && p + 1 < e && is_digit((unsigned char)p[1]))) {
			q = skip_number(p, e);
			literal(&o, p, (size_t)(q - p), keep_literals);
			p = q;
		} else if (c == '"' || c == '`' || c == '[') {
			q = skip_quoted(p, e, c == '[' ? ']' : (char)c);
			put(&o, TOK_OTHER, p, (size_t)(q - p));
			p = q;
		} else if (c == '?') {
			for (q = p + 1; q < e && is_digit((unsigned char)*q); q++)
				;
			put(&o, q == p + 1 ? TOK_QMARK : TOK_OTHER, p, (size_t)(q - p));
			p = q;
		} else if ((c == ':' || c == '@' || c == '$') && p + 1 < e &&
			   is_ident((unsigned char)p[1])) {
			for (q = p + 1; q < e && is_ident((unsigned char)*q); q++)
				;
			put(&o, TOK_OTHER, p, (size_t)(q - p));
			p = q;
		} else if (is_ident(c)) {
			for (q = p + 1; q < e && is_ident((unsigned char)*q); q++)
				;
			put(&o, TOK_WORD, p, (size_t)(q - p));
			p = q;
		} else {
			enum tok k = c == '(' ? TOK_OPEN : c == ')' ? TOK_CLOSE
					       : c == ',' ? TOK_COMMA : TOK_OTHER;
			put(&o, k, p, 1);
			p++;
		}
	}
	/* trailing semicolons (sqlite3_sql() includes the one that ended the statement) */
	while (o.n && (o.dst[o.n - 1] == ';' || o.dst[o.n - 1] == ' '))
		o.n--;
	return o.n;
}
