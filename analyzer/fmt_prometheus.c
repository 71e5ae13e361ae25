/* fmt_prometheus.c - owns `--format prometheus`: the run's aggregates in Prometheus' text
 * exposition format (version 0.0.4), for a Pushgateway, a textfile collector or a CI job's
 * artifacts. Every metric is named intercept_*, has HELP and TYPE lines, counters end in
 * _total, units are seconds and bytes. No timestamps: the values describe one finished
 * run. Per-site metrics carry the site frame (rp_site_frame(), report.c) as labels
 * `function`, `file` (file name), `line`; sites with the same labels are added up, and only
 * the largest 20 (or --top N) are written, to keep the series count bounded. A section is
 * one function in `sections` below. Main thread only; writes only to its FILE. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "intercept/trace_format.h"
#include "json_out.h"
#include "report.h"
#include "strtab.h"

#define SITES_DEFAULT 20

/* esc() : append s as a label value or HELP text: backslash, newline and (for label values)
 * double quote escaped, other control characters as spaces, invalid UTF-8 as U+FFFD (the
 * format is UTF-8). */
static void esc(struct sbuf *b, const char *s, bool label)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)u);
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c == '\\' || (label && c == '"')) {
			sb_putc(b, '\\');
			sb_putc(b, (char)c);
			i++;
		} else if (c == '\n') {
			sb_puts(b, "\\n");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_putc(b, ' ');
			i++;
		} else if (c < 0x80) {
			sb_putc(b, (char)c);
			i++;
		} else {
			size_t l = jw_utf8_len(u + i, n - i);
			if (l) {
				sb_put(b, (const char *)u + i, l);
				i += l;
			} else {
				sb_puts(b, "\xef\xbf\xbd");
				i++;
			}
		}
	}
}

/* escaped() : esc() straight to o. */
static void escaped(FILE *o, const char *s, bool label)
{
	struct sbuf b = {0};
	esc(&b, s, label);
	if (b.s)
		fputs(b.s, o);
	sb_free(&b);
}

static void family(FILE *o, const char *name, const char *type, const char *help)
{
	fprintf(o, "# HELP %s ", name);
	escaped(o, help, false);
	fprintf(o, "\n# TYPE %s %s\n", name, type);
}

/* metric_seconds() : a family with one sample without labels: ns written as seconds. */
static void metric_seconds(FILE *o, const char *name, const char *type, const char *help,
			   uint64_t ns)
{
	family(o, name, type, help);
	fprintf(o, "%s %llu.%09llu\n", name, (unsigned long long)(ns / 1000000000u),
		(unsigned long long)(ns % 1000000000u));
}

