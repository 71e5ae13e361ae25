/* test_http.c - the URL rules shared by the curl hook and the analyzer
 * (include/intercept/url.h), and the HTTP aggregation (analyzer/agg_http.c) on synthetic
 * ITF_EV_HTTP records: exact percentiles, phases from non-monotone stamps, each finding's
 * threshold on both sides, malformed records. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "agg_http.h"
#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/url.h"
#include "intercept/varint.h"

static const char *clean(const char *in, unsigned flags)
{
	static char out[512];
	bool cut;
	itf_url_clean(in, strlen(in), out, sizeof(out), flags, &cut);
	EXPECT(!cut);
	return out;
}

#define EXPECT_STR(a, b)                                                                           \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		h_checks++;                                                                        \
		if (strcmp(a_, b_)) {                                                              \
			h_failed++;                                                                \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__,    \
				h_test,                                                    \
				a_, b_);                                                           \
		}                                                                                  \
	} while (0)

TEST(url_rules)
{
	const unsigned I = ITF_URL_IDS, Q = ITF_URL_KEEP_QUERY;
	EXPECT_STR(clean("http://u:p@h:80/a/123/b?q=1#f", I), "http://h:80/a/{id}/b");
	EXPECT_STR(clean("http://u:p@h:80/a/123/b?q=1#f", 0), "http://h:80/a/123/b");
	EXPECT_STR(clean("http://u:p@h/a/7?q=1#f", I | Q), "http://h/a/{id}?q=1#f");
	EXPECT_STR(clean("https://x.example/u/123e4567-e89b-12d3-a456-426614174000/p", I),
		   "https://x.example/u/{id}/p");
	EXPECT_STR(clean("http://h/x/deadbeefDEADBEEF", I), "http://h/x/{id}");
	EXPECT_STR(clean("http://h/x/deadbeefdeadbee", I), "http://h/x/deadbeefdeadbee");
	EXPECT_STR(clean("http://h/v1/users/", I), "http://h/v1/users/");
	EXPECT_STR(clean("http://h/2024//42", I), "http://h/{id}//{id}");
	EXPECT_STR(clean("http://h/a@b/c", I), "http://h/a@b/c");
	EXPECT_STR(clean("http://a:b@c:d@h/", I), "http://h/");
	EXPECT_STR(clean("http://h?x=1", I), "http://h");
	EXPECT_STR(clean("http://h#frag", I), "http://h");
	EXPECT_STR(clean("http://[::1]:8080/9", I), "http://[::1]:8080/{id}");
	EXPECT_STR(clean("user:pw@host/1?x", I), "host/{id}");
	EXPECT_STR(clean("", I), "");
	/* idempotent */
	EXPECT_STR(clean(clean("http://u:p@h/a/1/b?q#f", I), I), "http://h/a/{id}/b");
}

TEST(url_cut_keeps_no_secret)
{
	const char *in = "http://user:SECRET@host.example/path/that/is/long?token=SECRET";
	for (size_t cap = 1; cap < 80; cap++) {
		char out[80];
		bool cut;
		size_t n = itf_url_clean(in, strlen(in), out, cap, ITF_URL_IDS, &cut);
		EXPECT(n < cap && out[n] == '\0');
		EXPECT(strstr(out, "SECRET") == NULL);
		EXPECT(strstr(out, "user") == NULL);
	}
}

TEST(scrub_args)
{
	char buf[] = "curl\0-u\0x:y\0http://a:PW@h/p?k=SECRET\0--flag";
	size_t n = itf_url_scrub_args(buf, sizeof(buf) - 1, 0);
	const char want[] = "curl\0-u\0x:y\0http://h/p\0--flag";
	EXPECT_EQ(n, sizeof(want) - 1);
	EXPECT(memcmp(buf, want, sizeof(want) - 1) == 0);
}

/* ---- aggregation ------------------------------------------------------------------------- */

