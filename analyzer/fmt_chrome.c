/* fmt_chrome.c - owns `--format chrome`: the Chrome trace event format (a JSON object with
 * a traceEvents array) that Perfetto UI and chrome://tracing open. What it shows:
 *  - process and thread names (metadata events);
 *  - the live heap as a counter track ("live heap", from rp_heap_series(): one point per
 *    interval in which something changed, valued at the most that was live in it, and a
 *    last point at the end of the trace with what was still allocated);
 *  - the heap peak as an instant event;
 *  - slices: each thread's span from its first to its last recorded event; each HTTP
 *    request on its thread (an async slice where requests overlap: the multi interface);
 *    each pthread lock wait (the longest the analysis keeps) on the waiting thread; the ten
 *    slowest SQL executions (category "sql"). Each section is one function that calls
 *    slice_add(); see `sections` at the bottom.
 * Slices are capped (ANALYZE_CHROME_MAX_SLICES, default 100000) because files of hundreds of
 * MB crash Perfetto's UI: the longest are kept, and the number left out is written in
 * otherData and said as a warning. Timestamps are microseconds since the start of tracing,
 * written exactly to the nanosecond. Main thread only; writes only to its FILE. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "json_out.h"
#include "report.h"

#define MAX_SLICES_DEFAULT 100000

struct ch_slice {
	uint64_t ts_ns, dur_ns;
	uint32_t tid;
	const char *cat; /* a static string: "thread", "sql", "http", "lock" */
	char *name;	 /* owned */
	/* the slice's args object (may be NULL): ctx is the section's entry */
	void (*args)(struct jw *w, struct report *r, const void *ctx);
	const void *ctx;
	uint64_t async_id; /* 0: a complete ("X") slice on its thread; else an async slice
			      ("b"/"e" pair with this id), for intervals that may overlap */
};

struct chrome {
	struct report *r;
	VEC(struct ch_slice) slices;
	uint64_t left_out; /* slices not written (the cap) */
};

/* slice_add() : one complete slice ("X" event) of dur_ns from ts_ns on thread tid.
 * @return 0 or AZ_ENOMEM. */
static int slice_add(struct chrome *c, uint32_t tid, uint64_t ts_ns, uint64_t dur_ns,
		     const char *cat, const char *name,
		     void (*args)(struct jw *, struct report *, const void *), const void *ctx)
{
	struct ch_slice s = {ts_ns, dur_ns, tid, cat, xstrndup(name, strlen(name)), args, ctx, 0};
	if (!s.name || VEC_PUSH(c->slices, s)) {
		free(s.name);
		return az_error(AZ_ENOMEM, "out of memory building the chrome trace");
	}
	return 0;
}

/* ---- sections that add slices ---- */

static void thread_args(struct jw *w, struct report *r, const void *ctx)
{
	const struct tr_thread *t = ctx;
	jw_u64(w, "tid", t->tid);
	jw_u64(w, "events", t->events);
	jw_bool(w, "exited", t->exited);
}

static int section_threads(struct chrome *c)
{
	struct report *r = c->r;
	size_t it = 0;
	uint64_t tid;
	void *v;
	while (hmap_next(&r->tr.threads, &it, &tid, &v)) {
		const struct tr_thread *t = v;
		if (!t->events)
			continue;
		uint64_t a = tr_ns(&r->tr, t->first_ts), b = tr_ns(&r->tr, t->last_ts);
		int rc = slice_add(c, t->tid, a, b > a ? b - a : 0, "thread", "recorded events",
				   thread_args, t);
		if (rc)
			return rc;
	}
	return 0;
}

static void http_args(struct jw *w, struct report *r, const void *ctx)
{
	const struct http_req *q = ctx;
	jw_u64(w, "tid", q->tid);
	jw_u64(w, "status", q->status);
	jw_u64(w, "curl_code", q->result);
	jw_u64(w, "latency_ns", q->dur_ns);
	jw_u64(w, "dns_ns", q->dns_us * 1000);
	jw_u64(w, "connect_ns", q->connect_us * 1000);
	jw_u64(w, "tls_ns", q->tls_us * 1000);
	jw_u64(w, "ttfb_ns", q->ttfb_us * 1000);
	jw_u64(w, "transfer_ns", q->transfer_us * 1000);
	jw_u64(w, "bytes_received", q->bytes_down);
	jw_bool(w, "multi", (q->flags & ITF_HTTP_MULTI) != 0);
	fmt_json_stack(w, "stack", r, q->stack);
}

