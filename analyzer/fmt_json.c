/* fmt_json.c - owns `--format json`: the schema fixed in ../shared/CONTRACT.md
 * ("intercept-report/1"), plus fields the contract allows to be added (documented in
 * docs/report-json.md). Arrays are sorted by their first cost field, largest first.
 * Main thread only. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "json_out.h"
#include "report.h"

void fmt_json_stack(struct jw *w, const char *key, struct report *r, uint32_t stack_id)
{
	const struct rp_stack *s = rp_stack(r, stack_id);
	char addr[32];
	jw_arr(w, key);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct rp_frame *f = &s->frames[i];
		jw_obj(w, NULL);
		bool pretty = w->pretty;
		w->pretty = false; /* one frame per line */
		jw_str(w, "function", f->function);
		jw_str(w, "file", f->file);
		if (f->line)
			jw_u64(w, "line", f->line);
		else
			jw_null(w, "line");
		jw_str(w, "module", f->module);
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)f->address);
		jw_str(w, "address", addr);
		jw_bool(w, "inlined", f->inlined);
		jw_obj_end(w);
		w->pretty = pretty;
	}
	jw_arr_end(w);
}

static void hooks_array(struct jw *w, unsigned hooks)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{ITF_HOOK_MALLOC, "malloc"},
		     {ITF_HOOK_SQLITE, "sqlite"},
		     {ITF_HOOK_CURL, "curl"},
		     {ITF_HOOK_LOCK, "lock"}};
	jw_arr(w, "hooks");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (hooks & names[i].bit)
			jw_str(w, NULL, names[i].name);
	jw_arr_end(w);
}

static void summary(struct jw *w, struct report *r)
{
	const struct trace *t = &r->tr;
	const struct dec_counters *c = &t->counters;
	jw_obj(w, "summary");
	jw_u64(w, "pid", t->hdr.pid);
	jw_str(w, "command", t->hdr.command);
	jw_u64(w, "duration_ns", tr_duration_ns(t));
	jw_u64(w, "threads", t->threads.n);
	jw_u64(w, "events", t->events);
	jw_u64(w, "dropped_events", c->dropped_events);
	jw_bool(w, "complete", t->complete && !t->truncated);
	/* additions (docs/report-json.md) */
	jw_u64(w, "ppid", t->hdr.ppid);
	jw_str(w, "executable", t->hdr.exe);
	jw_str(w, "trace", t->path);
	jw_u64(w, "start_realtime_ns", t->hdr.start_realtime_ns);
	hooks_array(w, t->hdr.hooks);
	jw_str(w, "malloc_mode", t->hdr.malloc_mode == ITF_MALLOC_SUMMARY ? "summary" : "full");
	jw_bool(w, "sampled", t->hdr.sample_bytes != 0);
	jw_u64(w, "sample_bytes", t->hdr.sample_bytes);
	jw_bool(w, "fork_child", (t->hdr.flags & ITF_HDR_FORK_CHILD) != 0);
	jw_bool(w, "truncated", t->truncated);
	jw_str(w, "exec", t->exec_path);
	jw_u64(w, "missing_chunks", t->missing_chunks);
	jw_u64(w, "missed_events", c->missed_events);
	jw_u64(w, "late_events", r->ord.late);
	jw_u64(w, "lost_trace_bytes", c->lost_bytes);
	jw_u64(w, "stack_overflow", c->stack_overflow);
	jw_u64(w, "truncated_stacks", c->truncated_stacks);
	jw_u64(w, "stack_depth", t->hdr.stack_depth);
	jw_u64(w, "wait_ns", c->wait_ns);
	jw_u64(w, "profiler_memory_bytes", c->pool_bytes);
	jw_u64(w, "trace_bytes", t->file_bytes);
	jw_u64(w, "lock_wait_ns", rp_lock_wait_ns(r));
	jw_u64(w, "pthread_lock_wait_ns", r->locks.wait_ns);
	jw_bool(w, "lock_counting", r->locks.counting);
	jw_u64(w, "lock_acquisitions", r->locks.acquisitions);
	jw_u64(w, "locks_counted", r->locks.locks_counted);
	jw_u64(w, "lock_count_overflow", r->locks.count_overflow);
	uint64_t n_stacks = 0;
	for (size_t i = 0; i < t->stacks.n; i++)
		n_stacks += t->stacks.v[i].frames != NULL;
	jw_u64(w, "stacks", n_stacks);
	jw_u64(w, "modules", t->modules.n);
	jw_obj_end(w);
}

