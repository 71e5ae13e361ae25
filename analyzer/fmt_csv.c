/* fmt_csv.c - owns `--format csv`: one table per section of the report (the JSON's
 * objects become one-row tables, its arrays tables of one row per entry), RFC 4180 quoting,
 * UTF-8. `-o DIR` writes DIR/<table>.csv; on standard output the tables follow one another,
 * each after a line "# <table>" and separated by an empty line. A section is one entry of
 * `tables` below and one function writing a header row and its rows. Stacks are the frame
 * labels of rp_frame_label() (report.c, as in the text report), innermost first, joined by
 * " <- "; the site columns (function, file, line, module, address) are rp_site_frame()'s.
 * Main thread only; writes only to the FILE or directory it is given. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intercept/trace_format.h"
#include "json_out.h"
#include "report.h"

struct row {
	FILE *o;
	unsigned col; /* cells written in this row */
};

static void sep(struct row *w)
{
	if (w->col++)
		fputc(',', w->o);
}

/* cell_str() : one text cell. NULL is empty; control characters become spaces (a cell never
 * spans lines), invalid UTF-8 becomes U+FFFD; quoted when it holds a comma, a quote, or
 * leading or trailing space. */
static void cell_str(struct row *w, const char *s)
{
	sep(w);
	if (!s)
		return;
	size_t n = strlen(s);
	bool quote = n && (s[0] == ' ' || s[n - 1] == ' ' || strpbrk(s, ",\"") != NULL);
	if (quote)
		fputc('"', w->o);
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		if (u[i] < 0x20 || u[i] == 0x7f) {
			fputc(' ', w->o);
			i++;
		} else if (u[i] == '"') {
			fputs("\"\"", w->o);
			i++;
		} else if (u[i] < 0x80) {
			fputc(u[i++], w->o);
		} else {
			size_t l = jw_utf8_len(u + i, n - i);
			if (l) {
				fwrite(u + i, 1, l, w->o);
				i += l;
			} else {
				fputs("\xef\xbf\xbd", w->o);
				i++;
			}
		}
	}
	if (quote)
		fputc('"', w->o);
}

static void cell_u64(struct row *w, uint64_t v)
{
	sep(w);
	fprintf(w->o, "%llu", (unsigned long long)v);
}

static void cell_hex(struct row *w, uint64_t v)
{
	sep(w);
	fprintf(w->o, "0x%llx", (unsigned long long)v);
}

static void row_end(struct row *w)
{
	fputc('\n', w->o);
	w->col = 0;
}

/* header() : a header row from a comma-separated list of column names. */
static void header(struct row *w, const char *names)
{
	fputs(names, w->o);
	row_end(w);
}

/* cells_stack() : the site columns and the whole stack of stack_id. */
#define STACK_COLUMNS "function,file,line,module,address,stack"
static void cells_stack(struct row *w, struct report *r, uint32_t stack_id)
{
	const struct rp_stack *s = rp_stack(r, stack_id);
	const struct rp_frame *f = rp_site_frame(s);
	char name[1024];
	struct sbuf b = {0};
	cell_str(w, f ? rp_frame_name(f, name, sizeof(name)) : RP_NO_STACK);
	cell_str(w, f ? f->file : NULL);
	if (f && f->line)
		cell_u64(w, f->line);
	else
		sep(w);
	cell_str(w, f ? f->module : NULL);
	if (f)
		cell_hex(w, f->address);
	else
		sep(w);
	for (uint32_t i = 0; i < s->n; i++) {
		if (i)
			sb_puts(&b, " <- ");
		sb_puts(&b, rp_frame_label(&s->frames[i], name, sizeof(name)));
	}
	cell_str(w, b.s ? b.s : RP_NO_STACK);
	sb_free(&b);
}

/* ---- the tables, one function each ---- */

static int t_summary(struct row *w, struct report *r)
{
	const struct trace *t = &r->tr;
	header(w, "pid,ppid,command,executable,trace,start_realtime_ns,duration_ns,threads,events,"
		  "dropped_events,complete,truncated,sampled,sample_bytes");
	cell_u64(w, t->hdr.pid);
	cell_u64(w, t->hdr.ppid);
	cell_str(w, t->hdr.command);
	cell_str(w, t->hdr.exe);
	cell_str(w, t->path);
	cell_u64(w, t->hdr.start_realtime_ns);
	cell_u64(w, tr_duration_ns(t));
	cell_u64(w, t->threads.n);
	cell_u64(w, t->events);
	cell_u64(w, t->counters.dropped_events);
	cell_u64(w, t->complete && !t->truncated);
	cell_u64(w, t->truncated);
	cell_u64(w, t->hdr.sample_bytes != 0);
	cell_u64(w, t->hdr.sample_bytes);
	row_end(w);
	return 0;
}

