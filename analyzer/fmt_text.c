/* fmt_text.c - owns the default report for a terminal: readable at 100 columns, --top N
 * entries per section, stacks cut to a few frames. Main thread only. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "report.h"

#define TEXT_FRAMES 8 /* frames shown per stack */
#define WIDTH 100

static void rule(FILE *o, const char *title)
{
	size_t n = strlen(title);
	fprintf(o, "\n%s ", title);
	for (size_t i = n + 1; i < WIDTH; i++)
		fputc('-', o);
	fputc('\n', o);
}

void fmt_text_stack(FILE *o, struct report *r, uint32_t stack_id, const char *indent)
{
	const struct rp_stack *s = rp_stack(r, stack_id);
	char label[512];
	if (s->n == 0) {
		fprintf(o, "%s(stack not recorded)\n", indent);
		return;
	}
	uint32_t shown = s->n < TEXT_FRAMES ? s->n : TEXT_FRAMES;
	for (uint32_t i = 0; i < shown; i++) {
		rp_frame_label(&s->frames[i], label, sizeof(label));
		int room = WIDTH - (int)strlen(indent) - 4;
		fprintf(o, "%s%s %.*s\n", indent, s->frames[i].inlined ? "~" : "at", room, label);
	}
	if (s->n > shown)
		fprintf(o, "%s   ... %u more frames\n", indent, s->n - shown);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* lock_summary() : one line: how much of the run threads spent waiting on locks. */
static void lock_summary(FILE *o, struct report *r)
{
	char b1[32], b2[32];
	if (!(r->tr.hdr.hooks & (ITF_HOOK_LOCK | ITF_HOOK_SQLITE)))
		return;
	uint64_t wait = rp_lock_wait_ns(r), run = tr_duration_ns(&r->tr);
	fprintf(o, "  threads waited %s on locks: %.1f%% of the %s run (summed over threads)\n",
		fmt_ns(b1, sizeof(b1), (double)wait), pct(wait, run),
		fmt_ns(b2, sizeof(b2), (double)run));
}

/* endurance_notes() : how the allocation figures below were obtained, when that is not
 * "every event, exactly" (docs/endurance.md). */
static void endurance_notes(FILE *o, struct report *r)
{
	const struct trace *t = &r->tr;
	const struct agg_growth *g = &r->growth;
	char b1[32], b2[32];
	if (t->hdr.sample_bytes)
		fprintf(o, "  SAMPLED: one allocation per %s allocated on average (Poisson); "
			   "counts and bytes below are unbiased estimates\n",
			fmt_bytes(b1, sizeof(b1), (double)t->hdr.sample_bytes));
	if (!agg_growth_rules(g, t)) {
		if (t->hdr.malloc_mode == ITF_MALLOC_SUMMARY)
			fprintf(o, "  summary mode, but no complete heap snapshot in the trace: no "
				   "allocation figures\n");
		return;
	}
	fprintf(o, "  %s: totals and leaks below are from the %s heap snapshot (%s after start)",
		t->hdr.malloc_mode == ITF_MALLOC_SUMMARY ? "summary mode"
		: t->missing_chunks			 ? "flight recorder"
							 : "sampled",
		g->last_final ? "final" : "newest",
		fmt_ns(b1, sizeof(b1), (double)tr_ns(t, g->last_ts)));
	if (t->missing_chunks && t->hdr.malloc_mode != ITF_MALLOC_SUMMARY)
		fprintf(o, ";\n  peak and temporary allocations from the %s events kept",
			fmt_count(b2, sizeof(b2), t->events));
	fputc('\n', o);
}

static void summary(FILE *o, struct report *r)
{
	const struct trace *t = &r->tr;
	const struct dec_counters *c = &t->counters;
	char b1[32], b2[32];
	/* the command line is cut to fit the 100 columns (JSON has all of it) */
	const char *cmd = t->hdr.command && *t->hdr.command ? t->hdr.command : "?";
	int room = WIDTH - (int)sizeof("intercept report for ... (pid 4294967295)") + 1;
	fprintf(o, "intercept report for %.*s%s (pid %u)\n", room, cmd,
		(int)strlen(cmd) > room ? "..." : "", t->hdr.pid);
	fprintf(o, "  ran %s, %zu thread%s, %s events", fmt_ns(b1, sizeof(b1), (double)tr_duration_ns(t)),
		t->threads.n, t->threads.n == 1 ? "" : "s", fmt_count(b2, sizeof(b2), t->events));
	if (t->complete && !t->truncated)
		fprintf(o, "; trace complete\n");
	else
		fprintf(o, "; trace INCOMPLETE (process killed or still running): read up to its "
			   "last flush\n");
	rp_text_processes(o, r);
	if (t->exec_path)
		fprintf(o, "  ended by exec of %s (its trace is a separate file)\n", t->exec_path);
	lock_summary(o, r);
	if (c->dropped_events)
		fprintf(o, "  %s events DROPPED (INTERCEPT_DROP=1 and the buffers were full): totals "
			   "below are low by that much\n",
			fmt_count(b1, sizeof(b1), c->dropped_events));
	if (c->missed_events)
		fprintf(o, "  %s events not recorded (made by signal handlers that interrupted the "
			   "profiler)\n",
			fmt_count(b1, sizeof(b1), c->missed_events));
	if (c->lost_bytes)
		fprintf(o, "  %s of trace could not be written (disk full or I/O error)\n",
			fmt_bytes(b1, sizeof(b1), (double)c->lost_bytes));
	if (t->missing_chunks)
		fprintf(o, "  %llu chunks missing from the trace\n",
			(unsigned long long)t->missing_chunks);
	if (t->hdr.flags & ITF_HDR_FORK_CHILD)
		fprintf(o, "  forked child of pid %u: blocks inherited from the parent are not in "
			   "this trace\n",
			t->hdr.ppid);
	endurance_notes(o, r);
}

static void alloc_section(FILE *o, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	struct rp_site *sites = NULL;
	size_t n = 0;
	if (!(r->tr.hdr.hooks & ITF_HOOK_MALLOC))
		return;
	rule(o, "ALLOCATIONS");
	fprintf(o, "  %s allocations (%s), %s frees\n", fmt_count(b1, sizeof(b1), a->allocations),
		fmt_bytes(b2, sizeof(b2), (double)a->bytes_allocated),
		fmt_count(b3, sizeof(b3), a->frees));
	if (r->merge)
		fprintf(o, "  peak: at most %s live in %s blocks (the sum of each process's peak)\n",
			fmt_bytes(b4, sizeof(b4), (double)a->peak_bytes),
			fmt_count(b5, sizeof(b5), a->peak_count));
	else
		fprintf(o, "  peak: %s live in %s blocks, %s after start\n",
			fmt_bytes(b4, sizeof(b4), (double)a->peak_bytes),
			fmt_count(b5, sizeof(b5), a->peak_count),
			fmt_ns(b6, sizeof(b6), (double)tr_ns(&r->tr, a->peak_ts)));
	fprintf(o, "  %s temporary allocations (%.1f%%: freed before the thread allocated again)\n",
		fmt_count(b1, sizeof(b1), a->temporary), pct(a->temporary, a->allocations));
	if (a->unmatched_frees)
		fprintf(o, "  %s frees of blocks allocated before tracing began\n",
			fmt_count(b1, sizeof(b1), a->unmatched_frees));

	if (rp_sites(r, RP_BY_BYTES, &sites, &n))
		return;
	size_t lim = rp_limit(r, n, true);
	fprintf(o, "\n  Top allocation sites by bytes (%zu of %zu sites)\n", lim, n);
	for (size_t i = 0; i < lim; i++) {
		const struct alloc_site *s = sites[i].s;
		fprintf(o, "  #%-3zu %s in %s allocations (%.1f%%), %s leaked\n", i + 1,
			fmt_bytes(b1, sizeof(b1), (double)s->bytes),
			fmt_count(b2, sizeof(b2), s->allocations), pct(s->bytes, a->bytes_allocated),
			fmt_bytes(b3, sizeof(b3), (double)s->live_bytes));
		fmt_text_stack(o, r, sites[i].stack, "        ");
	}
	free(sites);

	if (rp_sites(r, RP_BY_COUNT, &sites, &n))
		return;
	lim = rp_limit(r, n, true);
	fprintf(o, "\n  Top allocation sites by count\n");
	for (size_t i = 0; i < lim; i++) {
		const struct alloc_site *s = sites[i].s;
		fprintf(o, "  #%-3zu %s allocations (%.1f%%), %s\n", i + 1,
			fmt_count(b1, sizeof(b1), s->allocations), pct(s->allocations, a->allocations),
			fmt_bytes(b2, sizeof(b2), (double)s->bytes));
		fmt_text_stack(o, r, sites[i].stack, "        ");
	}
	free(sites);

	if (rp_sites(r, RP_BY_TEMPORARY, &sites, &n))
		return;
	lim = rp_limit(r, n, true);
	if (lim > 5 && !r->opt.top_given)
		lim = 5;
	if (lim) {
		fprintf(o, "\n  Most temporary allocations\n");
		for (size_t i = 0; i < lim; i++) {
			const struct alloc_site *s = sites[i].s;
			fprintf(o, "  #%-3zu %s of %s allocations freed at once\n", i + 1,
				fmt_count(b1, sizeof(b1), s->temporary),
				fmt_count(b2, sizeof(b2), s->allocations));
			fmt_text_stack(o, r, sites[i].stack, "        ");
		}
	}
	free(sites);
}

#define LOCK_WAITERS_TEXT 2 /* waiting stacks shown per lock */

static void locks_section(FILE *o, struct report *r)
{
	const struct agg_lock *a = &r->locks;
	char b1[32], b2[32], b3[32], b4[32];
	if (!(r->tr.hdr.hooks & ITF_HOOK_LOCK))
		return;
	rule(o, "LOCK CONTENTION");
	if (a->counting)
		fprintf(o, "  %s acquisitions of %s lock%s counted (INTERCEPT_LOCK_COUNT=1)\n",
			fmt_count(b1, sizeof(b1), a->acquisitions),
			fmt_count(b2, sizeof(b2), a->locks_counted), a->locks_counted == 1 ? "" : "s");
	if (a->count_overflow)
		fprintf(o, "  %s acquisitions not counted: more distinct locks than the counting "
			   "table holds\n",
			fmt_count(b1, sizeof(b1), a->count_overflow));
	if (!a->n_sorted) {
		fprintf(o, "  no contention: no thread ever found a pthread mutex or rwlock busy\n");
		return;
	}
	fprintf(o, "  %s contended acquisitions of %s lock%s, %s waited in all",
		fmt_count(b1, sizeof(b1), a->waits), fmt_count(b2, sizeof(b2), a->locks_contended),
		a->locks_contended == 1 ? "" : "s", fmt_ns(b3, sizeof(b3), (double)a->wait_ns));
	if (a->counting)
		fprintf(o, " (%.2f%% of acquisitions)", pct(a->waits, a->acquisitions));
	fprintf(o, "\n");
	size_t lim = rp_limit(r, a->n_sorted, true);
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = a->sorted[i];
		fprintf(o, "\n  #%-3zu %s 0x%llx: %s contended", i + 1, lock_kind_name(l),
			(unsigned long long)l->addr, fmt_count(b1, sizeof(b1), l->contended));
		if (l->counted)
			fprintf(o, " of %s acquisitions (%.1f%%)",
				fmt_count(b2, sizeof(b2), lock_acquisitions(l)),
				pct(l->contended, lock_acquisitions(l)));
		fprintf(o, ", waited %s (%.1f%%), longest %s\n",
			fmt_ns(b1, sizeof(b1), (double)l->wait_ns), pct(l->wait_ns, a->wait_ns),
			fmt_ns(b2, sizeof(b2), (double)l->max_wait_ns));
		if (l->read_contended || l->write_contended)
			fprintf(o, "        readers waited %s times (%s), writers %s times (%s)\n",
				fmt_count(b1, sizeof(b1), l->read_contended),
				fmt_ns(b2, sizeof(b2), (double)l->read_wait_ns),
				fmt_count(b3, sizeof(b3), l->write_contended),
				fmt_ns(b4, sizeof(b4), (double)l->write_wait_ns));
		if (l->timeouts || l->errors)
			fprintf(o, "        %s timed out, %s failed\n",
				fmt_count(b1, sizeof(b1), l->timeouts),
				fmt_count(b2, sizeof(b2), l->errors));
		size_t nw = l->n_sorted < LOCK_WAITERS_TEXT ? l->n_sorted : LOCK_WAITERS_TEXT;
		for (size_t j = 0; j < nw; j++) {
			const struct lock_waiter *w = &l->sorted[j];
			fprintf(o, "        %s waits, %s, from:\n",
				fmt_count(b1, sizeof(b1), w->waits),
				fmt_ns(b2, sizeof(b2), (double)w->wait_ns));
			fmt_text_stack(o, r, w->stack, "          ");
		}
		if (l->n_sorted > nw)
			fprintf(o, "        ... %zu more waiting stacks\n", l->n_sorted - nw);
		bool by_count = l->counted && l->first_acq_stack;
		uint32_t first = by_count ? l->first_acq_stack : l->first_wait_stack;
		size_t same = nw;
		for (size_t j = 0; j < nw; j++)
			if (l->sorted[j].stack == first)
				same = j;
		const char *what = by_count ? "first acquisition" : "first contended acquisition";
		if (same < nw) {
			fprintf(o, "        first seen (%s) from waiting stack %zu above\n", what,
				same + 1);
		} else {
			fprintf(o, "        first seen (%s):\n", what);
			fmt_text_stack(o, r, first, "          ");
		}
	}
	if (a->n_sorted > lim)
		fprintf(o, "  ... %zu more contended locks (--top %zu shows them)\n",
			a->n_sorted - lim, a->n_sorted);
}