/* heap_timeline() : alloc.heap_timeline (added): the live heap over time (report.h). */
static void heap_timeline(struct jw *w, struct report *r)
{
	struct rp_heap_point *p;
	uint64_t interval_ns;
	size_t n = rp_heap_series(r, &p, &interval_ns);
	jw_obj(w, "heap_timeline");
	jw_u64(w, "interval_ns", interval_ns);
	jw_arr(w, "points");
	for (size_t i = 0; i < n; i++) {
		jw_obj(w, NULL);
		bool pretty = w->pretty;
		w->pretty = false; /* one point per line */
		jw_u64(w, "t_ns", p[i].t_ns);
		jw_u64(w, "bytes", p[i].bytes);
		jw_u64(w, "blocks", p[i].blocks);
		jw_u64(w, "max_bytes", p[i].max_bytes);
		jw_bool(w, "changed", p[i].changed);
		jw_obj_end(w);
		w->pretty = pretty;
	}
	jw_arr_end(w);
	jw_obj_end(w);
	free(p);
}

static void alloc_section(struct jw *w, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	struct rp_site *sites = NULL;
	size_t n = 0;
	jw_obj(w, "alloc");
	jw_u64(w, "allocations", a->allocations);
	jw_u64(w, "frees", a->frees);
	jw_u64(w, "bytes_allocated", a->bytes_allocated);
	jw_u64(w, "peak_bytes", a->peak_bytes);
	/* several processes merged: the sum of their peaks, an upper bound (merge.c) */
	jw_bool(w, "peak_is_sum_of_processes", r->merge != NULL);
	jw_u64(w, "peak_ns", a->peak_bytes ? tr_ns(&r->tr, a->peak_ts) : 0);
	jw_u64(w, "peak_allocations", a->peak_count);
	jw_u64(w, "bytes_freed", a->bytes_freed);
	jw_u64(w, "reallocs", a->reallocs);
	jw_u64(w, "temporary_allocations", a->temporary);
	jw_u64(w, "unmatched_frees", a->unmatched_frees);
	jw_arr(w, "sites");
	if (!rp_sites(r, RP_BY_BYTES, &sites, &n)) {
		size_t lim = rp_limit(r, n, false);
		for (size_t i = 0; i < lim; i++) {
			const struct alloc_site *s = sites[i].s;
			jw_obj(w, NULL);
			jw_u64(w, "allocations", s->allocations);
			jw_u64(w, "bytes", s->bytes);
			jw_u64(w, "frees", s->frees);
			jw_u64(w, "temporary", s->temporary);
			jw_u64(w, "leaked_bytes", s->live_bytes);
			jw_u64(w, "max_live_bytes", s->max_live_bytes);
			fmt_json_stack(w, "stack", r, sites[i].stack);
			jw_obj_end(w);
		}
	}
	free(sites);
	jw_arr_end(w);
	heap_timeline(w, r);
	jw_obj_end(w);
}

#define LOCK_WAITERS_JSON 10 /* waiting stacks listed per lock */

static const char *lock_wait_kind(unsigned kinds)
{
	static const char *const names[] = {"?", "mutex", "read", "write"};
	for (unsigned k = ITF_LOCK_MUTEX; k <= ITF_LOCK_WRITE; k++)
		if (kinds == 1u << k)
			return names[k];
	return "mixed";
}