/* t_sql() : SQL statements by time inside SQLite (docs/sqlite.md), the site columns from
 * the stack of each one's first execution. */
static int t_sql(struct row *w, struct report *r)
{
	const struct agg_sql *a = &r->sql;
	header(w, "rank,statement,database,executions,rows,total_ns,p50_ns,p95_ns,p99_ns,max_ns,"
		  "busy,lock_wait_ns,fullscan_steps,errors,sorts,autoindexes,prepares,prepare_ns,"
		  "via_exec," STACK_COLUMNS);
	size_t lim = rp_limit(r, a->stmts.n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct sql_stmt *s = &a->stmts.v[a->order[i]];
		cell_u64(w, i + 1);
		cell_str(w, tr_string(&r->tr, s->sql));
		cell_str(w, tr_string(&r->tr, s->db));
		cell_u64(w, s->executions);
		cell_u64(w, s->rows);
		cell_u64(w, s->total_ns);
		cell_u64(w, s->p50_ns);
		cell_u64(w, s->p95_ns);
		cell_u64(w, s->p99_ns);
		cell_u64(w, s->max_ns);
		cell_u64(w, s->busy);
		cell_u64(w, s->lock_wait_ns);
		cell_u64(w, s->fullscan);
		cell_u64(w, s->errors);
		cell_u64(w, s->sorts);
		cell_u64(w, s->autoindex);
		cell_u64(w, s->prepares);
		cell_u64(w, s->prepare_ns);
		cell_u64(w, s->via_exec);
		cells_stack(w, r, s->first_stack);
		row_end(w);
	}
	return 0;
}

static int t_alloc(struct row *w, struct report *r)
{
	const struct agg_alloc *a = &r->alloc;
	header(w, "allocations,frees,bytes_allocated,peak_bytes,peak_ns,peak_allocations,"
		  "bytes_freed,reallocs,temporary_allocations,unmatched_frees");
	cell_u64(w, a->allocations);
	cell_u64(w, a->frees);
	cell_u64(w, a->bytes_allocated);
	cell_u64(w, a->peak_bytes);
	cell_u64(w, a->peak_bytes ? tr_ns(&r->tr, a->peak_ts) : 0);
	cell_u64(w, a->peak_count);
	cell_u64(w, a->bytes_freed);
	cell_u64(w, a->reallocs);
	cell_u64(w, a->temporary);
	cell_u64(w, a->unmatched_frees);
	row_end(w);
	return 0;
}

static int t_alloc_sites(struct row *w, struct report *r)
{
	struct rp_site *sites;
	size_t n;
	int rc = rp_sites(r, RP_BY_BYTES, &sites, &n);
	if (rc)
		return rc;
	header(w, "rank,allocations,bytes,frees,temporary,leaked_bytes,leaked_allocations,"
		  "max_live_bytes," STACK_COLUMNS);
	size_t lim = rp_limit(r, n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct alloc_site *s = sites[i].s;
		cell_u64(w, i + 1);
		cell_u64(w, s->allocations);
		cell_u64(w, s->bytes);
		cell_u64(w, s->frees);
		cell_u64(w, s->temporary);
		cell_u64(w, s->live_bytes);
		cell_u64(w, s->live_count);
		cell_u64(w, s->max_live_bytes);
		cells_stack(w, r, sites[i].stack);
		row_end(w);
	}
	free(sites);
	return 0;
}

/* cell_opt() : a count that exists only in some traces (empty cell otherwise). */
static void cell_opt(struct row *w, bool have, uint64_t v)
{
	if (have)
		cell_u64(w, v);
	else
		sep(w);
}

