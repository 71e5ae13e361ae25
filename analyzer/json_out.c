/* json_out.c - owns JSON syntax for every JSON the analyzer writes (reports, chrome
 * traces). Main thread only. */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "json_out.h"

void jw_init(struct jw *w, FILE *f, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
}

static void indent(struct jw *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

size_t jw_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void jw_escape(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc((int)c, f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			default:
				fprintf(f, "\\u%04x", c);
			}
			i++;
		} else if (c < 0x80) {
			fputc((int)c, f);
			i++;
		} else {
			size_t l = jw_utf8_len(s + i, n - i);
			if (l) {
				fwrite(s + i, 1, l, f);
				i += l;
			} else {
				fputs("\\ufffd", f);
				i++;
			}
		}
	}
	fputc('"', f);
}

static void item(struct jw *w, const char *key)
{
	if (w->depth > 0 && w->need_comma[w->depth])
		fputc(',', w->f);
	if (w->depth > 0)
		w->need_comma[w->depth] = true;
	if (w->depth > 0)
		indent(w);
	if (key) {
		jw_escape(w->f, key, strlen(key));
		fputs(w->pretty ? ": " : ":", w->f);
	}
}

static void open_(struct jw *w, const char *key, char c)
{
	item(w, key);
	fputc(c, w->f);
	if (w->depth < 63)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct jw *w, char c)
{
	bool had = w->need_comma[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (had)
		indent(w);
	fputc(c, w->f);
	if (w->depth == 0 && w->pretty)
		fputc('\n', w->f);
}

void jw_obj(struct jw *w, const char *key)
{
	open_(w, key, '{');
}
void jw_obj_end(struct jw *w)
{
	close_(w, '}');
}
void jw_arr(struct jw *w, const char *key)
{
	open_(w, key, '[');
}
void jw_arr_end(struct jw *w)
{
	close_(w, ']');
}

void jw_strn(struct jw *w, const char *key, const char *s, size_t n)
{
	item(w, key);
	if (!s)
		fputs("null", w->f);
	else
		jw_escape(w->f, s, n);
}

void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_strn(w, key, s, s ? strlen(s) : 0);
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	item(w, key);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void jw_i64(struct jw *w, const char *key, int64_t v)
{
	item(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void jw_dbl(struct jw *w, const char *key, double v)
{
	item(w, key);
	if (isfinite(v))
		fprintf(w->f, "%.6g", v);
	else
		fputs("null", w->f);
}

void jw_fixed(struct jw *w, const char *key, uint64_t v, unsigned decimals)
{
	uint64_t div = 1;
	for (unsigned i = 0; i < decimals && i < 9; i++)
		div *= 10;
	item(w, key);
	if (div == 1)
		fprintf(w->f, "%llu", (unsigned long long)v);
	else
		fprintf(w->f, "%llu.%0*llu", (unsigned long long)(v / div),
			(int)(decimals < 9 ? decimals : 9), (unsigned long long)(v % div));
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	item(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	item(w, key);
	fputs("null", w->f);
}