static void locks_section(struct jw *w, struct report *r)
{
	const struct agg_lock *a = &r->locks;
	char addr[32];
	jw_arr(w, "locks");
	size_t lim = rp_limit(r, a->n_sorted, false);
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = a->sorted[i];
		bool rw = strcmp(lock_kind_name(l), "mutex") != 0;
		jw_obj(w, NULL);
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)l->addr);
		jw_str(w, "lock", addr);
		jw_str(w, "kind", lock_kind_name(l));
		jw_u64(w, "contended", l->contended);
		jw_u64(w, "wait_ns", l->wait_ns);
		jw_u64(w, "max_wait_ns", l->max_wait_ns);
		fmt_json_stack(w, "stack", r, l->n_sorted ? l->sorted[0].stack : 0);
		/* additions (docs/report-json.md) */
		jw_u64(w, "timeouts", l->timeouts);
		jw_u64(w, "errors", l->errors);
		if (rw) {
			jw_u64(w, "read_contended", l->read_contended);
			jw_u64(w, "read_wait_ns", l->read_wait_ns);
			jw_u64(w, "write_contended", l->write_contended);
			jw_u64(w, "write_wait_ns", l->write_wait_ns);
		}
		if (l->counted) {
			uint64_t acq = lock_acquisitions(l);
			jw_u64(w, "acquisitions", acq);
			if (rw) {
				jw_u64(w, "read_acquisitions", l->acq_read);
				jw_u64(w, "write_acquisitions", l->acq_write);
			}
			/* contended also counts waits that ended without the lock (timeouts) */
			jw_dbl(w, "contended_share", acq ? (double)l->contended / (double)acq : 0.0);
		}
		bool by_count = l->counted && l->first_acq_stack;
		jw_str(w, "first_seen", by_count ? "first acquisition" : "first contended acquisition");
		fmt_json_stack(w, "first_seen_stack", r, by_count ? l->first_acq_stack :
								     l->first_wait_stack);
		jw_u64(w, "first_contended_ns", tr_ns(&r->tr, l->first_wait_ts));
		jw_u64(w, "waiting_stacks", l->n_sorted);
		jw_arr(w, "waiters");
		for (size_t j = 0; j < l->n_sorted && j < LOCK_WAITERS_JSON; j++) {
			const struct lock_waiter *ws = &l->sorted[j];
			jw_obj(w, NULL);
			jw_str(w, "kind", lock_wait_kind(ws->kinds));
			jw_u64(w, "contended", ws->waits);
			jw_u64(w, "wait_ns", ws->wait_ns);
			jw_u64(w, "max_wait_ns", ws->max_wait_ns);
			fmt_json_stack(w, "stack", r, ws->stack);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

struct lock_stack_ref {
	const struct lock_ent *l;
	const struct lock_waiter *ws;
};

static int by_wait(const void *x, const void *y)
{
	const struct lock_stack_ref *a = x, *b = y;
	if (a->ws->wait_ns != b->ws->wait_ns)
		return a->ws->wait_ns > b->ws->wait_ns ? -1 : 1;
	return a->l->addr < b->l->addr ? -1 : a->l->addr > b->l->addr;
}

/* lock_stacks() : `lock_stacks` (added): every (lock, waiting stack) pair, longest total
 * wait first, with the lock as the frame rp_lock_leaf() names; what a flame graph of lock
 * waits is drawn from (the html format), the same pairs as --format folded --weight
 * lockwait. */
static void lock_stacks(struct jw *w, struct report *r)
{
	const struct agg_lock *a = &r->locks;
	VEC(struct lock_stack_ref) v = {0};
	char leaf[96], addr[32];
	jw_arr(w, "lock_stacks");
	for (size_t i = 0; i < a->n_sorted; i++)
		for (size_t j = 0; j < a->sorted[i]->n_sorted; j++) {
			struct lock_stack_ref ref = {a->sorted[i], &a->sorted[i]->sorted[j]};
			if (VEC_PUSH(v, ref))
				goto out_free;
		}
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), by_wait);
	size_t lim = rp_limit(r, v.n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = v.v[i].l;
		const struct lock_waiter *ws = v.v[i].ws;
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)l->addr);
		jw_obj(w, NULL);
		jw_str(w, "lock", addr);
		jw_str(w, "kind", lock_kind_name(l));
		jw_str(w, "wait", lock_wait_kind(ws->kinds));
		jw_str(w, "frame", rp_lock_leaf(l, ws, leaf, sizeof(leaf)));
		jw_u64(w, "contended", ws->waits);
		jw_u64(w, "wait_ns", ws->wait_ns);
		jw_u64(w, "max_wait_ns", ws->max_wait_ns);
		fmt_json_stack(w, "stack", r, ws->stack);
		jw_obj_end(w);
	}