static int t_locks(struct row *w, struct report *r)
{
	const struct agg_lock *a = &r->locks;
	header(w, "rank,lock,kind,contended,wait_ns,max_wait_ns,timeouts,errors,read_contended,"
		  "read_wait_ns,write_contended,write_wait_ns,acquisitions,read_acquisitions,"
		  "write_acquisitions,contended_share,waiting_stacks,first_seen," STACK_COLUMNS);
	size_t lim = rp_limit(r, a->n_sorted, false);
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = a->sorted[i];
		uint64_t acq = lock_acquisitions(l);
		cell_u64(w, i + 1);
		cell_hex(w, l->addr);
		cell_str(w, lock_kind_name(l));
		cell_u64(w, l->contended);
		cell_u64(w, l->wait_ns);
		cell_u64(w, l->max_wait_ns);
		cell_u64(w, l->timeouts);
		cell_u64(w, l->errors);
		cell_u64(w, l->read_contended);
		cell_u64(w, l->read_wait_ns);
		cell_u64(w, l->write_contended);
		cell_u64(w, l->write_wait_ns);
		cell_opt(w, l->counted, acq);
		cell_opt(w, l->counted, l->acq_read);
		cell_opt(w, l->counted, l->acq_write);
		sep(w);
		if (l->counted && acq)
			fprintf(w->o, "%.6f", (double)l->contended / (double)acq);
		cell_u64(w, l->n_sorted);
		cell_str(w, l->counted && l->first_acq_stack ? "first acquisition" :
							       "first contended acquisition");
		cells_stack(w, r, l->n_sorted ? l->sorted[0].stack : 0);
		row_end(w);
	}
	return 0;
}

static int t_lock_waiters(struct row *w, struct report *r)
{
	static const char *const kinds[] = {"?", "mutex", "read", "write"};
	const struct agg_lock *a = &r->locks;
	header(w, "lock,rank,kind,contended,wait_ns,max_wait_ns," STACK_COLUMNS);
	size_t lim = rp_limit(r, a->n_sorted, false);
	for (size_t i = 0; i < lim; i++) {
		const struct lock_ent *l = a->sorted[i];
		for (size_t j = 0; j < l->n_sorted; j++) {
			const struct lock_waiter *ws = &l->sorted[j];
			unsigned k = ws->kinds == 1u << ITF_LOCK_MUTEX ? 1 :
				     ws->kinds == 1u << ITF_LOCK_READ  ? 2 :
				     ws->kinds == 1u << ITF_LOCK_WRITE ? 3 : 0;
			cell_hex(w, l->addr);
			cell_u64(w, j + 1);
			cell_str(w, k ? kinds[k] : "mixed");
			cell_u64(w, ws->waits);
			cell_u64(w, ws->wait_ns);
			cell_u64(w, ws->max_wait_ns);
			cells_stack(w, r, ws->stack);
			row_end(w);
		}
	}
	return 0;
}

static int t_leaks(struct row *w, struct report *r)
{
	header(w, "bytes,allocations,scanned");
	cell_u64(w, r->alloc.live_bytes);
	cell_u64(w, r->alloc.live_count);
	cell_u64(w, 0);
	row_end(w);
	return 0;
}

static int t_leak_sites(struct row *w, struct report *r)
{
	struct rp_site *sites;
	size_t n;
	int rc = rp_sites(r, RP_BY_LEAKED, &sites, &n);
	if (rc)
		return rc;
	header(w, "rank,kind,bytes,allocations," STACK_COLUMNS);
	size_t lim = rp_limit(r, n, false);
	for (size_t i = 0; i < lim; i++) {
		cell_u64(w, i + 1);
		cell_str(w, "unfreed");
		cell_u64(w, sites[i].s->live_bytes);
		cell_u64(w, sites[i].s->live_count);
		cells_stack(w, r, sites[i].stack);
		row_end(w);
	}
	free(sites);
	return 0;
}

static int t_heap_timeline(struct row *w, struct report *r)
{
	struct rp_heap_point *p;
	uint64_t interval;
	size_t n = rp_heap_series(r, &p, &interval);
	header(w, "t_ns,bytes,blocks,max_bytes");
	for (size_t i = 0; i < n; i++) {
		cell_u64(w, p[i].t_ns);
		cell_u64(w, p[i].bytes);
		cell_u64(w, p[i].blocks);
		cell_u64(w, p[i].max_bytes);
		row_end(w);
	}
	free(p);
	return 0;
}

static int t_http(struct row *w, struct report *r)
{
	const struct agg_http *h = &r->http;
	header(w, "rank,method,endpoint,requests,errors,total_ns,p50_ns,p95_ns,p99_ns,max_ns,"
		  "dns_ns,connect_ns,tls_ns,ttfb_ns,transfer_ns,redirect_ns,bytes_received,"
		  "bytes_sent,new_connections,requests_with_new_connection,redirects,"
		  "multi_requests,host," STACK_COLUMNS);
	size_t lim = rp_limit(r, h->eps.n, false);
	for (size_t i = 0; i < lim; i++) {
		const struct http_endpoint *e = &h->eps.v[i];
		cell_u64(w, i + 1);
		cell_str(w, e->method);
		cell_str(w, e->endpoint);
		const uint64_t v[] = {e->requests,    e->errors,	 e->total_ns,
				      e->p50_ns,      e->p95_ns,	 e->p99_ns,
				      e->max_ns,      e->dns_ns,	 e->connect_ns,
				      e->tls_ns,      e->ttfb_ns,	 e->transfer_ns,
				      e->redirect_ns, e->bytes_received, e->bytes_sent,
				      e->new_connections, e->fresh_requests, e->redirects,
				      e->multi_requests};
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			cell_u64(w, v[k]);
		cell_str(w, e->host);
		cells_stack(w, r, e->stack);
		row_end(w);
	}
	return 0;
}