static void leaks_section(FILE *o, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	char b1[32], b2[32];
	struct rp_site *sites = NULL;
	size_t n = 0;
	if (!(r->tr.hdr.hooks & ITF_HOOK_MALLOC))
		return;
	rule(o, "LEAKS");
	if (!a->live_count) {
		fprintf(o, "  no leaks: every block allocated was freed\n");
		return;
	}
	fprintf(o, "  %s in %s blocks still allocated %s (no reachability scan)\n",
		fmt_bytes(b1, sizeof(b1), (double)a->live_bytes),
		fmt_count(b2, sizeof(b2), a->live_count),
		r->tr.exec_path ? "at exec" : r->tr.complete ? "at exit" : "when the trace ends");
	if (rp_sites(r, RP_BY_LEAKED, &sites, &n))
		return;
	size_t lim = rp_limit(r, n, true);
	for (size_t i = 0; i < lim; i++) {
		const struct alloc_site *s = sites[i].s;
		fprintf(o, "  #%-3zu %s in %s blocks (%.1f%%)\n", i + 1,
			fmt_bytes(b1, sizeof(b1), (double)s->live_bytes),
			fmt_count(b2, sizeof(b2), s->live_count), pct(s->live_bytes, a->live_bytes));
		fmt_text_stack(o, r, sites[i].stack, "        ");
	}
	if (n > lim)
		fprintf(o, "  ... %zu more sites (--top %zu shows them)\n", n - lim, n);
	free(sites);
}

