/* url.h - what intercept keeps of a URL. Header-only and allocation-free, shared by the two
 * sides on purpose so that they can never disagree:
 *  - the curl hook (preload/hook_curl.c) cleans every effective URL with itf_url_clean()
 *    before anything is interned, so secrets never reach the trace;
 *  - the analyzer (analyzer/agg_http.c) applies it again to group requests by endpoint
 *    (it is idempotent), which also normalizes traces recorded with the query kept.
 * The rules are the endpoint definition of ../shared/CONTRACT.md: query string, fragment and
 * user:password@ removed; path segments that are all digits, a UUID or a long hex string
 * become {id}. docs/http.md explains why this happens in the preload. */
#ifndef INTERCEPT_URL_H
#define INTERCEPT_URL_H

#include <stdbool.h>
#include <stddef.h>

#define ITF_URL_KEEP_QUERY 0x1u /* keep "?query" and "#fragment" (INTERCEPT_URL_QUERY=1) */
#define ITF_URL_IDS 0x2u	/* replace id-like path segments by {id} */

#define ITF_URL_HEX_MIN 16 /* a path segment of this many hex digits or more is an id */

static inline bool itf_url_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*! itf_url_is_id() : is the path segment s[0..n) an id: all digits, a UUID
 * (8-4-4-4-12 hex digits), or at least ITF_URL_HEX_MIN hex digits? */
static inline bool itf_url_is_id(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		digits += s[i] >= '0' && s[i] <= '9';
		hex += itf_url_is_hex(s[i]);
	}
	if (digits == n || (hex == n && n >= ITF_URL_HEX_MIN))
		return true;
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !itf_url_is_hex(s[i]))
			return false;
	}
	return true;
}

/* itf_url_put() : append s[0..n) to out[*o..cap-1), cutting at the room left. */
static inline void itf_url_put(char *out, size_t cap, size_t *o, const char *s, size_t n,
			       bool *cut)
{
	size_t room = cap - 1 - *o;
	if (n > room) {
		n = room;
		*cut = true;
	}
	for (size_t i = 0; i < n; i++)
		out[*o + i] = s[i];
	*o += n;
}

/*! itf_url_clean() : write into out (cap >= 1 bytes, always NUL-terminated) the URL
 * in[0..len) without its user:password@, without its query string and fragment (unless
 * flags has ITF_URL_KEEP_QUERY), and with ITF_URL_IDS every id-like path segment
 * (itf_url_is_id()) replaced by "{id}". The removed parts are never written, so a result
 * cut short for lack of room (*cut set) holds no secret either. A string without "://" is
 * treated as authority + path, like curl does with "host/path". Idempotent.
 * @return the length written (excluding the NUL). Hook-path safe: no allocation, no libc. */
static inline size_t itf_url_clean(const char *in, size_t len, char *out, size_t cap,
				   unsigned flags, bool *cut)
{
	size_t i = 0, o = 0, auth = 0;
	*cut = false;
	if (cap == 0)
		return 0;
	/* scheme: letters, digits, + - . before "://" */
	for (size_t k = 0; k + 2 < len && k < 32; k++) {
		char c = in[k];
		if (c == ':' && in[k + 1] == '/' && in[k + 2] == '/') {
			auth = k + 3;
			break;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			break;
	}
	itf_url_put(out, cap, &o, in, auth, cut);
	i = auth;
	/* authority: up to the first / ? # ; user:password@ is everything up to its last @ */
	size_t auth_end = i;
	while (auth_end < len && in[auth_end] != '/' && in[auth_end] != '?' && in[auth_end] != '#')
		auth_end++;
	for (size_t k = auth_end; k > i; k--) {
		if (in[k - 1] == '@') {
			i = k;
			break;
		}
	}
	itf_url_put(out, cap, &o, in + i, auth_end - i, cut);
	i = auth_end;
	/* path, segment by segment */
	while (i < len && in[i] != '?' && in[i] != '#') {
		size_t seg = i + (in[i] == '/');
		size_t end = seg;
		while (end < len && in[end] != '/' && in[end] != '?' && in[end] != '#')
			end++;
		itf_url_put(out, cap, &o, in + i, seg - i, cut);
		if ((flags & ITF_URL_IDS) && itf_url_is_id(in + seg, end - seg))
			itf_url_put(out, cap, &o, "{id}", 4, cut);
		else
			itf_url_put(out, cap, &o, in + seg, end - seg, cut);
		i = end;
	}
	if (flags & ITF_URL_KEEP_QUERY)
		itf_url_put(out, cap, &o, in + i, len - i, cut);
	out[o] = '\0';
	return o;
}

/*! itf_url_scrub_args() : clean, in place, every argument of the NUL-separated argument
 * list buf[0..len) that contains "://" with itf_url_clean() (without ITF_URL_IDS: only
 * secrets go, the path stays), so that a command line like `curl http://u:pw@host/?key=..`
 * keeps no secret. Cleaning only removes bytes, so it fits in place.
 * @return the new length. No allocation. */
static inline size_t itf_url_scrub_args(char *buf, size_t len, unsigned flags)
{
	size_t in = 0, out = 0;
	while (in < len) {
		size_t n = 0;
		while (in + n < len && buf[in + n])
			n++;
		bool url = false;
		for (size_t k = 0; k + 2 < n && !url; k++)
			url = buf[in + k] == ':' && buf[in + k + 1] == '/' &&
			      buf[in + k + 2] == '/';
		if (url) {
			char tmp[1024];
			bool cut;
			size_t m = itf_url_clean(buf + in, n, tmp, sizeof(tmp),
						 flags & ITF_URL_KEEP_QUERY, &cut);
			for (size_t k = 0; k < m; k++)
				buf[out + k] = tmp[k];
			out += m;
		} else {
			for (size_t k = 0; k < n; k++)
				buf[out + k] = buf[in + k];
			out += n;
		}
		in += n;
		if (in < len) {
			buf[out++] = '\0';
			in++;
		}
	}
	return out;
}

#endif /* INTERCEPT_URL_H */