static int t_http_findings(struct row *w, struct report *r)
{
	static const char *const kinds[] = {
		[HTTP_F_ERRORS] = "errors",
		[HTTP_F_CONNECTION_SETUP] = "connection_setup",
		[HTTP_F_SLOW_DNS] = "slow_dns",
		[HTTP_F_SERIAL] = "serial_requests",
	};
	const struct agg_http *h = &r->http;
	header(w, "kind,method,endpoint,host,thread,requests,time_ns,message," STACK_COLUMNS);
	for (size_t i = 0; i < h->findings.n; i++) {
		const struct http_finding *f = &h->findings.v[i];
		const struct http_endpoint *e = f->endpoint >= 0 ? &h->eps.v[f->endpoint] : NULL;
		cell_str(w, kinds[f->kind]);
		cell_str(w, e ? e->method : NULL);
		cell_str(w, e ? e->endpoint : NULL);
		cell_str(w, e ? e->host : f->host);
		if (f->tid)
			cell_u64(w, f->tid);
		else
			sep(w);
		cell_u64(w, f->count);
		cell_u64(w, f->ns);
		cell_str(w, f->message);
		cells_stack(w, r, f->stack);
		row_end(w);
	}
	return 0;
}

static int t_http_slowest(struct row *w, struct report *r)
{
	const struct agg_http *h = &r->http;
	header(w, "rank,method,endpoint,duration_ns,start_ns,thread,status,curl_code,"
		  STACK_COLUMNS);
	for (uint32_t i = 0; i < h->n_slowest; i++) {
		const struct http_req *q = &h->reqs.v[h->slowest[i]];
		const struct http_endpoint *e = &h->eps.v[q->group];
		cell_u64(w, i + 1);
		cell_str(w, e->method);
		cell_str(w, e->endpoint);
		cell_u64(w, q->dur_ns);
		cell_u64(w, q->start_ns);
		cell_u64(w, q->tid);
		cell_u64(w, q->status);
		cell_u64(w, q->result);
		cells_stack(w, r, q->stack);
		row_end(w);
	}
	return 0;
}

/* The tables, in the JSON's order, each a function like t_alloc_sites(). */
static const struct {
	const char *name;
	int (*write)(struct row *w, struct report *r);
} tables[] = {
	{"summary", t_summary},
	{"sql", t_sql},
	{"http", t_http},	    {"http_findings", t_http_findings},
	{"http_slowest", t_http_slowest},
	{"alloc", t_alloc},
	{"alloc_sites", t_alloc_sites}, {"locks", t_locks},
	{"lock_waiters", t_lock_waiters}, {"leaks", t_leaks},
	{"leak_sites", t_leak_sites}, {"heap_timeline", t_heap_timeline},
};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

int fmt_csv(struct report *r, FILE *out)
{
	for (size_t i = 0; i < N_TABLES; i++) {
		struct row w = {out, 0};
		fprintf(out, "%s# %s\n", i ? "\n" : "", tables[i].name);
		int rc = tables[i].write(&w, r);
		if (rc)
			return rc;
	}
	return ferror(out) ? az_error(AZ_EIO, "writing the report failed") : 0;
}

int fmt_csv_dir(struct report *r, const char *dir)
{
	if (mkdir(dir, 0777) && errno != EEXIST)
		return az_error(AZ_EIO, "%s: cannot create the directory: %s", dir,
				strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return az_error(AZ_EIO, "%s: %s", dir,
				errno == ENOTDIR ? "not a directory (--format csv -o takes a "
						   "directory)" : strerror(errno));
	int rc = 0;
	for (size_t i = 0; i < N_TABLES && !rc; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s.csv", tables[i].name);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
				0666);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			rc = az_error(AZ_EIO, "%s/%s: %s", dir, name, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		struct row w = {f, 0};
		rc = tables[i].write(&w, r);
		if (fflush(f) || ferror(f))
			rc = rc ? rc : az_error(AZ_EIO, "%s/%s: writing failed", dir, name);
		if (fclose(f))
			rc = rc ? rc : az_error(AZ_EIO, "%s/%s: %s", dir, name, strerror(errno));
	}
	close(dfd);
	return rc;
}