static void metric_u64(FILE *o, const char *name, const char *type, const char *help,
		       uint64_t v)
{
	family(o, name, type, help);
	fprintf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* ---- sections ---- */

static int section_run(FILE *o, struct report *r)
{
	const struct trace *t = &r->tr;
	char pid[16];
	snprintf(pid, sizeof(pid), "%u", t->hdr.pid);
	family(o, "intercept_run_info", "gauge",
	       "The profiled run (always 1): its pid, command, executable and trace file.");
	fputs("intercept_run_info{pid=\"", o);
	escaped(o, pid, true);
	fputs("\",command=\"", o);
	escaped(o, t->hdr.command, true);
	fputs("\",executable=\"", o);
	escaped(o, t->hdr.exe, true);
	fputs("\",trace=\"", o);
	escaped(o, t->path, true);
	fputs("\"} 1\n", o);
	metric_seconds(o, "intercept_run_duration_seconds", "gauge",
		       "From the start of tracing to its end (or the last flush of a killed run).",
		       tr_duration_ns(t));
	metric_u64(o, "intercept_run_start_time_seconds", "gauge",
		   "When tracing started, seconds since the epoch.",
		   t->hdr.start_realtime_ns / 1000000000u);
	metric_u64(o, "intercept_trace_complete", "gauge",
		   "1 when the trace ends with the process's exit or exec, 0 when it was killed "
		   "or still running.",
		   t->complete && !t->truncated);
	metric_u64(o, "intercept_threads", "gauge", "Threads seen in the trace.", t->threads.n);
	metric_u64(o, "intercept_trace_events_total", "counter", "Events recorded.", t->events);
	metric_u64(o, "intercept_trace_dropped_events_total", "counter",
		   "Events dropped because buffers were full (totals are low by that much).",
		   t->counters.dropped_events);
	return 0;
}

static int section_heap(FILE *o, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	metric_u64(o, "intercept_heap_allocations_total", "counter",
		   "Allocations (malloc family; a realloc counts as one).", a->allocations);
	metric_u64(o, "intercept_heap_frees_total", "counter", "Frees.", a->frees);
	metric_u64(o, "intercept_heap_allocated_bytes_total", "counter", "Bytes allocated.",
		   a->bytes_allocated);
	metric_u64(o, "intercept_heap_freed_bytes_total", "counter", "Bytes freed.",
		   a->bytes_freed);
	metric_u64(o, "intercept_heap_peak_bytes", "gauge", "The most bytes live at once.",
		   a->peak_bytes);
	metric_u64(o, "intercept_heap_temporary_allocations_total", "counter",
		   "Allocations freed by their thread before it allocated again.", a->temporary);
	metric_u64(o, "intercept_leaked_bytes", "gauge",
		   "Bytes still allocated when the trace ended.", a->live_bytes);
	metric_u64(o, "intercept_leaked_blocks", "gauge",
		   "Blocks still allocated when the trace ended.", a->live_count);
	return 0;
}

/* A site's labels and its summed values. */
struct site_sum {
	const char *labels; /* owned by the strtab */
	uint64_t v[2];
};

static int by_v0(const void *x, const void *y)
{
	const struct site_sum *a = x, *b = y;
	if (a->v[0] != b->v[0])
		return a->v[0] < b->v[0] ? 1 : -1;
	return strcmp(a->labels, b->labels);
}

/* site_labels() : append the labels of site frame f (NULL: no stack) to b:
 * {function="...",file="...",line="N"} with the file name only. Two sites with the same
 * labels are one series. */
static void site_labels(struct sbuf *b, const struct rp_frame *f)
{
	char name[1024];
	const char *file = f && f->file ? strrchr(f->file, '/') : NULL;
	file = file ? file + 1 : f ? f->file : NULL;
	sb_puts(b, "{function=\"");
	esc(b, f ? rp_frame_name(f, name, sizeof(name)) : RP_NO_STACK, true);
	sb_puts(b, "\",file=\"");
	esc(b, file, true);
	sb_printf(b, "\",line=\"%u\"}", f ? f->line : 0);
}

/* site_metrics() : two families over the sites in `order` (values: bytes and count). */
static int site_metrics(FILE *o, struct report *r, enum rp_site_order order, const char *names[2],
			const char *types[2], const char *helps[2])
{
	struct rp_site *sites;
	size_t n;
	struct strtab keys;
	struct site_sum *sums = NULL;
	int rc = rp_sites(r, order, &sites, &n);
	if (rc)
		return rc;
	if (strtab_init(&keys) || !(sums = xcalloc(n + 1, sizeof(*sums)))) {
		rc = az_error(AZ_ENOMEM, "out of memory");
		goto out;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct sbuf labels = {0};
		site_labels(&labels, rp_site_frame(rp_stack(r, sites[i].stack)));
		bool is_new;
		int64_t id = labels.oom ? -1 : strtab_id(&keys, labels.s, labels.len, &is_new);
		sb_free(&labels);
		if (id < 0) {
			rc = az_error(AZ_ENOMEM, "out of memory");
			goto out;
		}
		if (is_new) /* ids are dense, in order of first sight: id == k */
			sums[k++].labels = strtab_str(&keys, (uint64_t)id);
		const struct alloc_site *s = sites[i].s;
		bool leaked = order == RP_BY_LEAKED;
		sums[id].v[0] += leaked ? s->live_bytes : s->bytes;
		sums[id].v[1] += leaked ? s->live_count : s->allocations;
	}
	qsort(sums, k, sizeof(*sums), by_v0);
	size_t lim = r->opt.top_given ? rp_limit(r, k, false) :
			 k < SITES_DEFAULT ? k : SITES_DEFAULT;
	for (int m = 0; m < 2; m++) {
		family(o, names[m], types[m], helps[m]);
		for (size_t i = 0; i < lim; i++) {
			fprintf(o, "%s%s %llu\n", names[m], sums[i].labels,
				(unsigned long long)sums[i].v[m]);
		}
	}
out:
	free(sums);
	strtab_free(&keys);
	free(sites);
	return rc;
}

static int section_alloc_sites(FILE *o, struct report *r)
{
	const char *names[2] = {"intercept_alloc_site_allocated_bytes_total",
				"intercept_alloc_site_allocations_total"};
	const char *types[2] = {"counter", "counter"};
	const char *helps[2] = {"Bytes allocated at the site (largest sites only).",
				"Allocations made at the site (largest sites by bytes only)."};
	return site_metrics(o, r, RP_BY_BYTES, names, types, helps);
}

static int section_leak_sites(FILE *o, struct report *r)
{
	const char *names[2] = {"intercept_leak_site_bytes", "intercept_leak_site_blocks"};
	const char *types[2] = {"gauge", "gauge"};
	const char *helps[2] = {"Bytes still allocated at the end, by allocating site (largest "
				"sites only).",
				"Blocks still allocated at the end, by allocating site (largest "
				"sites by bytes only)."};
	return site_metrics(o, r, RP_BY_LEAKED, names, types, helps);
}

/* http_labels() : {method="...",endpoint="..."} of endpoint e, and extra (",k=\"v\"" or
 * ""), into b. */
static void http_labels(struct sbuf *b, const struct http_endpoint *e, const char *extra)
{
	sb_puts(b, "{method=\"");
	esc(b, e->method, true);
	sb_puts(b, "\",endpoint=\"");
	esc(b, e->endpoint, true);
	sb_printf(b, "\"%s}", extra);
}

static void http_sample(FILE *o, const char *name, const struct http_endpoint *e,
			const char *extra, uint64_t v, bool seconds)
{
	struct sbuf b = {0};
	http_labels(&b, e, extra);
	if (seconds)
		fprintf(o, "%s%s %llu.%09llu\n", name, b.s ? b.s : "",
			(unsigned long long)(v / 1000000000u),
			(unsigned long long)(v % 1000000000u));
	else
		fprintf(o, "%s%s %llu\n", name, b.s ? b.s : "", (unsigned long long)v);
	sb_free(&b);
}

/* section_http() : per endpoint (the largest 20 by time, or --top N), its requests and
 * errors, its latency as a summary (p50/p95/p99 quantiles, sum and count), its phases and
 * bytes. */
static int section_http(FILE *o, struct report *r)
{
	const struct agg_http *h = &r->http;
	size_t n = h->eps.n;
	size_t lim = r->opt.top_given ? rp_limit(r, n, false) :
		     n < SITES_DEFAULT ? n : SITES_DEFAULT;
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} counters[] = {
		{"intercept_http_requests_total", "counter", "HTTP requests made through libcurl.",
		 offsetof(struct http_endpoint, requests)},
		{"intercept_http_errors_total", "counter",
		 "HTTP requests that failed (CURLcode not OK, status >= 400, or abandoned).",
		 offsetof(struct http_endpoint, errors)},
		{"intercept_http_received_bytes_total", "counter", "Response bytes received.",
		 offsetof(struct http_endpoint, bytes_received)},
		{"intercept_http_sent_bytes_total", "counter", "Request bytes sent.",
		 offsetof(struct http_endpoint, bytes_sent)},
		{"intercept_http_new_connections_total", "counter",
		 "Connections opened (CURLINFO_NUM_CONNECTS).",
		 offsetof(struct http_endpoint, new_connections)},
	};
	static const struct {
		const char *phase;
		size_t off;
	} phases[] = {
		{"dns", offsetof(struct http_endpoint, dns_ns)},
		{"connect", offsetof(struct http_endpoint, connect_ns)},
		{"tls", offsetof(struct http_endpoint, tls_ns)},
		{"ttfb", offsetof(struct http_endpoint, ttfb_ns)},
		{"transfer", offsetof(struct http_endpoint, transfer_ns)},
	};
	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		family(o, counters[c].name, counters[c].type, counters[c].help);
		for (size_t i = 0; i < lim; i++) {
			const struct http_endpoint *e = &h->eps.v[i];
			uint64_t v;
			memcpy(&v, (const char *)e + counters[c].off, sizeof(v));
			http_sample(o, counters[c].name, e, "", v, false);
		}
	}
	const char *lat = "intercept_http_request_duration_seconds";
	family(o, lat, "summary",
	       "HTTP request latency (libcurl's total time per request); quantiles are exact.");
	for (size_t i = 0; i < lim; i++) {
		const struct http_endpoint *e = &h->eps.v[i];
		http_sample(o, lat, e, ",quantile=\"0.5\"", e->p50_ns, true);
		http_sample(o, lat, e, ",quantile=\"0.95\"", e->p95_ns, true);
		http_sample(o, lat, e, ",quantile=\"0.99\"", e->p99_ns, true);
		char name[96];
		snprintf(name, sizeof(name), "%s_sum", lat);
		http_sample(o, name, e, "", e->total_ns, true);
		snprintf(name, sizeof(name), "%s_count", lat);
		http_sample(o, name, e, "", e->requests, false);
	}
	const char *ph = "intercept_http_phase_seconds_total";
	family(o, ph, "counter",
	       "HTTP request time by phase: dns, connect, tls, ttfb (waiting for the first "
	       "byte), transfer.");
	for (size_t i = 0; i < lim; i++) {
		const struct http_endpoint *e = &h->eps.v[i];
		for (size_t k = 0; k < sizeof(phases) / sizeof(phases[0]); k++) {
			char extra[48];
			uint64_t v;
			memcpy(&v, (const char *)e + phases[k].off, sizeof(v));
			snprintf(extra, sizeof(extra), ",phase=\"%s\"", phases[k].phase);
			http_sample(o, ph, e, extra, v, true);
		}
	}
	return 0;
}

