/* agg_http.c - owns the HTTP analysis: decodes the curl hook's ITF_EV_HTTP records
 * (trace_format.h), keeps one compact entry per transfer, and once the trace is read groups
 * them by method and normalized endpoint (include/intercept/url.h, the same rules the hook
 * applied), computes exact percentiles from the sorted durations, phase sums, error kinds,
 * the slowest requests and the findings (docs/http.md gives their thresholds and why).
 * Main thread only. Bounds: every record field is checked against the payload's end; memory
 * is one entry per transfer (~120 bytes), within xmalloc's bound. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_http.h"
#include "intercept/trace_format.h"
#include "intercept/url.h"
#include "intercept/varint.h"

/* Findings' thresholds (docs/http.md). */
#define SETUP_MIN_REQUESTS 5   /* no-reuse finding: at least this many requests ... */
#define SETUP_FRESH_PCT 90     /* ... of which this share opened a new connection */
#define SETUP_DOMINANT_PCT 50  /* or set-up (DNS + connect + TLS) is this share of the time */
#define SETUP_POOR_REUSE_PCT 50 /* either way, at least this share opened a connection (one
				   connection for many fast requests is reuse working) */
#define DNS_AVG_NS 20000000ull /* slow DNS: 20 ms per request on average ... */
#define DNS_SHARE_PCT 20       /* ... or this share of the endpoint's time ... */
#define DNS_SHARE_MIN_NS 10000000ull /* ... when that is at least 10 ms ... */
#define DNS_MIN_NS 1000000ull	     /* ... and 1 ms per request (microseconds are no lookup) */
#define SERIAL_MIN 8	       /* serial finding: this many back-to-back requests */
#define SERIAL_FINDINGS 5      /* serial runs reported (the longest in time) */
#define STR_NORM_MAX 8192      /* a normalized URL is cut here (the hook keeps 1 KiB) */

int agg_http_init(struct agg_http *a)
{
	memset(a, 0, sizeof(*a));
	if (hmap_init(&a->group_of, sizeof(uint32_t), 64))
		return az_error(AZ_ENOMEM, "out of memory");
	return 0;
}

void agg_http_free(struct agg_http *a)
{
	for (size_t i = 0; i < a->eps.n; i++) {
		free(a->eps.v[i].method);
		free(a->eps.v[i].endpoint);
		free(a->eps.v[i].host);
	}
	for (size_t i = 0; i < a->findings.n; i++) {
		free(a->findings.v[i].host);
		free(a->findings.v[i].message);
	}
	VEC_FREE(a->eps);
	VEC_FREE(a->findings);
	VEC_FREE(a->reqs);
	VEC_FREE(a->groups);
	hmap_free(&a->group_of);
	memset(a, 0, sizeof(*a));
}

