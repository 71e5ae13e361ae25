/* json_in.c - owns reading JSON: a strict recursive-descent parser into a tree whose nodes
 * and strings live in one arena (freed at once). Inputs are untrusted (budget files users
 * write, JSON reports from other runs): every read is checked against the end of the text,
 * nesting is bounded by JV_MAX_DEPTH, numbers and strings by explicit limits, and memory
 * goes through xmalloc (the analyzer's bound). Called on the main thread only.
 *
 * Why our own reader instead of jansson or json-c (both in Debian): report values are
 * uint64 nanoseconds and bytes, and both libraries store integers as signed 64-bit (jansson
 * refuses larger ones, json-c clamps them); both allocate a hash table per object, which
 * for a report of a million sites costs several times what this arena does; and this reader
 * gives line and column for every error in the analyzer's own message style. It is ~400
 * lines, tested against a corpus of malformed inputs and random mutations
 * (tests/unit/test_json_in.c, also under ASan). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "json_in.h"
#include "util.h"

#define ARENA_BLOCK (256u << 10)
#define NUM_MAX	    400 /* longest number token accepted, in bytes */

struct jv_block {
	struct jv_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct jv_arena {
	struct jv_block *head;
};

static void *arena_alloc(struct jv_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct jv_block *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = xmalloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void jv_free(struct jv_doc *doc)
{
	if (!doc->arena)
		return;
	struct jv_block *b = doc->arena->head;
	while (b) {
		struct jv_block *next = b->next;
		free(b);
		b = next;
	}
	free(doc->arena);
	doc->arena = NULL;
	doc->root = NULL;
}

struct parser {
	const unsigned char *p, *end, *start;
	const unsigned char *line_start;
	uint32_t line;
	const char *what;
	struct jv_arena *arena;
	VEC(struct jv) vals; /* children of the open arrays and objects, innermost last */
	VEC(const char *) keys;
	VEC(char) str; /* the string being decoded */
};

static int fail(struct parser *ps, const char *msg)
{
	unsigned col = (unsigned)(ps->p - ps->line_start) + 1;
	return az_error(AZ_ECORRUPT, "%s: line %u, column %u: %s", ps->what, ps->line, col, msg);
}

static int oom(void)
{
	return az_error(AZ_ENOMEM, "out of memory reading JSON");
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end) {
		unsigned char c = *ps->p;
		if (c == '\n') {
			ps->line++;
			ps->line_start = ps->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		ps->p++;
	}
}

/* utf8_seq() : length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0], cp, min;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	cp = c & (0xffu >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int str_putc(struct parser *ps, char c)
{
	return VEC_PUSH(ps->str, c) ? oom() : 0;
}

static int put_utf8(struct parser *ps, unsigned cp)
{
	char b[4];
	int n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (int i = 0; i < n; i++)
		if (str_putc(ps, b[i]))
			return AZ_ENOMEM;
	return 0;
}

/* hex4() : the 4 hex digits at p into *cp. @return false when they are not hex. */
static bool hex4(const unsigned char *p, unsigned *cp)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v << 4 | d;
	}
	*cp = v;
	return true;
}

/* parse_string() : the string at ps->p (which is at the opening quote) into the arena.
 * @return 0 with *out and *len set, or an error. */