static const char *status_text(char *buf, size_t cap, uint32_t status, uint32_t result,
			       uint32_t flags)
{
	const char *name = http_curl_code_name(result);
	if (result && name)
		snprintf(buf, cap, "%s", name);
	else if (result)
		snprintf(buf, cap, "CURLcode %u", result);
	else if (status)
		snprintf(buf, cap, "HTTP %u", status);
	else if (flags & ITF_HTTP_NO_RESULT)
		snprintf(buf, cap, "removed before completion");
	else
		snprintf(buf, cap, "no response");
	return buf;
}

static void http_section(FILE *o, struct report *r)
{
	const struct agg_http *h = &r->http;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32];
	if (!h->requests)
		return;
	rule(o, "HTTP ENDPOINTS");
	fprintf(o, "  %s requests to %zu endpoint%s, %s failed; %s in requests\n",
		fmt_count(b1, sizeof(b1), h->requests), h->eps.n, h->eps.n == 1 ? "" : "s",
		fmt_count(b2, sizeof(b2), h->errors), fmt_ns(b3, sizeof(b3), (double)h->total_ns));
	size_t lim = rp_limit(r, h->eps.n, true);
	for (size_t i = 0; i < lim; i++) {
		const struct http_endpoint *ep = &h->eps.v[i];
		fprintf(o, "  #%-3zu %s %s\n", i + 1, ep->method, ep->endpoint);
		fprintf(o, "        %s request%s, %s error%s, %s in total: p50 %s  p95 %s  p99 %s  "
			   "max %s\n",
			fmt_count(b1, sizeof(b1), ep->requests), ep->requests == 1 ? "" : "s",
			fmt_count(b2, sizeof(b2), ep->errors), ep->errors == 1 ? "" : "s",
			fmt_ns(b3, sizeof(b3), (double)ep->total_ns),
			fmt_ns(b4, sizeof(b4), (double)ep->p50_ns),
			fmt_ns(b5, sizeof(b5), (double)ep->p95_ns),
			fmt_ns(b6, sizeof(b6), (double)ep->p99_ns),
			fmt_ns(b7, sizeof(b7), (double)ep->max_ns));
		fprintf(o, "        phases: DNS %s, connect %s, TLS %s, ",
			fmt_ns(b1, sizeof(b1), (double)ep->dns_ns),
			fmt_ns(b2, sizeof(b2), (double)ep->connect_ns),
			fmt_ns(b3, sizeof(b3), (double)ep->tls_ns));
		fprintf(o, "first byte %s, transfer %s\n",
			fmt_ns(b4, sizeof(b4), (double)ep->ttfb_ns),
			fmt_ns(b5, sizeof(b5), (double)ep->transfer_ns));
		fprintf(o, "        %s new connection%s, %s received, %s sent",
			fmt_count(b1, sizeof(b1), ep->new_connections),
			ep->new_connections == 1 ? "" : "s",
			fmt_bytes(b2, sizeof(b2), (double)ep->bytes_received),
			fmt_bytes(b3, sizeof(b3), (double)ep->bytes_sent));
		if (ep->redirects)
			fprintf(o, ", %s redirects followed",
				fmt_count(b4, sizeof(b4), ep->redirects));
		fprintf(o, "\n");
		fmt_text_stack(o, r, ep->stack, "        ");
	}
	if (h->eps.n > lim)
		fprintf(o, "  ... %zu more endpoints (--top %zu shows them)\n", h->eps.n - lim,
			h->eps.n);
	if (h->findings.n) {
		fprintf(o, "\n  Findings\n");
		for (size_t i = 0; i < h->findings.n; i++) {
			/* an endpoint's finding has the endpoint's stack, shown above */
			fprintf(o, "  - %s\n", h->findings.v[i].message);
			if (h->findings.v[i].endpoint < 0)
				fmt_text_stack(o, r, h->findings.v[i].stack, "        ");
		}
	}
	if (h->n_slowest) {
		fprintf(o, "\n  Slowest requests\n");
		for (uint32_t i = 0; i < h->n_slowest; i++) {
			const struct http_req *q = &h->reqs.v[h->slowest[i]];
			const struct http_endpoint *ep = &h->eps.v[q->group];
			fprintf(o, "  #%-3u %s  %s %s: %s, started %s after start, thread %u\n",
				i + 1,
				fmt_ns(b1, sizeof(b1), (double)q->dur_ns), ep->method, ep->endpoint,
				status_text(b2, sizeof(b2), q->status, q->result, q->flags),
				fmt_ns(b3, sizeof(b3), (double)q->start_ns), q->tid);
		}
	}
}