out_free:
	VEC_FREE(v);
	jw_arr_end(w);
}

static void leaks_section(struct jw *w, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	struct rp_site *sites = NULL;
	size_t n = 0;
	jw_obj(w, "leaks");
	jw_u64(w, "bytes", a->live_bytes);
	jw_u64(w, "allocations", a->live_count);
	jw_bool(w, "scanned", false);
	jw_obj(w, "kinds");
	jw_obj(w, "unfreed");
	jw_u64(w, "bytes", a->live_bytes);
	jw_u64(w, "allocations", a->live_count);
	jw_obj_end(w);
	jw_obj_end(w);
	jw_arr(w, "sites");
	if (!rp_sites(r, RP_BY_LEAKED, &sites, &n)) {
		size_t lim = rp_limit(r, n, false);
		for (size_t i = 0; i < lim; i++) {
			jw_obj(w, NULL);
			jw_str(w, "kind", "unfreed");
			jw_u64(w, "bytes", sites[i].s->live_bytes);
			jw_u64(w, "allocations", sites[i].s->live_count);
			fmt_json_stack(w, "stack", r, sites[i].stack);
			jw_obj_end(w);
		}
	}
	free(sites);
	jw_arr_end(w);
	jw_obj_end(w);
}

static const char *const http_finding_kinds[] = {
	[HTTP_F_ERRORS] = "errors",
	[HTTP_F_CONNECTION_SETUP] = "connection_setup",
	[HTTP_F_SLOW_DNS] = "slow_dns",
	[HTTP_F_SERIAL] = "serial_requests",
};

/* http_section() : the contract's `http` array, then `http_findings` and `http_slowest`
 * (additions, docs/report-json.md). */