static int parse_string(struct parser *ps, const char **out, size_t *len)
{
	ps->p++; /* the quote */
	ps->str.n = 0;
	for (;;) {
		if (ps->p >= ps->end)
			return fail(ps, "unterminated string");
		unsigned c = *ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c < 0x20)
			return fail(ps, "control character in a string (escape it)");
		if (c == '\\') {
			if (ps->end - ps->p < 2)
				return fail(ps, "unterminated string");
			unsigned e = ps->p[1], cp;
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *k = e ? strchr(from, (int)e) : NULL;
			if (k) {
				if (str_putc(ps, to[k - from]))
					return AZ_ENOMEM;
				ps->p += 2;
				continue;
			}
			if (e != 'u')
				return fail(ps, "unknown escape in a string");
			if (ps->end - ps->p < 6 || !hex4(ps->p + 2, &cp))
				return fail(ps, "\\u needs four hex digits");
			ps->p += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail(ps, "lone low surrogate in \\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
				    !hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return fail(ps, "high surrogate not followed by a low one");
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (put_utf8(ps, cp))
				return AZ_ENOMEM;
			continue;
		}
		size_t l = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (!l)
			return fail(ps, "invalid UTF-8 in a string");
		for (size_t i = 0; i < l; i++)
			if (str_putc(ps, (char)ps->p[i]))
				return AZ_ENOMEM;
		ps->p += l;
	}
	char *s = arena_alloc(ps->arena, ps->str.n + 1);
	if (!s)
		return oom();
	if (ps->str.n)
		memcpy(s, ps->str.v, ps->str.n);
	s[ps->str.n] = '\0';
	*out = s;
	*len = ps->str.n;
	return 0;
}

static bool is_digit(const struct parser *ps, const unsigned char *q)
{
	return q < ps->end && *q >= '0' && *q <= '9';
}

static int parse_number(struct parser *ps, struct jv *v)
{
	const unsigned char *q = ps->p, *s = ps->p;
	bool integer = true, overflow = false;
	uint64_t u = 0;
	v->type = JV_NUM;
	if (*q == '-') {
		v->neg = true;
		q++;
	}
	if (!is_digit(ps, q))
		return fail(ps, "a number needs digits");
	if (*q == '0') {
		q++;
		if (is_digit(ps, q))
			return fail(ps, "leading zeros are not allowed");
	} else {
		while (is_digit(ps, q)) {
			unsigned d = *q++ - '0';
			if (u > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				u = u * 10 + d;
		}
	}
	if (q < ps->end && *q == '.') {
		integer = false;
		q++;
		if (!is_digit(ps, q))
			return fail(ps, "digits must follow a decimal point");
		while (is_digit(ps, q))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integer = false;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (!is_digit(ps, q))
			return fail(ps, "digits must follow an exponent");
		while (is_digit(ps, q))
			q++;
	}
	size_t n = (size_t)(q - s);
	if (n > NUM_MAX)
		return fail(ps, "number too long");
	char buf[NUM_MAX + 1];
	memcpy(buf, s, n);
	buf[n] = '\0';
	v->d = strtod(buf, NULL); /* the grammar is checked: strtod reads exactly this */
	v->is_int = integer && !overflow && !(v->neg && u > (uint64_t)INT64_MAX + 1);
	v->u = v->is_int ? u : 0;
	if (!v->is_int)
		v->neg = v->d < 0;
	ps->p = q;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* has_duplicate() : whether keys[0..n) repeat a key. */
static int has_duplicate(const char **keys, size_t n, bool *dup)
{
	*dup = false;
	if (n <= 16) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++)
				if (!strcmp(keys[i], keys[j]))
					*dup = true;
		return 0;
	}
	const char **sorted = xmalloc(n * sizeof(*sorted));
	if (!sorted)
		return oom();
	memcpy(sorted, keys, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(sorted[i - 1], sorted[i]))
			*dup = true;
	free(sorted);
	return 0;
}

static int parse_value(struct parser *ps, struct jv *v, unsigned depth);

/* parse_container() : an array or object at ps->p ('[' or '{'). Children go on the scratch
 * stacks while open and move into the arena when it closes. */