/* section_http() : a slice per HTTP request, from its start to when its end was seen, on
 * the thread that made it. Requests of the multi interface overlap on their thread, and
 * one that began before its thread's first recorded event would straddle the thread's
 * span: those become async slices (Perfetto puts them on tracks of their own, named by the
 * request; the thread is in args). */
static int section_http(struct chrome *c)
{
	struct report *r = c->r;
	const struct agg_http *h = &r->http;
	char name[1200];
	for (size_t i = 0; i < h->reqs.n; i++) {
		const struct http_req *q = &h->reqs.v[i];
		const struct http_endpoint *ep = &h->eps.v[q->group];
		const struct tr_thread *t = hmap_get(&r->tr.threads, q->tid);
		uint64_t first = t ? tr_ns(&r->tr, t->first_ts) : 0;
		uint64_t dur = q->end_ns > q->start_ns ? q->end_ns - q->start_ns : 0;
		snprintf(name, sizeof(name), "%s %s", ep->method, ep->endpoint);
		int rc = slice_add(c, q->tid, q->start_ns, dur, "http", name, http_args, q);
		if (rc)
			return rc;
		if ((q->flags & ITF_HTTP_MULTI) || q->start_ns < first)
			c->slices.v[c->slices.n - 1].async_id = i + 1;
	}
	return 0;
}

static void lock_wait_args(struct jw *w, struct report *r, const void *ctx)
{
	const struct lock_wait_ev *ev = ctx;
	static const char *const kinds[] = {"?", "mutex", "read", "write"};
	char addr[32];
	snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)ev->addr);
	jw_str(w, "lock", addr);
	jw_str(w, "kind", kinds[ev->kind <= 3 ? ev->kind : 0]);
	jw_str(w, "result", ev->result == 0 ? "acquired" : ev->result == ETIMEDOUT ? "timed out" :
			    ev->result == EOWNERDEAD ? "acquired, owner died" : "error");
	if (ev->result && ev->result != ETIMEDOUT && ev->result != EOWNERDEAD)
		jw_u64(w, "errno", ev->result);
	const struct rp_frame *f = rp_site_frame(rp_stack(r, ev->stack));
	char name[1024];
	jw_str(w, "waiting_in", f ? rp_frame_name(f, name, sizeof(name)) : NULL);
}

/* section_lock_waits() : one slice per pthread lock wait the analysis kept (the longest
 * LOCK_WAITS_KEPT), on the waiting thread, from finding the lock busy to the return. */
static int section_lock_waits(struct chrome *c)
{
	struct report *r = c->r;
	const struct agg_lock *a = &r->locks;
	char name[96];
	for (size_t i = 0; i < a->waits_kept.n; i++) {
		const struct lock_wait_ev *ev = &a->waits_kept.v[i];
		uint64_t end = tr_ns(&r->tr, ev->end_ts);
		snprintf(name, sizeof(name), "lock wait %s0x%llx",
			 ev->kind == ITF_LOCK_READ ? "(read) " : ev->kind == ITF_LOCK_WRITE ?
			 "(write) " : "", (unsigned long long)ev->addr);
		int rc = slice_add(c, ev->tid, end > ev->wait_ns ? end - ev->wait_ns : 0,
				   end > ev->wait_ns ? ev->wait_ns : end, "lock", name,
				   lock_wait_args, ev);
		if (rc)
			return rc;
	}
	if (a->waits_not_kept)
		rp_warn(r, "chrome: %llu shorter lock waits are not in the timeline (the analysis "
			   "keeps the longest %u)",
			(unsigned long long)a->waits_not_kept, LOCK_WAITS_KEPT);
	return 0;
}