struct rec_in {
	uint32_t tid;
	uint64_t end_ts, dur;
	uint32_t url, method, result, status, flags, stack;
	uint64_t us[7]; /* namelookup connect appconnect pretransfer starttransfer total redirect */
	uint64_t down, up, connects, redirects;
};

static int feed(struct agg_http *a, const struct rec_in *r, size_t cut)
{
	uint8_t buf[256], *p = buf;
	p = itf_put_u(p, r->flags);
	p = itf_put_u(p, r->dur);
	p = itf_put_u(p, r->url);
	p = itf_put_u(p, r->method);
	p = itf_put_u(p, r->result);
	p = itf_put_u(p, r->status);
	for (int i = 0; i < 7; i++)
		p = itf_put_u(p, r->us[i]);
	p = itf_put_u(p, r->down);
	p = itf_put_u(p, r->up);
	p = itf_put_u(p, r->connects);
	p = itf_put_u(p, r->redirects);
	p = itf_put_u(p, r->stack);
	struct ord_event e = {.type = ITF_EV_HTTP, .tid = r->tid, .ts = r->end_ts, .payload = buf,
			      .payload_len = (uint32_t)(p - buf - cut)};
	return agg_http_event(a, &e);
}

/* A trace without a header: one clock tick is one nanosecond. */
static void trace_with_strings(struct trace *t)
{
	struct dec_sink s;
	tr_init(t, "synthetic");
	tr_meta_sink(t, &s);
	s.string_def(t, 1, ITF_STR_URL, "http://h/slow", 13);
	s.string_def(t, 2, ITF_STR_OTHER, "GET", 3);
	s.string_def(t, 3, ITF_STR_URL, "http://dns.example/x/1", 22);
	s.string_def(t, 4, ITF_STR_URL, "http://h/x/2?secret=1", 21); /* a query-kept trace */
	s.string_def(t, 5, ITF_STR_URL, "http://h/setup", 14);
	s.string_def(t, 6, ITF_STR_URL, "http://other/", 13);
	tr_finish_clock(t);
}

static const struct http_endpoint *find_ep(const struct agg_http *a, const char *ep)
{
	for (size_t i = 0; i < a->eps.n; i++)
		if (!strcmp(a->eps.v[i].endpoint, ep))
			return &a->eps.v[i];
	return NULL;
}

static size_t count_findings(const struct agg_http *a, enum http_finding_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < a->findings.n; i++)
		n += a->findings.v[i].kind == k;
	return n;
}