/* ---- growth (docs/endurance.md) ------------------------------------------------------------ */

#define SPARK_W 48

/* sparkline() : v[0..n) in at most SPARK_W block characters, scaled 0..top. */
static void sparkline(FILE *o, const double *v, uint32_t n, double top)
{
	static const char *const bars[] = {"\u2581", "\u2582", "\u2583", "\u2584",
					   "\u2585", "\u2586", "\u2587", "\u2588"};
	uint32_t cols = n < SPARK_W ? n : SPARK_W;
	for (uint32_t c = 0; c < cols; c++) {
		uint32_t lo = c * n / cols, hi = (c + 1) * n / cols;
		double sum = 0;
		for (uint32_t j = lo; j < hi; j++)
			sum += v[j];
		double avg = hi > lo ? sum / (hi - lo) : 0;
		if (avg <= 0 || top <= 0) {
			fputc(' ', o);
			continue;
		}
		int k = (int)(avg / top * 8);
		fputs(bars[k < 0 ? 0 : k > 7 ? 7 : k], o);
	}
}

static const char *fmt_sbytes(char *buf, size_t cap, double v)
{
	char tmp[32];
	snprintf(buf, cap, "%s%s", v < 0 ? "-" : "+", fmt_bytes(tmp, sizeof(tmp), fabs(v)));
	return buf;
}

