/* util.c - owns the analyzer's error message, its memory bound, growable arrays, the u64
 * hash map and the string builder. Called from every analyzer file on the main thread (and
 * the allocation functions from decoder threads too: they only touch an atomic). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static char err_msg[1024];
static int err_set;

int az_error_at(const char *file, int line, int code, const char *fmt, ...)
{
	if (err_set)
		return code;
	va_list ap;
	va_start(ap, fmt);
	size_t off = 0;
#ifndef NDEBUG
	if (getenv("ANALYZE_DEBUG"))
		off = (size_t)snprintf(err_msg, sizeof(err_msg), "[%s:%d] ", file, line);
#else
	(void)file;
	(void)line;
#endif
	if (off < sizeof(err_msg))
		vsnprintf(err_msg + off, sizeof(err_msg) - off, fmt, ap);
	va_end(ap);
	err_set = 1;
	return code;
}

const char *az_error_msg(void)
{
	return err_set ? err_msg : "unknown error";
}

void az_error_clear(void)
{
	err_set = 0;
	err_msg[0] = '\0';
}

/* ---- memory bound ------------------------------------------------------------------------ */

/* Bytes handed out through x*alloc are not tracked individually (that would need a
 * header); the bound applies to single requests, which is where a corrupt length would
 * ask for absurd sizes. */
static size_t max_request(void)
{
	static size_t cached;
	if (!cached) {
		const char *s = getenv("ANALYZE_MAX_MB");
		unsigned long long mb = s ? strtoull(s, NULL, 10) : 0;
		cached = (size_t)(mb ? mb : 16384) << 20;
	}
	return cached;
}

void *xmalloc(size_t n)
{
	return n > max_request() ? NULL : malloc(n ? n : 1);
}

void *xcalloc(size_t n, size_t size)
{
	size_t t;
	if (__builtin_mul_overflow(n, size, &t) || t > max_request())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *xrealloc(void *p, size_t n)
{
	return n > max_request() ? NULL : realloc(p, n ? n : 1);
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

int vec_grow(void **data, size_t *cap, size_t want, size_t sz)
{
	if (want <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			return AZ_ENOMEM;
		ncap *= 2;
	}
	size_t bytes;
	if (__builtin_mul_overflow(ncap, sz, &bytes))
		return AZ_ENOMEM;
	void *p = xrealloc(*data, bytes);
	if (!p)
		return AZ_ENOMEM;
	*data = p;
	*cap = ncap;
	return 0;
}

/* ---- hash map ------------------------------------------------------------------------------ */

int hmap_init(struct hmap *m, size_t val_size, size_t expect)
{
	size_t slots = 16;
	while (slots < expect * 2)
		slots *= 2;
	m->keys = xmalloc(slots * sizeof(uint64_t));
	m->vals = xcalloc(slots, val_size ? val_size : 1);
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = NULL;
		m->vals = NULL;
		return AZ_ENOMEM;
	}
	memset(m->keys, 0xff, slots * sizeof(uint64_t));
	m->val_size = val_size;
	m->mask = slots - 1;
	m->n = 0;
	return 0;
}

void hmap_free(struct hmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int hmap_rehash(struct hmap *m)
{
	struct hmap nm;
	if (hmap_init(&nm, m->val_size, (m->mask + 1)))
		return AZ_ENOMEM;
	for (size_t i = 0; i <= m->mask; i++) {
		if (m->keys[i] == HMAP_EMPTY)
			continue;
		size_t j = hash64(m->keys[i]) & nm.mask;
		while (nm.keys[j] != HMAP_EMPTY)
			j = (j + 1) & nm.mask;
		nm.keys[j] = m->keys[i];
		memcpy(nm.vals + j * nm.val_size, m->vals + i * m->val_size, m->val_size);
	}
	nm.n = m->n;
	hmap_free(m);
	*m = nm;
	return 0;
}

void *hmap_get(const struct hmap *m, uint64_t key)
{
	if (!m->keys)
		return NULL;
	for (size_t i = hash64(key) & m->mask;; i = (i + 1) & m->mask) {
		if (m->keys[i] == key)
			return m->vals + i * m->val_size;
		if (m->keys[i] == HMAP_EMPTY)
			return NULL;
	}
}

void *hmap_put(struct hmap *m, uint64_t key, bool *is_new)
{
	if (ALWAYS(key == HMAP_EMPTY))
		key = HMAP_EMPTY - 1; /* never used by callers: addresses and ids are smaller */
	if ((m->n + 1) * 4 > (m->mask + 1) * 3 && hmap_rehash(m))
		return NULL;
	size_t i = hash64(key) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		if (m->keys[i] == key) {
			if (is_new)
				*is_new = false;
			return m->vals + i * m->val_size;
		}
		if (m->keys[i] == HMAP_EMPTY)
			break;
	}
	m->keys[i] = key;
	memset(m->vals + i * m->val_size, 0, m->val_size);
	m->n++;
	if (is_new)
		*is_new = true;
	return m->vals + i * m->val_size;
}

bool hmap_del(struct hmap *m, uint64_t key)
{
	if (!m->keys)
		return false;
	size_t i = hash64(key) & m->mask;
	for (;; i = (i + 1) & m->mask) {
		if (m->keys[i] == HMAP_EMPTY)
			return false;
		if (m->keys[i] == key)
			break;
	}
	/* backward-shift: pull later entries of the probe run into the hole */
	size_t hole = i;
	for (size_t j = (i + 1) & m->mask; m->keys[j] != HMAP_EMPTY; j = (j + 1) & m->mask) {
		size_t home = hash64(m->keys[j]) & m->mask;
		/* j can move to hole when home is not cyclically in (hole, j] */
		bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			m->keys[hole] = m->keys[j];
			memcpy(m->vals + hole * m->val_size, m->vals + j * m->val_size, m->val_size);
			hole = j;
		}
	}
	m->keys[hole] = HMAP_EMPTY;
	m->n--;
	return true;
}