TEST(percentiles_phases_findings)
{
	struct trace t;
	struct agg_http a;
	trace_with_strings(&t);
	EXPECT_EQ(agg_http_init(&a), 0);
	uint64_t ts = 1000000000;
	/* 100 requests of 1..100 ms on thread 7, back to back, shuffled order of durations */
	for (int i = 0; i < 100; i++) {
		uint64_t ms = (uint64_t)((i * 37) % 100) + 1;
		struct rec_in r = {.tid = 7, .url = 1, .method = 2, .status = 200, .stack = 9};
		r.dur = ms * 1000000;
		ts += r.dur + 1000;
		r.end_ts = ts;
		/* non-monotone stamps: connect before the name lookup, start before pretransfer */
		uint64_t us[7] = {50, 40, 0, 30, ms * 1000 - 10, ms * 1000, 0};
		memcpy(r.us, us, sizeof(us));
		r.down = 10;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	/* slow DNS: 3 requests with 30 ms lookups, on another host and thread */
	for (int i = 0; i < 3; i++) {
		struct rec_in r = {.tid = 8, .url = 3, .method = 2, .status = 200, .connects = 1};
		uint64_t us[7] = {30000, 30100, 0, 30200, 30300, 30400, 0};
		memcpy(r.us, us, sizeof(us));
		r.end_ts = ts + (uint64_t)i * 100000000;
		r.dur = 30400000;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	/* query kept: groups with /x/{id} of dns.example? no: another host, own endpoint */
	{
		struct rec_in r = {.tid = 9, .url = 4, .method = 2, .status = 503,
				   .flags = ITF_HTTP_MULTI | ITF_HTTP_QUERY_KEPT};
		uint64_t us[7] = {1, 2, 0, 3, 4, 5, 0};
		memcpy(r.us, us, sizeof(us));
		r.end_ts = ts;
		r.dur = 5000;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	/* set-up dominated with reuse on one of 3 (not "no reuse"): connect 9 of 10 ms */
	for (int i = 0; i < 3; i++) {
		struct rec_in r = {.tid = 10, .url = 5, .method = 2, .status = 200,
				   .connects = i < 2};
		uint64_t us[7] = {10, 9000, 0, 9010, 9900, 10000, 0};
		memcpy(r.us, us, sizeof(us));
		r.end_ts = ts + (uint64_t)i * 20000000; /* overlapping: no serial run */
		r.dur = 30000000;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	/* no start seen, no total: duration 0; unknown URL and method */
	{
		struct rec_in r = {.tid = 11, .result = 28, .flags = ITF_HTTP_NO_START};
		r.end_ts = ts;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	EXPECT_EQ(agg_http_finish(&a, &t), 0);

	const struct http_endpoint *slow = find_ep(&a, "http://h/slow");
	EXPECT(slow != NULL);
	if (slow) {
		EXPECT_EQ(slow->requests, 100);
		EXPECT_EQ(slow->p50_ns, 50000000);
		EXPECT_EQ(slow->p95_ns, 95000000);
		EXPECT_EQ(slow->p99_ns, 99000000);
		EXPECT_EQ(slow->max_ns, 100000000);
		EXPECT_EQ(slow->total_ns, 5050000000ull);
		EXPECT_EQ(slow->dns_ns, 100 * 50000);
		EXPECT_EQ(slow->connect_ns, 0); /* 40 < 50: clamped */
		EXPECT_EQ(slow->bytes_received, 1000);
		EXPECT_EQ(slow->stack, 9);
		EXPECT_STR(slow->method, "GET");
		EXPECT_STR(slow->host, "http://h");
	}
	EXPECT(a.eps.n > 0 && a.eps.v[0].total_ns >= a.eps.v[a.eps.n - 1].total_ns);
	EXPECT(find_ep(&a, "http://dns.example/x/{id}") != NULL);
	const struct http_endpoint *q = find_ep(&a, "http://h/x/{id}");
	EXPECT(q && q->errors == 1 && q->multi_requests == 1);
	const struct http_endpoint *u = find_ep(&a, "(unknown URL)");
	EXPECT(u && u->errors == 1 && !strcmp(u->method, "?") && u->total_ns == 0);
	EXPECT(u && u->n_err == 1 && u->err[0].result == 28);
	EXPECT_EQ(a.requests, 108);
	EXPECT_EQ(a.errors, 2);
	EXPECT_EQ(a.no_start, 1);
	EXPECT(a.query_kept);

	EXPECT_EQ(count_findings(&a, HTTP_F_ERRORS), 2);
	EXPECT_EQ(count_findings(&a, HTTP_F_SLOW_DNS), 1);
	/* /setup (dominated, some reuse) and dns.example (its 30 ms lookups are set-up too) */
	EXPECT_EQ(count_findings(&a, HTTP_F_CONNECTION_SETUP), 2);
	EXPECT_EQ(count_findings(&a, HTTP_F_SERIAL), 1);
	for (size_t i = 0; i < a.findings.n; i++) {
		const struct http_finding *f = &a.findings.v[i];
		if (f->kind == HTTP_F_SERIAL) {
			EXPECT_EQ(f->tid, 7);
			EXPECT_EQ(f->count, 100);
			EXPECT_STR(f->host, "http://h");
		}
		if (f->kind == HTTP_F_CONNECTION_SETUP && strstr(f->message, "/setup"))
			EXPECT(strstr(f->message, "no connection") == NULL);
		if (f->kind == HTTP_F_SLOW_DNS)
			EXPECT(strstr(f->message, "dns.example") != NULL);
	}
	EXPECT_EQ(a.n_slowest, HTTP_SLOWEST);
	EXPECT_EQ(a.reqs.v[a.slowest[0]].dur_ns, 100000000);
	EXPECT(a.reqs.v[a.slowest[1]].dur_ns == 99000000);
	agg_http_free(&a);
	tr_free(&t);
}

TEST(below_thresholds_no_findings)
{
	struct trace t;
	struct agg_http a;
	trace_with_strings(&t);
	EXPECT_EQ(agg_http_init(&a), 0);
	uint64_t ts = 1000;
	/* 7 back-to-back requests (one short of a serial run), 4 fresh connections of 4
	 * (one short of the no-reuse minimum), set-up 40% (below dominant), DNS 19 ms */
	for (int i = 0; i < 7; i++) {
		struct rec_in r = {.tid = 1, .url = i < 4 ? 5 : 1, .method = 2, .status = 200,
				   .connects = i < 4};
		uint64_t us[7] = {i < 4 ? 0 : 19000, 400, 0, 400, 900, 1000, 0};
		if (i >= 4) {
			us[1] = 19000, us[3] = 19000, us[4] = 95000, us[5] = 100000;
		}
		memcpy(r.us, us, sizeof(us));
		r.dur = us[5] * 1000;
		ts += r.dur;
		r.end_ts = ts;
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	/* one connection reused by 20 fast requests: set-up is 60% of the time, but that is
	 * reuse working, not a finding */
	for (int i = 0; i < 20; i++) {
		struct rec_in r = {.tid = 2, .url = 6, .method = 2, .status = 200,
				   .connects = i == 0};
		uint64_t us[7] = {1, i == 0 ? 3000 : 2, 0, 3, 90, 100, 0};
		memcpy(r.us, us, sizeof(us));
		r.end_ts = ts + (uint64_t)i * 1000000;
		r.dur = 500000; /* overlapping thread 1's run is irrelevant: another thread */
		EXPECT_EQ(feed(&a, &r, 0), 0);
	}
	EXPECT_EQ(agg_http_finish(&a, &t), 0);
	EXPECT_EQ(a.findings.n, 1); /* thread 2's 20 back-to-back requests: serial */
	EXPECT(a.findings.n && a.findings.v[0].kind == HTTP_F_SERIAL);
	agg_http_free(&a);
	tr_free(&t);
}

TEST(malformed_records)
{
	struct agg_http a;
	EXPECT_EQ(agg_http_init(&a), 0);
	struct rec_in r = {.tid = 1, .url = 1, .method = 2};
	for (size_t cut = 1; cut <= 18; cut++)
		EXPECT_EQ(feed(&a, &r, cut), AZ_ECORRUPT);
	struct rec_in big = r;
	big.url = UINT32_MAX;
	EXPECT_EQ(feed(&a, &big, 0), 0);
	/* a varint beyond 32 bits where an id is expected */
	uint8_t buf[64], *p = buf;
	p = itf_put_u(p, 0);
	p = itf_put_u(p, 0);
	p = itf_put_u(p, 1ull << 40);
	while (p < buf + 40)
		*p++ = 0;
	struct ord_event e = {.type = ITF_EV_HTTP, .tid = 1, .payload = buf,
			      .payload_len = (uint32_t)(p - buf)};
	EXPECT_EQ(agg_http_event(&a, &e), AZ_ECORRUPT);
	/* other record types are not ours */
	e.type = 0x29;
	EXPECT_EQ(agg_http_event(&a, &e), 0);
	EXPECT_EQ(a.reqs.n, 1);
	agg_http_free(&a);
}

int main(void)
{
	RUN(url_rules);
	RUN(url_cut_keeps_no_secret);
	RUN(scrub_args);
	RUN(percentiles_phases_findings);
	RUN(below_thresholds_no_findings);
	RUN(malformed_records);
	return TEST_EXIT();
}