static void sql_args(struct jw *w, struct report *r, const void *ctx)
{
	const struct sql_slow *x = ctx;
	jw_str(w, "statement", tr_string(&r->tr, r->sql.stmts.v[x->stmt].sql));
	jw_str(w, "database", tr_string(&r->tr, r->sql.stmts.v[x->stmt].db));
	jw_u64(w, "rows", x->rows);
	jw_u64(w, "lock_wait_ns", x->lock_wait_ns);
	jw_u64(w, "result", x->rc);
}

/* section_sql() : the slowest SQL executions (the report keeps the ten slowest, not every
 * execution): each from its start for its time inside SQLite, named by its statement. */
static int section_sql(struct chrome *c)
{
	struct report *r = c->r;
	for (unsigned i = 0; i < r->sql.n_slow; i++) {
		const struct sql_slow *x = &r->sql.slow[i];
		const char *text = tr_string(&r->tr, r->sql.stmts.v[x->stmt].sql);
		int rc = slice_add(c, x->tid, x->start_ns, x->time_ns, "sql", text ? text : "SQL",
				   sql_args, x);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every section that has timestamped intervals, each a function like section_threads(). */
static int (*const sections[])(struct chrome *) = {section_threads, section_sql, section_http,
						   section_lock_waits};

/* ---- output ---- */

static int by_dur_desc(const void *x, const void *y)
{
	const struct ch_slice *a = x, *b = y;
	if (a->dur_ns != b->dur_ns)
		return a->dur_ns < b->dur_ns ? 1 : -1;
	return a->ts_ns < b->ts_ns ? -1 : a->ts_ns > b->ts_ns;
}

static int by_ts(const void *x, const void *y)
{
	const struct ch_slice *a = x, *b = y;
	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

static size_t max_slices(void)
{
	const char *s = getenv("ANALYZE_CHROME_MAX_SLICES");
	char *end;
	unsigned long long v = s ? strtoull(s, &end, 10) : 0;
	return s && *s && !*end && v ? (size_t)v : MAX_SLICES_DEFAULT;
}

/* cap() : keep the longest slices when there are too many, then order them by time. */
static void cap(struct chrome *c)
{
	size_t max = max_slices();
	if (c->slices.n > max) {
		qsort(c->slices.v, c->slices.n, sizeof(c->slices.v[0]), by_dur_desc);
		for (size_t i = max; i < c->slices.n; i++)
			free(c->slices.v[i].name);
		c->left_out = c->slices.n - max;
		c->slices.n = max;
		rp_warn(c->r, "chrome: %llu of %llu slices left out (the shortest; "
			      "ANALYZE_CHROME_MAX_SLICES=%zu)",
			(unsigned long long)c->left_out,
			(unsigned long long)(c->left_out + c->slices.n), max);
	}
	if (c->slices.n > 1)
		qsort(c->slices.v, c->slices.n, sizeof(c->slices.v[0]), by_ts);
}

/* event_head() : open one event, on a line of its own. */
static void event_head(struct jw *w, const char *ph, const char *name, uint32_t pid)
{
	w->pretty = true; /* the newline before the event ... */
	jw_obj(w, NULL);
	w->pretty = false; /* ... and nothing else */
	jw_str(w, "ph", ph);
	jw_str(w, "name", name);
	jw_u64(w, "pid", pid);
}

static void metadata(struct jw *w, struct report *r)
{
	uint32_t pid = r->tr.hdr.pid;
	char name[64];
	event_head(w, "M", "process_name", pid);
	jw_obj(w, "args");
	jw_str(w, "name", r->tr.hdr.command && *r->tr.hdr.command ? r->tr.hdr.command : "?");
	jw_obj_end(w);
	jw_obj_end(w);
	size_t it = 0;
	uint64_t tid;
	void *v;
	while (hmap_next(&r->tr.threads, &it, &tid, &v)) {
		const struct tr_thread *t = v;
		snprintf(name, sizeof(name), "thread %u", t->tid);
		event_head(w, "M", "thread_name", pid);
		jw_u64(w, "tid", t->tid);
		jw_obj(w, "args");
		jw_str(w, "name", t->name && *t->name ? t->name : name);
		jw_obj_end(w);
		jw_obj_end(w);
	}
}

/* heap() : the live heap counter track and the peak. */
static void heap(struct jw *w, struct report *r, uint64_t *interval_ns)
{
	uint32_t pid = r->tr.hdr.pid;
	struct rp_heap_point *pts;
	size_t n = rp_heap_series(r, &pts, interval_ns);
	for (size_t i = 0; i < n; i++) {
		if (!pts[i].changed)
			continue;
		event_head(w, "C", "live heap", pid);
		jw_fixed(w, "ts", pts[i].t_ns, 3);
		jw_obj(w, "args");
		jw_u64(w, "bytes", pts[i].max_bytes);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	if (n) { /* what was still allocated when the trace ended */
		uint64_t end = tr_duration_ns(&r->tr);
		event_head(w, "C", "live heap", pid);
		jw_fixed(w, "ts", end > pts[n - 1].t_ns ? end : pts[n - 1].t_ns, 3);
		jw_obj(w, "args");
		jw_u64(w, "bytes", pts[n - 1].bytes);
		jw_obj_end(w);
		jw_obj_end(w);
	}
	free(pts);
	const struct agg_alloc *a = &r->alloc;
	if (a->peak_bytes) {
		event_head(w, "i", "heap peak", pid);
		jw_str(w, "s", "p"); /* process-wide instant */
		jw_fixed(w, "ts", tr_ns(&r->tr, a->peak_ts), 3);
		jw_obj(w, "args");
		jw_u64(w, "bytes", a->peak_bytes);
		jw_u64(w, "blocks", a->peak_count);
		jw_obj_end(w);
		jw_obj_end(w);
	}
}

static void slices(struct jw *w, struct chrome *c)
{
	uint32_t pid = c->r->tr.hdr.pid;
	for (size_t i = 0; i < c->slices.n; i++) {
		const struct ch_slice *s = &c->slices.v[i];
		event_head(w, s->async_id ? "b" : "X", s->name, pid);
		jw_str(w, "cat", s->cat);
		jw_u64(w, "tid", s->tid);
		jw_fixed(w, "ts", s->ts_ns, 3);
		if (s->async_id)
			jw_u64(w, "id", s->async_id);
		else
			jw_fixed(w, "dur", s->dur_ns, 3);
		if (s->args) {
			jw_obj(w, "args");
			s->args(w, c->r, s->ctx);
			jw_obj_end(w);
		}
		jw_obj_end(w);
		if (s->async_id) { /* its end */
			event_head(w, "e", s->name, pid);
			jw_str(w, "cat", s->cat);
			jw_u64(w, "tid", s->tid);
			jw_fixed(w, "ts", s->ts_ns + s->dur_ns, 3);
			jw_u64(w, "id", s->async_id);
			jw_obj_end(w);
		}
	}
}

int fmt_chrome(struct report *r, FILE *out)
{
	struct chrome c = {.r = r};
	struct jw w;
	uint64_t interval_ns = 0;
	int rc = 0;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]) && !rc; i++)
		rc = sections[i](&c);
	if (rc)
		goto out_free;
	cap(&c);

	jw_init(&w, out, false);
	jw_obj(&w, NULL);
	jw_arr(&w, "traceEvents");
	metadata(&w, r);
	heap(&w, r, &interval_ns);
	slices(&w, &c);
	jw_arr_end(&w);
	jw_str(&w, "displayTimeUnit", "ns");
	jw_obj(&w, "otherData");
	jw_str(&w, "producer", "intercept " INTERCEPT_VERSION_STRING);
	jw_str(&w, "trace", r->tr.path);
	jw_str(&w, "command", r->tr.hdr.command);
	jw_bool(&w, "complete", r->tr.complete && !r->tr.truncated);
	jw_u64(&w, "heap_interval_ns", interval_ns);
	jw_u64(&w, "slices", c.slices.n);
	jw_u64(&w, "slices_left_out", c.left_out);
	jw_obj_end(&w);
	jw_obj_end(&w);
	fputc('\n', out);
	rc = ferror(out) ? az_error(AZ_EIO, "writing the report failed") : 0;
out_free:
	for (size_t i = 0; i < c.slices.n; i++)
		free(c.slices.v[i].name);
	VEC_FREE(c.slices);
	return rc;
}