static void http_section(struct jw *w, struct report *r)
{
	const struct agg_http *h = &r->http;
	size_t lim = rp_limit(r, h->eps.n, false);
	jw_arr(w, "http");
	for (size_t i = 0; i < lim; i++) {
		const struct http_endpoint *ep = &h->eps.v[i];
		jw_obj(w, NULL);
		jw_str(w, "method", ep->method);
		jw_str(w, "endpoint", ep->endpoint);
		jw_u64(w, "requests", ep->requests);
		jw_u64(w, "errors", ep->errors);
		jw_u64(w, "total_ns", ep->total_ns);
		jw_u64(w, "p50_ns", ep->p50_ns);
		jw_u64(w, "p95_ns", ep->p95_ns);
		jw_u64(w, "p99_ns", ep->p99_ns);
		jw_u64(w, "max_ns", ep->max_ns);
		jw_u64(w, "dns_ns", ep->dns_ns);
		jw_u64(w, "connect_ns", ep->connect_ns);
		jw_u64(w, "tls_ns", ep->tls_ns);
		jw_u64(w, "ttfb_ns", ep->ttfb_ns);
		jw_u64(w, "bytes_received", ep->bytes_received);
		jw_u64(w, "new_connections", ep->new_connections);
		/* additions */
		jw_u64(w, "transfer_ns", ep->transfer_ns);
		jw_u64(w, "redirect_ns", ep->redirect_ns);
		jw_u64(w, "bytes_sent", ep->bytes_sent);
		jw_u64(w, "requests_with_new_connection", ep->fresh_requests);
		jw_u64(w, "redirects", ep->redirects);
		jw_u64(w, "multi_requests", ep->multi_requests);
		jw_str(w, "host", ep->host);
		jw_arr(w, "error_kinds");
		for (uint32_t k = 0; k < ep->n_err; k++) {
			const struct http_err_kind *e = &ep->err[k];
			jw_obj(w, NULL);
			jw_u64(w, "status", e->status);
			jw_u64(w, "curl_code", e->result);
			jw_str(w, "curl_error", http_curl_code_name(e->result));
			jw_bool(w, "aborted", e->aborted);
			jw_u64(w, "count", e->count);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		fmt_json_stack(w, "stack", r, ep->stack);
		jw_obj_end(w);
	}
	jw_arr_end(w);

	jw_arr(w, "http_findings");
	for (size_t i = 0; i < h->findings.n; i++) {
		const struct http_finding *f = &h->findings.v[i];
		const struct http_endpoint *ep = f->endpoint >= 0 ? &h->eps.v[f->endpoint] : NULL;
		jw_obj(w, NULL);
		jw_str(w, "kind", http_finding_kinds[f->kind]);
		jw_str(w, "method", ep ? ep->method : NULL);
		jw_str(w, "endpoint", ep ? ep->endpoint : NULL);
		jw_str(w, "host", ep ? ep->host : f->host);
		if (f->tid)
			jw_u64(w, "thread", f->tid);
		else
			jw_null(w, "thread");
		jw_u64(w, "requests", f->count);
		jw_u64(w, "time_ns", f->ns);
		jw_str(w, "message", f->message);
		fmt_json_stack(w, "stack", r, f->stack);
		jw_obj_end(w);
	}
	jw_arr_end(w);

	jw_arr(w, "http_slowest");
	for (uint32_t i = 0; i < h->n_slowest; i++) {
		const struct http_req *q = &h->reqs.v[h->slowest[i]];
		const struct http_endpoint *ep = &h->eps.v[q->group];
		jw_obj(w, NULL);
		jw_str(w, "method", ep->method);
		jw_str(w, "endpoint", ep->endpoint);
		jw_u64(w, "duration_ns", q->dur_ns);
		jw_u64(w, "start_ns", q->start_ns);
		jw_u64(w, "thread", q->tid);
		jw_u64(w, "status", q->status);
		jw_u64(w, "curl_code", q->result);
		jw_u64(w, "dns_ns", q->dns_us * 1000);
		jw_u64(w, "connect_ns", q->connect_us * 1000);
		jw_u64(w, "tls_ns", q->tls_us * 1000);
		jw_u64(w, "ttfb_ns", q->ttfb_us * 1000);
		jw_u64(w, "transfer_ns", q->transfer_us * 1000);
		jw_u64(w, "bytes_received", q->bytes_down);
		fmt_json_stack(w, "stack", r, q->stack);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/* http_stacks() : `http_stacks` (added): HTTP requests and their time by calling stack, most
 * time first; what a flame graph of HTTP time is drawn from (the html format). */
static void http_stacks(struct jw *w, struct report *r)
{
	struct http_stack_cost *c = NULL;
	size_t n = 0;
	jw_arr(w, "http_stacks");
	if (!agg_http_by_stack(&r->http, &c, &n)) {
		size_t lim = rp_limit(r, n, false);
		for (size_t i = 0; i < lim; i++) {
			jw_obj(w, NULL);
			jw_u64(w, "requests", c[i].requests);
			jw_u64(w, "total_ns", c[i].ns);
			fmt_json_stack(w, "stack", r, c[i].stack);
			jw_obj_end(w);
		}
	}
	free(c);
	jw_arr_end(w);
}

/* u64_array() / series_array() : one line each, whatever the pretty setting. */
static void u64_array(struct jw *w, const char *key, const uint64_t *v, size_t n)
{
	bool pretty = w->pretty;
	jw_arr(w, key);
	w->pretty = false;
	for (size_t i = 0; i < n; i++)
		jw_u64(w, NULL, v[i]);
	jw_arr_end(w);
	w->pretty = pretty;
}

static void series_array(struct jw *w, const char *key, const double *v, size_t n)
{
	bool pretty = w->pretty;
	jw_arr(w, key);
	w->pretty = false;
	for (size_t i = 0; i < n; i++)
		jw_u64(w, NULL, v[i] > 0 ? (uint64_t)(v[i] + 0.5) : 0);
	jw_arr_end(w);
	w->pretty = pretty;
}

/* growth_section() : the contract's "growth" (docs/report-json.md, docs/endurance.md). */
static void growth_section(struct jw *w, struct report *r)
{
	const struct agg_growth *g = &r->growth;
	if (!g->present)
		return;
	jw_obj(w, "growth");
	jw_u64(w, "interval_ns", g->interval_ns);
	jw_str(w, "source", g->mode == 2 ? "snapshots" : "events");
	jw_u64(w, "snapshots", g->mode == 2 ? g->snapshots : 0);
	jw_u64(w, "site_entries", g->site_entries);
	jw_u64(w, "snapshot_bytes", g->snapshot_bytes);
	jw_u64(w, "incomplete_snapshots", g->incomplete + g->skipped);
	jw_u64(w, "window_ns", g->window_ns);
	u64_array(w, "times_ns", g->t_ns, g->n_points);
	series_array(w, "total_bytes", g->total, g->n_points);
	jw_arr(w, "sites");
	size_t lim = rp_limit(r, g->out.n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct gr_site_out *o = &g->out.v[i];
		jw_obj(w, NULL);
		fmt_json_stack(w, "stack", r, o->stack);
		jw_u64(w, "live_bytes", o->live_bytes);
		jw_dbl(w, "bytes_per_s", o->bytes_per_s);
		jw_dbl(w, "fit", o->fit);
		jw_str(w, "verdict", gr_verdict_name(o->verdict));
		jw_u64(w, "live_allocations", o->live_count);
		series_array(w, "series", o->series, g->n_points);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	if (g->between) {
		jw_obj(w, "between");
		jw_u64(w, "requested_from_ns", r->opt.between_t1_ns);
		if (r->opt.between_t2_ns == UINT64_MAX)
			jw_null(w, "requested_to_ns");
		else
			jw_u64(w, "requested_to_ns", r->opt.between_t2_ns);
		jw_u64(w, "from_ns", g->from_ns);
		jw_u64(w, "to_ns", g->to_ns);
		jw_u64(w, "from_bytes", g->from_total);
		jw_u64(w, "to_bytes", g->to_total);
		jw_arr(w, "sites");
		size_t nb = rp_limit(r, g->by_delta.n, false);
		for (size_t i = 0; i < nb; i++) {
			const struct gr_site_out *o = &g->out.v[g->by_delta.v[i]];
			jw_obj(w, NULL);
			fmt_json_stack(w, "stack", r, o->stack);
			jw_i64(w, "delta_bytes", (int64_t)o->to_bytes - (int64_t)o->from_bytes);
			jw_u64(w, "from_bytes", o->from_bytes);
			jw_u64(w, "to_bytes", o->to_bytes);
			jw_u64(w, "from_allocations", o->from_count);
			jw_u64(w, "to_allocations", o->to_count);
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
}

int fmt_json(struct report *r, FILE *out)
{
	struct jw w;
	jw_init(&w, out, true);
	jw_obj(&w, NULL);
	jw_str(&w, "schema", "intercept-report/1");
	summary(&w, r);
	fmt_json_sql(&w, r);
	http_section(&w, r);
	http_stacks(&w, r);
	alloc_section(&w, r);
	locks_section(&w, r);
	lock_stacks(&w, r);
	leaks_section(&w, r);
	rp_json_processes(&w, r);
	growth_section(&w, r);
	jw_arr(&w, "warnings");
	for (size_t i = 0; i < r->warnings.n; i++)
		jw_str(&w, NULL, r->warnings.v[i]);
	const char *const *sw;
	size_t nsw = sym_warnings(r->sym, &sw);
	for (size_t i = 0; i < nsw; i++)
		jw_str(&w, NULL, sw[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	return ferror(out) ? az_error(AZ_EIO, "writing the report failed") : 0;
}