static void sample_seconds(FILE *o, const char *name, const char *labels, uint64_t ns)
{
	fprintf(o, "%s%s %llu.%09llu\n", name, labels, (unsigned long long)(ns / 1000000000u),
		(unsigned long long)(ns % 1000000000u));
}

/* section_locks() : pthread lock contention: totals, and per lock (the largest 20 by wait,
 * or --top N) with labels lock, kind and the site frame of its most frequent waiting
 * stack. Acquisitions only when the trace was made with the counting mode. */
static int section_locks(FILE *o, struct report *r)
{
	const struct agg_lock *a = &r->locks;
	metric_seconds(o, "intercept_locks_wait_seconds_total", "counter",
		       "Time threads waited for pthread mutexes and rwlocks, summed over threads.",
		       a->wait_ns);
	metric_u64(o, "intercept_locks_contentions_total", "counter",
		   "pthread lock acquisitions that found the lock busy and waited.", a->waits);
	if (a->counting)
		metric_u64(o, "intercept_locks_acquisitions_total", "counter",
			   "pthread lock acquisitions (counting mode).", a->acquisitions);
	size_t lim = r->opt.top_given ? rp_limit(r, a->n_sorted, false) :
			 a->n_sorted < SITES_DEFAULT ? a->n_sorted : SITES_DEFAULT;
	struct sbuf *labels = xcalloc(lim ? lim : 1, sizeof(*labels));
	if (!labels)
		return az_error(AZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = a->sorted[i];
		struct sbuf site = {0};
		site_labels(&site, rp_site_frame(rp_stack(r, l->n_sorted ? l->sorted[0].stack : 0)));
		sb_printf(&labels[i], "{lock=\"0x%llx\",kind=\"%s\",", (unsigned long long)l->addr,
			  lock_kind_name(l));
		sb_puts(&labels[i], site.s ? site.s + 1 : "}"); /* site's labels without its '{' */
		sb_free(&site);
	}
	family(o, "intercept_lock_wait_seconds_total", "counter",
	       "Time threads waited for this lock (the locks waited for longest only).");
	for (size_t i = 0; i < lim; i++)
		sample_seconds(o, "intercept_lock_wait_seconds_total", labels[i].s,
			       a->sorted[i]->wait_ns);
	family(o, "intercept_lock_contentions_total", "counter",
	       "Acquisitions of this lock that waited (the locks waited for longest only).");
	for (size_t i = 0; i < lim; i++)
		fprintf(o, "intercept_lock_contentions_total%s %llu\n", labels[i].s,
			(unsigned long long)a->sorted[i]->contended);
	if (a->counting) {
		family(o, "intercept_lock_acquisitions_total", "counter",
		       "Acquisitions of this lock (counting mode; the locks waited for longest "
		       "only).");
		for (size_t i = 0; i < lim; i++)
			fprintf(o, "intercept_lock_acquisitions_total%s %llu\n", labels[i].s,
				(unsigned long long)lock_acquisitions(a->sorted[i]));
	}
	int rc = 0;
	for (size_t i = 0; i < lim; i++) {
		if (labels[i].oom)
			rc = az_error(AZ_ENOMEM, "out of memory");
		sb_free(&labels[i]);
	}
	free(labels);
	return rc;
}