static double series_max(const double *v, uint32_t n)
{
	double m = 0;
	for (uint32_t i = 0; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

void fmt_text_growth(FILE *o, struct report *r)
{
	const struct agg_growth *g = &r->growth;
	char b1[32], b2[32], b3[32], b4[32];
	if (!g->present)
		return;
	uint32_t n = g->n_points;
	uint64_t span = g->t_ns[n - 1] - g->t_ns[0];
	rule(o, "GROWTH");
	if (g->mode == 2)
		fprintf(o, "  live heap over %s: %s snapshots every %s",
			fmt_ns(b1, sizeof(b1), (double)span),
			fmt_count(b2, sizeof(b2), g->snapshots),
			fmt_ns(b3, sizeof(b3), (double)g->interval_ns));
	else
		fprintf(o, "  live heap over %s, sampled from the events every %s (no snapshots in "
			   "the trace)",
			fmt_ns(b1, sizeof(b1), (double)span),
			fmt_ns(b3, sizeof(b3), (double)g->interval_ns));
	fprintf(o, "; rates fitted from %s on\n", fmt_ns(b4, sizeof(b4), (double)g->window_ns));
	double top = series_max(g->total, n);
	fprintf(o, "  heap  ");
	sparkline(o, g->total, n, top);
	fprintf(o, "  max %s, now %s\n", fmt_bytes(b1, sizeof(b1), top),
		fmt_bytes(b2, sizeof(b2), g->total[n - 1]));
	size_t lim = rp_limit(r, g->out.n, true);
	for (size_t i = 0; i < lim; i++) {
		const struct gr_site_out *s = &g->out.v[i];
		fprintf(o, "  #%-3zu %-8s %s/s (fit %.2f)  %s live in %s blocks\n", i + 1,
			gr_verdict_name(s->verdict), fmt_sbytes(b1, sizeof(b1), s->bytes_per_s),
			s->fit,
			fmt_bytes(b2, sizeof(b2), (double)s->live_bytes),
			fmt_count(b3, sizeof(b3), s->live_count));
		double smax = series_max(s->series, n);
		fprintf(o, "        ");
		sparkline(o, s->series, n, smax);
		fprintf(o, "  max %s\n", fmt_bytes(b1, sizeof(b1), smax));
		fmt_text_stack(o, r, s->stack, "        ");
	}
	if (g->out.n > lim)
		fprintf(o, "  ... %zu more sites (--top %zu shows them)\n", g->out.n - lim,
			g->out.n);
	if (g->incomplete + g->skipped)
		fprintf(o, "  %llu incomplete snapshots left out (the file was cut, or chunks were "
			   "dropped)\n",
			(unsigned long long)(g->incomplete + g->skipped));
}

static void between_section(FILE *o, struct report *r)
{
	const struct agg_growth *g = &r->growth;
	char b1[32], b2[32], b3[32], b4[32], b5[32], title[128];
	if (!r->opt.between)
		return;
	if (!g->present) {
		rule(o, "GROWTH BETWEEN");
		fprintf(o, "  the trace has no heap over time (no snapshots, no allocation "
			   "events)\n");
		return;
	}
	snprintf(title, sizeof(title), "GROWTH BETWEEN %s AND %s",
		 fmt_ns(b1, sizeof(b1), (double)r->opt.between_t1_ns),
		 r->opt.between_t2_ns == UINT64_MAX
			 ? "THE END"
			 : fmt_ns(b2, sizeof(b2), (double)r->opt.between_t2_ns));
	rule(o, title);
	fprintf(o, "  live heap %s at %s, %s at %s%s: %s\n",
		fmt_bytes(b1, sizeof(b1), (double)g->from_total),
		fmt_ns(b2, sizeof(b2), (double)g->from_ns),
		fmt_bytes(b3, sizeof(b3), (double)g->to_total),
		fmt_ns(b4, sizeof(b4), (double)g->to_ns),
		g->mode == 2 ? " (the nearest snapshots)" : "",
		fmt_sbytes(b5, sizeof(b5), (double)g->to_total - (double)g->from_total));
	size_t lim = rp_limit(r, g->by_delta.n, true);
	for (size_t i = 0; i < lim; i++) {
		const struct gr_site_out *s = &g->out.v[g->by_delta.v[i]];
		fprintf(o, "  #%-3zu %s (%s -> %s, %+lld blocks)\n", i + 1,
			fmt_sbytes(b1, sizeof(b1), (double)s->to_bytes - (double)s->from_bytes),
			fmt_bytes(b2, sizeof(b2), (double)s->from_bytes),
			fmt_bytes(b3, sizeof(b3), (double)s->to_bytes),
			(long long)s->to_count - (long long)s->from_count);
		fmt_text_stack(o, r, s->stack, "        ");
	}
	if (!g->by_delta.n)
		fprintf(o, "  no site changed\n");
}

int fmt_text(struct report *r, FILE *o)
{
	summary(o, r);
	fmt_text_sql(o, r);
	http_section(o, r);
	alloc_section(o, r);
	locks_section(o, r);
	leaks_section(o, r);
	fmt_text_growth(o, r);
	between_section(o, r);
	const char *const *sw;
	size_t nsw = sym_warnings(r->sym, &sw);
	if (nsw || r->warnings.n)
		rule(o, "NOTES");
	for (size_t i = 0; i < r->warnings.n; i++)
		fprintf(o, "  %s\n", r->warnings.v[i]);
	for (size_t i = 0; i < nsw; i++)
		fprintf(o, "  %s\n", sw[i]);
	return ferror(o) ? az_error(AZ_EIO, "writing the report failed") : 0;
}