const char *http_curl_code_name(uint32_t code)
{
	/* the CURLcode values of curl/curl.h that a client of HTTP meets */
	static const struct {
		uint32_t code;
		const char *name;
	} names[] = {
		{1, "CURLE_UNSUPPORTED_PROTOCOL"}, {2, "CURLE_FAILED_INIT"},
		{3, "CURLE_URL_MALFORMAT"},	   {5, "CURLE_COULDNT_RESOLVE_PROXY"},
		{6, "CURLE_COULDNT_RESOLVE_HOST"}, {7, "CURLE_COULDNT_CONNECT"},
		{8, "CURLE_WEIRD_SERVER_REPLY"},   {16, "CURLE_HTTP2"},
		{18, "CURLE_PARTIAL_FILE"},	   {22, "CURLE_HTTP_RETURNED_ERROR"},
		{23, "CURLE_WRITE_ERROR"},	   {25, "CURLE_UPLOAD_FAILED"},
		{26, "CURLE_READ_ERROR"},	   {27, "CURLE_OUT_OF_MEMORY"},
		{28, "CURLE_OPERATION_TIMEDOUT"},  {35, "CURLE_SSL_CONNECT_ERROR"},
		{42, "CURLE_ABORTED_BY_CALLBACK"}, {47, "CURLE_TOO_MANY_REDIRECTS"},
		{52, "CURLE_GOT_NOTHING"},	   {55, "CURLE_SEND_ERROR"},
		{56, "CURLE_RECV_ERROR"},	   {58, "CURLE_SSL_CERTPROBLEM"},
		{60, "CURLE_PEER_FAILED_VERIFICATION"}, {61, "CURLE_BAD_CONTENT_ENCODING"},
		{77, "CURLE_SSL_CACERT_BADFILE"},  {92, "CURLE_HTTP2_STREAM"},
		{94, "CURLE_AUTH_ERROR"},	   {95, "CURLE_HTTP3"},
		{97, "CURLE_PROXY"},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return NULL;
}

/* ---- decoding --------------------------------------------------------------------------- */

static bool req_is_error(const struct http_req *q)
{
	return q->result != 0 || q->status >= 400 ||
	       ((q->flags & ITF_HTTP_NO_RESULT) && q->status == 0);
}

/* sub() : a - b for libcurl's cumulative phase stamps, 0 when a phase did not happen (a or
 * b is 0 where it must not be) or the stamps run backwards (they are not always monotone). */
static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

int agg_http_event(void *ctx, const struct ord_event *e)
{
	struct agg_http *a = ctx;
	enum { F_FLAGS, F_DUR, F_URL, F_METHOD, F_RESULT, F_STATUS, F_NAMELOOKUP, F_CONNECT,
	       F_APPCONNECT, F_PRETRANSFER, F_STARTTRANSFER, F_TOTAL, F_REDIRECT, F_DOWN, F_UP,
	       F_CONNECTS, F_REDIRECTS, F_STACK, F_REQUIRED, /* fields after are optional */
	       F_QUEUE = F_REQUIRED, F_POSTTRANSFER, F_CONN_ID, F_N };
	uint64_t f[F_N] = {0};
	if (e->type != ITF_EV_HTTP)
		return 0;
	const uint8_t *p = e->payload, *end = e->payload + e->payload_len;
	for (int i = 0; i < F_N; i++) {
		if (p >= end && i >= F_REQUIRED)
			break;
		RETURN_ERR_IF(!e->payload || itf_get_u(&p, end, &f[i]), AZ_ECORRUPT,
			      "thread %u: HTTP record too short (field %d of %d)", e->tid, i,
			      (int)F_REQUIRED);
	}
	RETURN_ERR_IF(f[F_URL] > UINT32_MAX || f[F_METHOD] > UINT32_MAX ||
			      f[F_STACK] > UINT32_MAX || f[F_STATUS] > UINT32_MAX ||
			      f[F_RESULT] > UINT32_MAX || f[F_FLAGS] > UINT32_MAX,
		      AZ_ECORRUPT, "thread %u: HTTP record field out of range", e->tid);
	/* microseconds beyond ~58 years are garbage: clamp so that ns never overflow */
	for (int i = F_NAMELOOKUP; i <= F_REDIRECT; i++)
		if (f[i] > UINT64_MAX / 4000)
			f[i] = UINT64_MAX / 4000;
	if (f[F_QUEUE] > UINT64_MAX / 4000)
		f[F_QUEUE] = 0;
	if (f[F_POSTTRANSFER] > UINT64_MAX / 4000)
		f[F_POSTTRANSFER] = 0;

	uint64_t key = f[F_URL] << 32 | f[F_METHOD];
	bool is_new;
	uint32_t *gi = hmap_put(&a->group_of, key, &is_new);
	if (!gi)
		return az_error(AZ_ENOMEM, "out of memory");
	if (is_new) {
		struct http_group g = {.url = (uint32_t)f[F_URL], .method = (uint32_t)f[F_METHOD]};
		RETURN_ERR_IF(a->groups.n >= UINT32_MAX, AZ_ENOMEM, "too many URLs");
		if (VEC_PUSH(a->groups, g)) {
			hmap_del(&a->group_of, key);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		*gi = (uint32_t)(a->groups.n - 1);
	}
	uint64_t nl = f[F_NAMELOOKUP], co = f[F_CONNECT], ac = f[F_APPCONNECT];
	uint64_t st = f[F_STARTTRANSFER], tot = f[F_TOTAL];
	uint64_t sent = f[F_POSTTRANSFER] ? f[F_POSTTRANSFER] : f[F_PRETRANSFER];
	/* Phases partition the total: each is clamped to what the earlier ones left (libcurl's
	 * stamps can pass the total: file:// reports a name lookup longer than the transfer). */
	uint64_t left = tot, ph[5] = {nl, co ? sub(co, nl) : 0, ac ? sub(ac, co) : 0,
				       st ? sub(st, sent) : 0, st ? sub(tot, st) : 0};
	for (int i = 0; tot && i < 5; i++) {
		ph[i] = ph[i] < left ? ph[i] : left;
		left -= ph[i];
	}
	struct http_req q = {
		.end_ts = e->ts,
		.wall_ticks = f[F_DUR] <= e->ts ? f[F_DUR] : e->ts,
		.dns_us = ph[0],
		.connect_us = ph[1],
		.tls_us = ph[2],
		.ttfb_us = ph[3],
		.transfer_us = ph[4],
		.redirect_us = f[F_REDIRECT],
		.total_us = tot,
		.bytes_down = f[F_DOWN],
		.bytes_up = f[F_UP],
		.connects = f[F_CONNECTS],
		.redirects = f[F_REDIRECTS],
		.group = *gi,
		.tid = e->tid,
		.stack = (uint32_t)f[F_STACK],
		.status = (uint32_t)f[F_STATUS],
		.result = (uint32_t)f[F_RESULT],
		.flags = (uint32_t)f[F_FLAGS],
	};
	if (q.flags & ITF_HTTP_NO_START)
		q.wall_ticks = 0;
	if (VEC_PUSH(a->reqs, q))
		return az_error(AZ_ENOMEM, "out of memory (HTTP requests)");
	a->no_start += (q.flags & ITF_HTTP_NO_START) != 0;
	a->no_result += (q.flags & ITF_HTTP_NO_RESULT) != 0;
	a->url_cut += (q.flags & ITF_HTTP_URL_CUT) != 0;
	a->query_kept |= (q.flags & ITF_HTTP_QUERY_KEPT) != 0;
	return 0;
}

/* ---- grouping by endpoint ------------------------------------------------------------------ */

static uint64_t str_hash(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *a; a++)
		h = (h ^ (uint8_t)*a) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (; *b; b++)
		h = (h ^ (uint8_t)*b) * 0x100000001b3ull;
	return hash64(h);
}

/* host_of() : "scheme://authority" of a cleaned URL (malloc'ed), or NULL on OOM. */
static char *host_of(const char *url)
{
	const char *s = strstr(url, "://");
	const char *h = s ? s + 3 : url;
	size_t n = strcspn(h, "/?#");
	return xstrndup(url, (size_t)(h - url) + n);
}

/* endpoint_for() : the index of (method, endpoint) in eps, added when new. by_key maps
 * string hashes to indexes (collisions probe the next key). @return 0 or AZ_ENOMEM. */
static int endpoint_for(struct agg_http *a, struct hmap *by_key, const char *method,
			const char *endpoint, uint32_t *out)
{
	uint64_t k = str_hash(method, endpoint);
	for (;; k++) {
		if (k == HMAP_EMPTY)
			continue;
		bool is_new;
		uint32_t *idx = hmap_put(by_key, k, &is_new);
		if (!idx)
			return az_error(AZ_ENOMEM, "out of memory");
		if (!is_new) {
			const struct http_endpoint *ep = &a->eps.v[*idx];
			if (strcmp(ep->method, method) || strcmp(ep->endpoint, endpoint))
				continue;
			*out = *idx;
			return 0;
		}
		struct http_endpoint ep = {0};
		ep.method = xstrndup(method, strlen(method));
		ep.endpoint = xstrndup(endpoint, strlen(endpoint));
		ep.host = host_of(endpoint);
		if (!ep.method || !ep.endpoint || !ep.host || VEC_PUSH(a->eps, ep)) {
			free(ep.method);
			free(ep.endpoint);
			free(ep.host);
			hmap_del(by_key, k);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		*idx = (uint32_t)(a->eps.n - 1);
		*out = *idx;
		return 0;
	}
}

static int group_endpoints(struct agg_http *a, const struct trace *t)
{
	struct hmap by_key;
	char *norm = xmalloc(STR_NORM_MAX);
	int rc = 0;
	if (!norm || hmap_init(&by_key, sizeof(uint32_t), 64)) {
		free(norm);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < a->groups.n; i++) {
		struct http_group *g = &a->groups.v[i];
		const char *url = g->url ? tr_string(t, g->url) : NULL;
		const char *method = g->method ? tr_string(t, g->method) : NULL;
		bool cut;
		if (url)
			itf_url_clean(url, strlen(url), norm, STR_NORM_MAX, ITF_URL_IDS, &cut);
		else
			snprintf(norm, STR_NORM_MAX, "(unknown URL)");
		if ((rc = endpoint_for(a, &by_key, method && *method ? method : "?", norm,
				       &g->endpoint)))
			break;
	}
	hmap_free(&by_key);
	free(norm);
	return rc;
}

static void count_error(struct http_endpoint *ep, const struct http_req *q)
{
	bool aborted = (q->flags & ITF_HTTP_NO_RESULT) && q->status == 0 && q->result == 0;
	uint32_t status = q->status >= 400 || aborted || q->result ? q->status : 0;
	for (uint32_t i = 0; i < ep->n_err; i++) {
		struct http_err_kind *k = &ep->err[i];
		if (k->status == status && k->result == q->result && k->aborted == aborted) {
			k->count++;
			return;
		}
	}
	if (ep->n_err < HTTP_ERR_KINDS)
		ep->err[ep->n_err++] = (struct http_err_kind){status, q->result, aborted, 1};
	else
		ep->err_other++;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* pctl() : nearest-rank percentile q (0..100) of sorted v[0..n). */
static uint64_t pctl(const uint64_t *v, size_t n, unsigned q)
{
	if (!n)
		return 0;
	size_t rank = (n * q + 99) / 100; /* ceil(n * q / 100) */
	return v[rank ? rank - 1 : 0];
}

struct ep_stack {
	uint32_t ep, stack;
	uint64_t ns;
};

static int cmp_ep_stack(const void *x, const void *y)
{
	const struct ep_stack *a = x, *b = y;
	if (a->ep != b->ep)
		return a->ep < b->ep ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* endpoint_stats() : sums, percentiles and the dominant stack of every endpoint. */
static int endpoint_stats(struct agg_http *a)
{
	size_t n = a->reqs.n, ne = a->eps.n;
	size_t *off = xcalloc(ne + 1, sizeof(*off));
	uint64_t *durs = xmalloc((n ? n : 1) * sizeof(*durs));
	struct ep_stack *es = xmalloc((n ? n : 1) * sizeof(*es));
	if (!off || !durs || !es) {
		free(off);
		free(durs);
		free(es);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const struct http_req *q = &a->reqs.v[i];
		struct http_endpoint *ep = &a->eps.v[q->group];
		ep->requests++;
		ep->total_ns += q->dur_ns;
		if (q->dur_ns > ep->max_ns)
			ep->max_ns = q->dur_ns;
		ep->dns_ns += q->dns_us * 1000;
		ep->connect_ns += q->connect_us * 1000;
		ep->tls_ns += q->tls_us * 1000;
		ep->ttfb_ns += q->ttfb_us * 1000;
		ep->transfer_ns += q->transfer_us * 1000;
		ep->redirect_ns += q->redirect_us * 1000;
		ep->bytes_received += q->bytes_down;
		ep->bytes_sent += q->bytes_up;
		ep->new_connections += q->connects;
		ep->fresh_requests += q->connects > 0;
		ep->redirects += q->redirects;
		ep->multi_requests += (q->flags & ITF_HTTP_MULTI) != 0;
		if (req_is_error(q)) {
			ep->errors++;
			count_error(ep, q);
		}
		off[q->group + 1]++;
		es[i] = (struct ep_stack){q->group, q->stack, q->dur_ns};
	}
	for (size_t e = 0; e < ne; e++)
		off[e + 1] += off[e];
	{
		size_t *fill = xmalloc((ne ? ne : 1) * sizeof(*fill));
		if (!fill) {
			free(off);
			free(durs);
			free(es);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		memcpy(fill, off, ne * sizeof(*fill));
		for (size_t i = 0; i < n; i++)
			durs[fill[a->reqs.v[i].group]++] = a->reqs.v[i].dur_ns;
		free(fill);
	}
	for (size_t e = 0; e < ne; e++) {
		struct http_endpoint *ep = &a->eps.v[e];
		uint64_t *v = durs + off[e];
		size_t m = off[e + 1] - off[e];
		qsort(v, m, sizeof(*v), cmp_u64);
		ep->p50_ns = pctl(v, m, 50);
		ep->p95_ns = pctl(v, m, 95);
		ep->p99_ns = pctl(v, m, 99);
	}
	/* the stack with the most time per endpoint (ties: the smaller id, for stable output);
	 * off[] is free again and keeps the best sum */
	memset(off, 0, (ne + 1) * sizeof(*off));
	qsort(es, n, sizeof(*es), cmp_ep_stack);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t sum = 0;
		while (j < n && es[j].ep == es[i].ep && es[j].stack == es[i].stack)
			sum += es[j++].ns;
		if (i == 0 || es[i - 1].ep != es[i].ep || sum > off[es[i].ep]) {
			a->eps.v[es[i].ep].stack = es[i].stack;
			off[es[i].ep] = sum;
		}
		i = j;
	}
	free(off);
	free(durs);
	free(es);
	return 0;
}

/* ---- ordering ------------------------------------------------------------------------------ */

static int cmp_ep_total(const void *x, const void *y, void *ctx)
{
	const struct agg_http *h = ctx;
	const struct http_endpoint *a = &h->eps.v[*(const uint32_t *)x];
	const struct http_endpoint *b = &h->eps.v[*(const uint32_t *)y];
	if (a->total_ns != b->total_ns)
		return a->total_ns > b->total_ns ? -1 : 1;
	if (a->requests != b->requests)
		return a->requests > b->requests ? -1 : 1;
	int c = strcmp(a->endpoint, b->endpoint);
	return c ? c : strcmp(a->method, b->method);
}

/* sort_endpoints() : eps by total time, largest first; requests follow their endpoint. */
static int sort_endpoints(struct agg_http *a)
{
	size_t ne = a->eps.n;
	if (!ne)
		return 0;
	uint32_t *order = xmalloc((ne ? ne : 1) * sizeof(*order));
	uint32_t *rank = xmalloc((ne ? ne : 1) * sizeof(*rank));
	struct http_endpoint *sorted = xmalloc((ne ? ne : 1) * sizeof(*sorted));
	if (!order || !rank || !sorted) {
		free(order);
		free(rank);
		free(sorted);
		return az_error(AZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < ne; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, ne, sizeof(*order), cmp_ep_total, a);
	for (size_t i = 0; i < ne; i++) {
		sorted[i] = a->eps.v[order[i]];
		rank[order[i]] = (uint32_t)i;
	}
	memcpy(a->eps.v, sorted, ne * sizeof(*sorted));
	for (size_t i = 0; i < a->reqs.n; i++)
		a->reqs.v[i].group = rank[a->reqs.v[i].group];
	for (size_t i = 0; i < a->groups.n; i++)
		a->groups.v[i].endpoint = rank[a->groups.v[i].endpoint];
	free(order);
	free(rank);
	free(sorted);
	return 0;
}

static void find_slowest(struct agg_http *a)
{
	a->n_slowest = 0;
	for (size_t i = 0; i < a->reqs.n; i++) {
		uint64_t d = a->reqs.v[i].dur_ns;
		uint32_t k = a->n_slowest;
		while (k > 0 && a->reqs.v[a->slowest[k - 1]].dur_ns < d)
			k--;
		if (k >= HTTP_SLOWEST)
			continue;
		uint32_t last = a->n_slowest < HTTP_SLOWEST ? a->n_slowest : HTTP_SLOWEST - 1;
		memmove(&a->slowest[k + 1], &a->slowest[k], (last - k) * sizeof(a->slowest[0]));
		a->slowest[k] = (uint32_t)i;
		if (a->n_slowest < HTTP_SLOWEST)
			a->n_slowest++;
	}
}

/* ---- findings ------------------------------------------------------------------------------- */

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int add_finding(struct agg_http *a, struct http_finding f, struct sbuf *msg)
{
	if (msg->oom || !msg->s)
		goto oom;
	f.message = msg->s;
	msg->s = NULL;
	msg->len = msg->cap = 0;
	if (VEC_PUSH(a->findings, f)) {
		free(f.message);
		goto oom;
	}
	return 0;
oom:
	free(f.host);
	sb_free(msg);
	return az_error(AZ_ENOMEM, "out of memory");
}

/* is_setup_finding() : at least half of ep's requests opened a connection, and either most
 * of at least SETUP_MIN_REQUESTS did (no reuse) or set-up is most of its time. */
static bool is_setup_finding(const struct http_endpoint *ep, uint64_t setup)
{
	uint64_t n = ep->requests, fresh = ep->fresh_requests;
	if (!n || fresh * 100 < n * SETUP_POOR_REUSE_PCT)
		return false;
	bool no_reuse = n >= SETUP_MIN_REQUESTS && fresh * 100 >= n * SETUP_FRESH_PCT;
	bool dominant = n >= 2 && setup > 0 && setup * 100 >= ep->total_ns * SETUP_DOMINANT_PCT;
	return no_reuse || dominant;
}

/* is_dns_finding() : lookups are slow on average, or a large share of real time. */
static bool is_dns_finding(const struct http_endpoint *ep)
{
	if (!ep->requests)
		return false;
	uint64_t avg = ep->dns_ns / ep->requests;
	return avg >= DNS_AVG_NS ||
	       (ep->dns_ns >= DNS_SHARE_MIN_NS && avg >= DNS_MIN_NS &&
		ep->dns_ns * 100 >= ep->total_ns * DNS_SHARE_PCT);
}

static void errors_message(struct sbuf *m, const struct http_endpoint *ep)
{
	sb_printf(m, "%s %s: %llu of %llu requests failed (%.0f%%):", ep->method, ep->endpoint,
		  (unsigned long long)ep->errors, (unsigned long long)ep->requests,
		  pct(ep->errors, ep->requests));
	for (uint32_t i = 0; i < ep->n_err; i++) {
		const struct http_err_kind *k = &ep->err[i];
		const char *name = http_curl_code_name(k->result);
		sb_puts(m, i ? ", " : " ");
		if (k->aborted)
			sb_puts(m, "removed before completion");
		else if (k->result && name)
			sb_puts(m, name);
		else if (k->result)
			sb_printf(m, "CURLcode %u", k->result);
		else
			sb_printf(m, "HTTP %u", k->status);
		if (k->result && k->status)
			sb_printf(m, " (HTTP %u)", k->status);
		sb_printf(m, " x%llu", (unsigned long long)k->count);
	}
	if (ep->err_other)
		sb_printf(m, ", other x%llu", (unsigned long long)ep->err_other);
}

static void setup_message(struct sbuf *m, const struct http_endpoint *ep, uint64_t setup)
{
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	bool no_reuse = ep->fresh_requests * 100 >= ep->requests * SETUP_FRESH_PCT;
	sb_printf(m, "%s %s: %llu of %llu requests opened a new connection%s; set-up took %s "
		     "(%.0f%% of its %s: DNS %s, connect %s, TLS %s)",
		  ep->method, ep->endpoint, (unsigned long long)ep->fresh_requests,
		  (unsigned long long)ep->requests, no_reuse ? " (no connection reuse)" : "",
		  fmt_ns(b1, sizeof(b1), (double)setup), pct(setup, ep->total_ns),
		  fmt_ns(b2, sizeof(b2), (double)ep->total_ns),
		  fmt_ns(b3, sizeof(b3), (double)ep->dns_ns),
		  fmt_ns(b4, sizeof(b4), (double)ep->connect_ns),
		  fmt_ns(b5, sizeof(b5), (double)ep->tls_ns));
}

static void dns_message(struct sbuf *m, const struct http_endpoint *ep)
{
	char b1[32], b2[32];
	sb_printf(m, "%s %s: name lookups took %s (%.0f%% of its time, %s per request on "
		     "average)",
		  ep->method, ep->endpoint, fmt_ns(b1, sizeof(b1), (double)ep->dns_ns),
		  pct(ep->dns_ns, ep->total_ns),
		  fmt_ns(b2, sizeof(b2), (double)(ep->dns_ns / ep->requests)));
}

/* endpoint_findings() : the findings of one kind over every endpoint. */
static int endpoint_findings(struct agg_http *a, enum http_finding_kind kind)
{
	for (size_t e = 0; e < a->eps.n; e++) {
		const struct http_endpoint *ep = &a->eps.v[e];
		struct sbuf m = {0};
		struct http_finding f = {.kind = kind, .endpoint = (int64_t)e, .stack = ep->stack};
		uint64_t setup = ep->dns_ns + ep->connect_ns + ep->tls_ns;
		if (kind == HTTP_F_ERRORS && ep->errors) {
			errors_message(&m, ep);
			f.count = ep->errors;
		} else if (kind == HTTP_F_CONNECTION_SETUP && is_setup_finding(ep, setup)) {
			setup_message(&m, ep, setup);
			f.count = ep->fresh_requests;
			f.ns = setup;
		} else if (kind == HTTP_F_SLOW_DNS && is_dns_finding(ep)) {
			dns_message(&m, ep);
			f.count = ep->requests;
			f.ns = ep->dns_ns;
		} else {
			continue;
		}
		int rc = add_finding(a, f, &m);
		if (rc)
			return rc;
	}
	return 0;
}

/* sort_findings() : sort the findings from index first on (none: nothing to do). */
static void sort_findings(struct agg_http *a, size_t first,
			  int (*cmp)(const void *, const void *))
{
	if (a->findings.n > first + 1)
		qsort(a->findings.v + first, a->findings.n - first, sizeof(*a->findings.v), cmp);
}

struct by_thread {
	uint32_t tid;
	uint32_t i; /* index into reqs */
	uint64_t end_ts;
};

static int cmp_by_thread(const void *x, const void *y)
{
	const struct by_thread *a = x, *b = y;
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (a->end_ts != b->end_ts)
		return a->end_ts < b->end_ts ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_finding_ns(const void *x, const void *y)
{
	const struct http_finding *a = x, *b = y;
	if (a->ns != b->ns)
		return a->ns > b->ns ? -1 : 1;
	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

/* serial_findings() : runs of >= SERIAL_MIN requests from one thread to one host, each
 * starting after the previous one ended (nothing overlapped them on that thread). */
static int serial_findings(struct agg_http *a, const struct trace *t)
{
	size_t n = a->reqs.n, first = a->findings.n;
	char b1[32], b2[32], b3[32];
	struct by_thread *v = xmalloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return az_error(AZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = (struct by_thread){a->reqs.v[i].tid, (uint32_t)i, a->reqs.v[i].end_ts};
	qsort(v, n, sizeof(*v), cmp_by_thread);
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		const struct http_req *q0 = &a->reqs.v[v[i].i];
		const char *host = a->eps.v[q0->group].host;
		uint64_t sum = q0->dur_ns, longest = q0->dur_ns;
		size_t j = i + 1;
		for (; j < n && v[j].tid == v[i].tid; j++) {
			const struct http_req *prev = &a->reqs.v[v[j - 1].i];
			const struct http_req *q = &a->reqs.v[v[j].i];
			bool after = q->wall_ticks && q->end_ts - q->wall_ticks >= prev->end_ts;
			if (!after || strcmp(a->eps.v[q->group].host, host))
				break;
			sum += q->dur_ns;
			if (q->dur_ns > longest)
				longest = q->dur_ns;
		}
		size_t hl = strlen(host);
		bool network = hl < 3 || strcmp(host + hl - 3, "://"); /* not file:// */
		if (j - i >= SERIAL_MIN && network) {
			const struct http_req *ql = &a->reqs.v[v[j - 1].i];
			uint64_t span = tr_ns(t, ql->end_ts) - q0->start_ns;
			struct sbuf m = {0};
			struct http_finding f = {
				.kind = HTTP_F_SERIAL,
				.endpoint = -1,
				.host = xstrndup(host, strlen(host)),
				.tid = q0->tid,
				.stack = q0->stack,
				.count = j - i,
				.ns = sum,
			};
			sb_printf(&m, "thread %u made %zu requests to %s one after another, each "
				      "waiting for the previous one: %s in requests over %s (the "
				      "longest %s); independent requests could overlap (curl multi "
				      "interface, or several threads)",
				  q0->tid, j - i, host, fmt_ns(b1, sizeof(b1), (double)sum),
				  fmt_ns(b2, sizeof(b2), (double)span),
				  fmt_ns(b3, sizeof(b3), (double)longest));
			if (f.host) {
				rc = add_finding(a, f, &m);
			} else {
				sb_free(&m);
				rc = az_error(AZ_ENOMEM, "out of memory");
			}
		}
		i = j;
	}
	free(v);
	if (rc)
		return rc;
	/* keep the SERIAL_FINDINGS longest runs */
	sort_findings(a, first, cmp_finding_ns);
	while (a->findings.n - first > SERIAL_FINDINGS) {
		struct http_finding *f = &a->findings.v[--a->findings.n];
		free(f->host);
		free(f->message);
	}
	return 0;
}

static int cmp_finding_count(const void *x, const void *y)
{
	const struct http_finding *a = x, *b = y;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->endpoint < b->endpoint ? -1 : a->endpoint > b->endpoint;
}

/* ---- finish ---------------------------------------------------------------------------------- */

int agg_http_finish(struct agg_http *a, const struct trace *t)
{
	int rc;
	for (size_t i = 0; i < a->reqs.n; i++) {
		struct http_req *q = &a->reqs.v[i];
		uint64_t end_ns = tr_ns(t, q->end_ts);
		uint64_t wall_ns = q->wall_ticks ? end_ns - tr_ns(t, q->end_ts - q->wall_ticks) : 0;
		q->dur_ns = q->total_us ? q->total_us * 1000 : wall_ns;
		q->start_ns = q->wall_ticks ? end_ns - wall_ns :
			      end_ns > q->dur_ns ? end_ns - q->dur_ns : 0;
		q->end_ns = end_ns;
	}
	if ((rc = group_endpoints(a, t)))
		return rc;
	for (size_t i = 0; i < a->reqs.n; i++)
		a->reqs.v[i].group = a->groups.v[a->reqs.v[i].group].endpoint;
	if ((rc = endpoint_stats(a)) || (rc = sort_endpoints(a)))
		return rc;
	for (size_t e = 0; e < a->eps.n; e++) {
		a->requests += a->eps.v[e].requests;
		a->errors += a->eps.v[e].errors;
		a->total_ns += a->eps.v[e].total_ns;
	}
	find_slowest(a);
	size_t first = a->findings.n;
	if ((rc = endpoint_findings(a, HTTP_F_ERRORS)))
		return rc;
	sort_findings(a, first, cmp_finding_count);
	first = a->findings.n;
	if ((rc = endpoint_findings(a, HTTP_F_CONNECTION_SETUP)))
		return rc;
	sort_findings(a, first, cmp_finding_ns);
	first = a->findings.n;
	if ((rc = endpoint_findings(a, HTTP_F_SLOW_DNS)))
		return rc;
	sort_findings(a, first, cmp_finding_ns);
	return serial_findings(a, t);
}

static int cmp_stack_cost(const void *x, const void *y)
{
	const struct http_stack_cost *a = x, *b = y;
	if (a->ns != b->ns)
		return a->ns > b->ns ? -1 : 1;
	if (a->requests != b->requests)
		return a->requests > b->requests ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

int agg_http_by_stack(const struct agg_http *a, struct http_stack_cost **out, size_t *n)
{
	struct hmap idx;
	VEC(struct http_stack_cost) v = {0};
	*out = NULL;
	*n = 0;
	if (hmap_init(&idx, sizeof(size_t), 64))
		return az_error(AZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < a->reqs.n; i++) {
		const struct http_req *q = &a->reqs.v[i];
		bool is_new;
		size_t *k = hmap_put(&idx, q->stack, &is_new);
		if (!k || (is_new && VEC_PUSH(v, ((struct http_stack_cost){q->stack, 0, 0})))) {
			hmap_free(&idx);
			VEC_FREE(v);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		if (is_new)
			*k = v.n - 1;
		v.v[*k].requests++;
		v.v[*k].ns += q->dur_ns;
	}
	hmap_free(&idx);
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), cmp_stack_cost);
	*out = v.v;
	*n = v.n;
	return 0;
}