static void seconds(FILE *o, uint64_t ns)
{
	fprintf(o, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
		(unsigned long long)(ns % 1000000000u));
}

/* section_sql() : SQL totals, and per statement (the largest 20 by time inside SQLite, or
 * --top N) a summary of the time per execution plus rows, busy results, lock wait and
 * full-scan steps, labelled with the normalized statement and its database file. */
static int section_sql(FILE *o, struct report *r)
{
	const struct agg_sql *a = &r->sql;
	metric_u64(o, "intercept_sql_executions_total", "counter",
		   "SQL statement executions (all statements).", a->executions);
	metric_seconds(o, "intercept_sql_seconds_total", "counter",
		       "Time inside sqlite3_step (all statements).", a->total_ns);
	metric_u64(o, "intercept_sql_busy_total", "counter",
		   "Executions that ended with SQLITE_BUSY or SQLITE_LOCKED.", a->busy);
	metric_seconds(o, "intercept_sql_lock_wait_seconds_total", "counter",
		       "Time spent waiting for database locks (busy handlers).", a->lock_wait_ns);
	size_t n = a->stmts.n;
	size_t lim = r->opt.top_given ? rp_limit(r, n, false) : n < SITES_DEFAULT ? n : SITES_DEFAULT;
	char **labels = xcalloc(lim ? lim : 1, sizeof(*labels));
	if (!labels)
		return az_error(AZ_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < lim && !rc; i++) {
		const struct sql_stmt *s = &a->stmts.v[a->order[i]];
		struct sbuf b = {0};
		sb_puts(&b, "statement=\"");
		esc(&b, tr_string(&r->tr, s->sql), true);
		sb_puts(&b, "\",database=\"");
		esc(&b, tr_string(&r->tr, s->db), true);
		sb_puts(&b, "\"");
		if (b.oom)
			rc = az_error(AZ_ENOMEM, "out of memory");
		labels[i] = b.s;
	}
	const char *q = "intercept_sql_statement_seconds";
	if (!rc)
		family(o, q, "summary", "Time inside sqlite3_step per execution, by statement "
					"(largest statements by total time only).");
	static const struct {
		const char *label;
		size_t off;
	} qs[] = {{"0.5", offsetof(struct sql_stmt, p50_ns)},
		  {"0.95", offsetof(struct sql_stmt, p95_ns)},
		  {"0.99", offsetof(struct sql_stmt, p99_ns)}};
	for (size_t i = 0; i < lim && !rc; i++) {
		const struct sql_stmt *s = &a->stmts.v[a->order[i]];
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			fprintf(o, "%s{%s,quantile=\"%s\"} ", q, labels[i], qs[k].label);
			seconds(o, *(const uint64_t *)((const char *)s + qs[k].off));
			fputc('\n', o);
		}
		fprintf(o, "%s_sum{%s} ", q, labels[i]);
		seconds(o, s->total_ns);
		fprintf(o, "\n%s_count{%s} %llu\n", q, labels[i],
			(unsigned long long)s->executions);
	}
	static const struct {
		const char *name, *help;
		size_t off;
		bool ns;
	} per[] = {
		{"intercept_sql_statement_rows_total", "Rows returned (SQLITE_ROW), by statement.",
		 offsetof(struct sql_stmt, rows), false},
		{"intercept_sql_statement_busy_total",
		 "Executions that ended with SQLITE_BUSY or SQLITE_LOCKED, by statement.",
		 offsetof(struct sql_stmt, busy), false},
		{"intercept_sql_statement_lock_wait_seconds_total",
		 "Time waiting for database locks, by statement.",
		 offsetof(struct sql_stmt, lock_wait_ns), true},
		{"intercept_sql_statement_fullscan_steps_total",
		 "Rows stepped through in full table scans, by statement.",
		 offsetof(struct sql_stmt, fullscan), false},
	};
	for (size_t m = 0; m < sizeof(per) / sizeof(per[0]) && !rc; m++) {
		family(o, per[m].name, "counter", per[m].help);
		for (size_t i = 0; i < lim; i++) {
			const struct sql_stmt *s = &a->stmts.v[a->order[i]];
			uint64_t v = *(const uint64_t *)((const char *)s + per[m].off);
			fprintf(o, "%s{%s} ", per[m].name, labels[i]);
			if (per[m].ns)
				seconds(o, v);
			else
				fprintf(o, "%llu", (unsigned long long)v);
			fputc('\n', o);
		}
	}
	for (size_t i = 0; i < lim; i++)
		free(labels[i]);
	free(labels);
	return rc;
}

/* The sections, in the JSON's order, with the hook that measures each: a section whose hook
 * was off is absent, not zero (it was not measured). */
static const struct {
	int (*write)(FILE *, struct report *);
	unsigned hook; /* ITF_HOOK_*, 0: always */
} sections[] = {
	{section_run, 0},
	{section_sql, ITF_HOOK_SQLITE},
	{section_http, ITF_HOOK_CURL},
	{section_heap, ITF_HOOK_MALLOC},
	{section_alloc_sites, ITF_HOOK_MALLOC},
	{section_locks, ITF_HOOK_LOCK},
	{section_leak_sites, ITF_HOOK_MALLOC},
};

int fmt_prometheus(struct report *r, FILE *out)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		if (sections[i].hook && !(r->tr.hdr.hooks & sections[i].hook))
			continue;
		int rc = sections[i].write(out, r);
		if (rc)
			return rc;
	}
	return ferror(out) ? az_error(AZ_EIO, "writing the report failed") : 0;
}