static int parse_container(struct parser *ps, struct jv *v, unsigned depth)
{
	bool obj = *ps->p == '{';
	char close = obj ? '}' : ']';
	size_t mark = ps->vals.n, kmark = ps->keys.n;
	int rc;
	if (depth >= JV_MAX_DEPTH)
		return fail(ps, "nested too deeply");
	v->type = obj ? JV_OBJ : JV_ARR;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		if (obj) {
			const char *key;
			size_t klen;
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected a key (a string in double quotes)");
			if ((rc = parse_string(ps, &key, &klen)))
				return rc;
			if (strlen(key) != klen)
				return fail(ps, "NUL character in an object key");
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':' after the key");
			ps->p++;
			if (VEC_PUSH(ps->keys, key))
				return oom();
		}
		struct jv child;
		if ((rc = parse_value(ps, &child, depth + 1)))
			return rc;
		if (VEC_PUSH(ps->vals, child))
			return oom();
		skip_ws(ps);
		if (ps->p >= ps->end)
			return fail(ps, obj ? "unterminated object" : "unterminated array");
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == close) {
			ps->p++;
			break;
		}
		return fail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
	size_t n = ps->vals.n - mark;
	v->n = n;
	if (!(v->items = arena_alloc(ps->arena, n * sizeof(struct jv))))
		return oom();
	memcpy(v->items, ps->vals.v + mark, n * sizeof(struct jv));
	ps->vals.n = mark;
	if (obj) {
		bool dup;
		if (!(v->keys = arena_alloc(ps->arena, n * sizeof(char *))))
			return oom();
		memcpy(v->keys, ps->keys.v + kmark, n * sizeof(char *));
		ps->keys.n = kmark;
		if ((rc = has_duplicate(v->keys, n, &dup)))
			return rc;
		if (dup) {
			/* point the message at the object's start */
			return az_error(AZ_ECORRUPT, "%s: line %u: the object has a key twice",
					ps->what, v->line);
		}
	}
	return 0;
}

static int parse_value(struct parser *ps, struct jv *v, unsigned depth)
{
	memset(v, 0, sizeof(*v));
	skip_ws(ps);
	v->line = ps->line;
	if (ps->p >= ps->end)
		return fail(ps, "expected a value, found the end of the input");
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, v, depth);
	case '"': {
		v->type = JV_STR;
		return parse_string(ps, &v->s, &v->n);
	}
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			uint8_t type;
			bool b;
		} lit[] = {
			{"true", JV_BOOL, true}, {"false", JV_BOOL, false}, {"null", JV_NULL, 0}};
		for (size_t i = 0; i < 3; i++) {
			size_t l = strlen(lit[i].word);
			if ((size_t)(ps->end - ps->p) >= l && !memcmp(ps->p, lit[i].word, l)) {
				v->type = lit[i].type;
				v->b = lit[i].b;
				ps->p += l;
				return 0;
			}
		}
		return fail(ps, "unknown literal (true, false and null are the only ones)");
	}
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, v);
		return fail(ps, "expected a value");
	}
}

int jv_parse(const char *text, size_t len, const char *what, struct jv_doc *doc)
{
	struct parser ps = {
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.start = (const unsigned char *)text,
		.line_start = (const unsigned char *)text,
		.line = 1,
		.what = what,
	};
	int rc;
	doc->root = NULL;
	if (!(doc->arena = xcalloc(1, sizeof(*doc->arena))))
		return oom();
	ps.arena = doc->arena;
	/* a UTF-8 byte order mark is tolerated (editors on some systems write one) */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3, ps.line_start = ps.p;
	struct jv *root = arena_alloc(ps.arena, sizeof(*root));
	if (!root) {
		rc = oom();
		goto out_fail;
	}
	if ((rc = parse_value(&ps, root, 0)))
		goto out_fail;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		rc = fail(&ps, "unexpected text after the value");
		goto out_fail;
	}
	doc->root = root;
	VEC_FREE(ps.vals);
	VEC_FREE(ps.keys);
	VEC_FREE(ps.str);
	return 0;
out_fail:
	VEC_FREE(ps.vals);
	VEC_FREE(ps.keys);
	VEC_FREE(ps.str);
	jv_free(doc);
	return rc;
}

const struct jv *jv_get(const struct jv *o, const char *key)
{
	if (!o || o->type != JV_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}

bool jv_num(const struct jv *o, double *out)
{
	if (!o || o->type != JV_NUM)
		return false;
	*out = o->d;
	return true;
}