bool hmap_next(const struct hmap *m, size_t *it, uint64_t *key, void **val)
{
	if (!m->keys)
		return false;
	for (; *it <= m->mask; (*it)++) {
		if (m->keys[*it] != HMAP_EMPTY) {
			*key = m->keys[*it];
			*val = m->vals + *it * m->val_size;
			(*it)++;
			return true;
		}
	}
	return false;
}

/* ---- string builder ---------------------------------------------------------------------- */

void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		char *p = xrealloc(b->s, ncap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = ncap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void sb_putc(struct sbuf *b, char c)
{
	sb_put(b, &c, 1);
}

void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sb_put(b, tmp, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_put(b, big, (size_t)n);
	free(big);
}

void sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- string map -------------------------------------------------------------------------- */

int strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
	return hmap_init(&m->index, sizeof(uint32_t), 64) ? az_error(AZ_ENOMEM, "out of memory")
							   : 0;
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->keys.n; i++)
		free(m->keys.v[i].s);
	VEC_FREE(m->keys);
	hmap_free(&m->index);
}

uint32_t strmap_intern(struct strmap *m, const char *s, size_t n, bool *is_new)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (size_t i = 0; i < n; i++)
		h = hash64(h ^ (unsigned char)s[i]);
	*is_new = false;
	for (;; h++) {
		if (h == HMAP_EMPTY)
			continue;
		uint32_t *id = hmap_get(&m->index, h);
		if (!id)
			break;
		if (m->keys.v[*id - 1].len == n && !memcmp(m->keys.v[*id - 1].s, s, n))
			return *id;
	}
	__typeof__(*m->keys.v) k = {xmalloc(n + 1), n};
	if (!k.s)
		return 0;
	if (n)
		memcpy(k.s, s, n);
	k.s[n] = '\0';
	uint32_t *slot = hmap_put(&m->index, h, NULL);
	if (!slot || VEC_PUSH(m->keys, k)) {
		if (slot)
			hmap_del(&m->index, h);
		free(k.s);
		return 0;
	}
	*slot = (uint32_t)m->keys.n;
	*is_new = true;
	return *slot;
}

/* ---- human-readable numbers ---------------------------------------------------------------- */

const char *fmt_bytes(char *buf, size_t cap, double v)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%.0f B", v);
	else
		snprintf(buf, cap, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

const char *fmt_ns(char *buf, size_t cap, double ns)
{
	if (ns < 1e3)
		snprintf(buf, cap, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, cap, "%.1f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, cap, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, cap, "%.2f s", ns / 1e9);
	return buf;
}

const char *fmt_count(char *buf, size_t cap, uint64_t n)
{
	/* 1234567 -> "1,234,567" */
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < cap; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o < cap ? o : cap - 1] = '\0';
	return buf;
}
