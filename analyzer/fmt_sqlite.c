/* fmt_sqlite.c - owns `--format sqlite -o FILE`: every section of the report as tables of a
 * new SQLite database (libsqlite3), for ad-hoc SQL over a run. The schema is documented in
 * docs/formats.md and written by the `sections` below, each with its CREATE statements and
 * one function filling them; stacks are shared: `frames` (distinct symbolized frames, named
 * as in every other format) and `stacks` (stack_id, depth -> frame, innermost at depth 0).
 * The database is built as FILE.tmp-PID beside FILE (no journal, one transaction) and
 * renamed over FILE only when complete, so FILE is never half-written; a symlink at the
 * temporary name is refused. Main thread only. */
#define _GNU_SOURCE
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "intercept/trace_format.h"
#include "report.h"
#include "strtab.h"

#define SCHEMA_VERSION "intercept-sqlite/1"

struct db {
	sqlite3 *h;
	struct report *r;
	struct strtab frames; /* a frame's fields as one key -> frame_id - 1 */
	struct hmap stacks;   /* stack ids already in `stacks` */
	sqlite3_stmt *ins_frame, *ins_stack;
};

static int db_error(struct db *d, const char *what)
{
	return az_error(AZ_EIO, "sqlite: %s: %s", what, sqlite3_errmsg(d->h));
}

/* prep() : a prepared statement. @return it, or NULL with the message set. */
static sqlite3_stmt *prep(struct db *d, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_error(d, sql);
		return NULL;
	}
	return st;
}

static void b_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	/* every count, size and time here is far below 2^63; an address above is kept as
	 * its two's-complement bit pattern */
	sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static void b_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* run() : step st once and reset it for the next row. @return 0 or AZ_EIO. */
static int run(struct db *d, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : db_error(d, "insert");
}

/* ---- stacks ---- */

/* frame_id() : the id of frame f in `frames` (inserted when new). @return id > 0, or 0. */
static int64_t frame_id(struct db *d, const struct rp_frame *f)
{
	char key[4096], name[1024];
	int len = snprintf(key, sizeof(key), "%s%c%s%c%u%c%s%c%llx%c%d",
			   rp_frame_name(f, name, sizeof(name)), 0, f->file ? f->file : "", 0,
			   f->line, 0, f->module ? f->module : "", 0,
			   (unsigned long long)f->address, 0, f->inlined);
	bool is_new;
	size_t n = len < 0 ? 0 : (size_t)len < sizeof(key) ? (size_t)len : sizeof(key) - 1;
	int64_t id = strtab_id(&d->frames, key, n, &is_new);
	if (id < 0) {
		az_error(AZ_ENOMEM, "out of memory");
		return 0;
	}
	if (is_new) {
		sqlite3_stmt *st = d->ins_frame;
		b_u64(st, 1, (uint64_t)id + 1);
		b_text(st, 2, f->function);
		b_text(st, 3, f->file);
		if (f->line)
			b_u64(st, 4, f->line);
		b_text(st, 5, f->module);
		b_u64(st, 6, f->address);
		b_u64(st, 7, f->inlined);
		if (run(d, st))
			return 0;
	}
	return id + 1;
}

/* put_stack() : stack_id's rows in `stacks`, once. @return 0 or an AZ_* code. */
static int put_stack(struct db *d, uint32_t stack_id)
{
	bool is_new;
	if (!hmap_put(&d->stacks, stack_id, &is_new))
		return az_error(AZ_ENOMEM, "out of memory");
	if (!is_new)
		return 0;
	const struct rp_stack *s = rp_stack(d->r, stack_id);
	for (uint32_t i = 0; i < s->n; i++) {
		int64_t fid = frame_id(d, &s->frames[i]);
		if (!fid)
			return AZ_EIO;
		b_u64(d->ins_stack, 1, stack_id);
		b_u64(d->ins_stack, 2, i);
		b_u64(d->ins_stack, 3, (uint64_t)fid);
		if (run(d, d->ins_stack))
			return AZ_EIO;
	}
	return 0;
}

/* b_site() : bind the site frame's function, file, line at i, i+1, i+2. */
static void b_site(struct db *d, sqlite3_stmt *st, int i, uint32_t stack_id)
{
	char name[1024];
	const struct rp_frame *f = rp_site_frame(rp_stack(d->r, stack_id));
	b_text(st, i, f ? rp_frame_name(f, name, sizeof(name)) : RP_NO_STACK);
	b_text(st, i + 1, f ? f->file : NULL);
	if (f && f->line)
		b_u64(st, i + 2, f->line);
}

/* ---- sections ---- */

static const char schema_run[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE summary(pid INTEGER, ppid INTEGER, command TEXT, executable TEXT,"
	" trace TEXT, start_realtime_ns INTEGER, duration_ns INTEGER, threads INTEGER,"
	" events INTEGER, dropped_events INTEGER, complete INTEGER, truncated INTEGER,"
	" sampled INTEGER, sample_bytes INTEGER);"
	"CREATE TABLE threads(tid INTEGER PRIMARY KEY, name TEXT, first_ns INTEGER,"
	" last_ns INTEGER, events INTEGER, exited INTEGER);"
	"CREATE TABLE frames(frame_id INTEGER PRIMARY KEY, function TEXT, file TEXT,"
	" line INTEGER, module TEXT, address INTEGER, inlined INTEGER);"
	"CREATE TABLE stacks(stack_id INTEGER, depth INTEGER,"
	" frame_id INTEGER REFERENCES frames, PRIMARY KEY(stack_id, depth)) WITHOUT ROWID;"
	"CREATE VIEW stack_frames AS SELECT stack_id, depth, function, file, line, module,"
	" address, inlined FROM stacks JOIN frames USING(frame_id);"
	"CREATE TABLE warnings(message TEXT);";

static int fill_run(struct db *d)
{
	const struct trace *t = &d->r->tr;
	sqlite3_stmt *st;
	int rc = 0;
	if (!(st = prep(d, "INSERT INTO meta VALUES(?,?)")))
		return AZ_EIO;
	b_text(st, 1, "schema");
	b_text(st, 2, SCHEMA_VERSION);
	rc = run(d, st);
	b_text(st, 1, "producer");
	b_text(st, 2, "intercept " INTERCEPT_VERSION_STRING);
	rc = rc ? rc : run(d, st);
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO summary VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")))
		return AZ_EIO;
	b_u64(st, 1, t->hdr.pid);
	b_u64(st, 2, t->hdr.ppid);
	b_text(st, 3, t->hdr.command);
	b_text(st, 4, t->hdr.exe);
	b_text(st, 5, t->path);
	b_u64(st, 6, t->hdr.start_realtime_ns);
	b_u64(st, 7, tr_duration_ns(t));
	b_u64(st, 8, t->threads.n);
	b_u64(st, 9, t->events);
	b_u64(st, 10, t->counters.dropped_events);
	b_u64(st, 11, t->complete && !t->truncated);
	b_u64(st, 12, t->truncated);
	b_u64(st, 13, t->hdr.sample_bytes != 0);
	b_u64(st, 14, t->hdr.sample_bytes);
	rc = run(d, st);
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO threads VALUES(?,?,?,?,?,?)")))
		return AZ_EIO;
	size_t it = 0;
	uint64_t tid;
	void *v;
	while (!rc && hmap_next(&t->threads, &it, &tid, &v)) {
		const struct tr_thread *th = v;
		b_u64(st, 1, th->tid);
		b_text(st, 2, th->name);
		b_u64(st, 3, th->events ? tr_ns(t, th->first_ts) : 0);
		b_u64(st, 4, th->events ? tr_ns(t, th->last_ts) : 0);
		b_u64(st, 5, th->events);
		b_u64(st, 6, th->exited);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	return rc;
}

static const char schema_sql[] =
	"CREATE TABLE sql(rank INTEGER PRIMARY KEY, statement TEXT, database TEXT,"
	" executions INTEGER, rows INTEGER, total_ns INTEGER, p50_ns INTEGER, p95_ns INTEGER,"
	" p99_ns INTEGER, max_ns INTEGER, busy INTEGER, lock_wait_ns INTEGER,"
	" fullscan_steps INTEGER, errors INTEGER, sorts INTEGER, autoindexes INTEGER,"
	" vm_steps INTEGER, prepares INTEGER, prepare_ns INTEGER, via_exec INTEGER,"
	" first_ns INTEGER, stack_id INTEGER, function TEXT, file TEXT, line INTEGER);"
	"CREATE TABLE sql_findings(kind TEXT, statement TEXT, database TEXT, cost_ns INTEGER);"
	"CREATE TABLE sql_slowest(statement TEXT, database TEXT, ns INTEGER, start_ns INTEGER,"
	" tid INTEGER, rows INTEGER, lock_wait_ns INTEGER, result INTEGER);";

static int fill_sql(struct db *d)
{
	static const char *const kinds[] = {[SQL_F_FULL_SCAN] = "full_scan",
					    [SQL_F_NPLUS1] = "n_plus_1",
					    [SQL_F_REPREPARE] = "reprepare",
					    [SQL_F_LOCK_WAIT] = "lock_wait"};
	struct report *r = d->r;
	const struct agg_sql *a = &r->sql;
	sqlite3_stmt *st = prep(d, "INSERT INTO sql VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
				   "?,?,?,?,?)");
	int rc = 0;
	if (!st)
		return AZ_EIO;
	size_t lim = rp_limit(r, a->stmts.n, false);
	for (size_t i = 0; i < lim && !rc; i++) {
		const struct sql_stmt *s = &a->stmts.v[a->order[i]];
		if ((rc = put_stack(d, s->first_stack)))
			break;
		const uint64_t v[] = {s->executions, s->rows,	   s->total_ns,	  s->p50_ns,
				      s->p95_ns,     s->p99_ns,	   s->max_ns,	  s->busy,
				      s->lock_wait_ns, s->fullscan, s->errors,	  s->sorts,
				      s->autoindex,  s->vm_steps,  s->prepares,	  s->prepare_ns,
				      s->via_exec,   s->first_ns,  s->first_stack};
		b_u64(st, 1, i + 1);
		b_text(st, 2, tr_string(&r->tr, s->sql));
		b_text(st, 3, tr_string(&r->tr, s->db));
		for (int k = 0; k < (int)(sizeof(v) / sizeof(v[0])); k++)
			b_u64(st, 4 + k, v[k]);
		b_site(d, st, 23, s->first_stack);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO sql_findings VALUES(?,?,?,?)")))
		return rc ? rc : AZ_EIO;
	for (size_t i = 0; i < rp_limit(r, a->findings.n, false) && !rc; i++) {
		const struct sql_finding *f = &a->findings.v[i];
		b_text(st, 1, kinds[f->kind]);
		b_text(st, 2, tr_string(&r->tr, a->stmts.v[f->stmt].sql));
		b_text(st, 3, tr_string(&r->tr, a->stmts.v[f->stmt].db));
		b_u64(st, 4, f->cost_ns);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO sql_slowest VALUES(?,?,?,?,?,?,?,?)")))
		return rc ? rc : AZ_EIO;
	for (unsigned i = 0; i < a->n_slow && !rc; i++) {
		const struct sql_slow *x = &a->slow[i];
		b_text(st, 1, tr_string(&r->tr, a->stmts.v[x->stmt].sql));
		b_text(st, 2, tr_string(&r->tr, a->stmts.v[x->stmt].db));
		b_u64(st, 3, x->time_ns);
		b_u64(st, 4, x->start_ns);
		b_u64(st, 5, x->tid);
		b_u64(st, 6, x->rows);
		b_u64(st, 7, x->lock_wait_ns);
		b_u64(st, 8, x->rc);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	return rc;
}

static const char schema_http[] =
	"CREATE TABLE http(endpoint_id INTEGER PRIMARY KEY, method TEXT, endpoint TEXT,"
	" host TEXT, requests INTEGER, errors INTEGER, total_ns INTEGER, p50_ns INTEGER,"
	" p95_ns INTEGER, p99_ns INTEGER, max_ns INTEGER, dns_ns INTEGER, connect_ns INTEGER,"
	" tls_ns INTEGER, ttfb_ns INTEGER, transfer_ns INTEGER, redirect_ns INTEGER,"
	" bytes_received INTEGER, bytes_sent INTEGER, new_connections INTEGER,"
	" requests_with_new_connection INTEGER, redirects INTEGER, multi_requests INTEGER,"
	" stack_id INTEGER);"
	"CREATE TABLE http_requests(endpoint_id INTEGER REFERENCES http, start_ns INTEGER,"
	" end_ns INTEGER, duration_ns INTEGER, tid INTEGER, status INTEGER, curl_code INTEGER,"
	" multi INTEGER, dns_ns INTEGER, connect_ns INTEGER, tls_ns INTEGER, ttfb_ns INTEGER,"
	" transfer_ns INTEGER, bytes_received INTEGER, bytes_sent INTEGER,"
	" new_connections INTEGER, stack_id INTEGER);"
	"CREATE TABLE http_findings(kind TEXT, endpoint_id INTEGER, host TEXT, tid INTEGER,"
	" requests INTEGER, time_ns INTEGER, message TEXT, stack_id INTEGER);";

/* fill_http() : endpoints (their rank is endpoint_id - 1), every request, the findings. */
static int fill_http(struct db *d)
{
	static const char *const kinds[] = {
		[HTTP_F_ERRORS] = "errors",
		[HTTP_F_CONNECTION_SETUP] = "connection_setup",
		[HTTP_F_SLOW_DNS] = "slow_dns",
		[HTTP_F_SERIAL] = "serial_requests",
	};
	const struct agg_http *h = &d->r->http;
	sqlite3_stmt *st;
	int rc = 0;
	if (!(st = prep(d, "INSERT INTO http VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
			   "?,?,?,?)")))
		return AZ_EIO;
	for (size_t i = 0; i < h->eps.n && !rc; i++) {
		const struct http_endpoint *e = &h->eps.v[i];
		if ((rc = put_stack(d, e->stack)))
			break;
		b_u64(st, 1, i + 1);
		b_text(st, 2, e->method);
		b_text(st, 3, e->endpoint);
		b_text(st, 4, e->host);
		const uint64_t v[] = {e->requests,	  e->errors,	      e->total_ns,
				      e->p50_ns,	  e->p95_ns,	      e->p99_ns,
				      e->max_ns,	  e->dns_ns,	      e->connect_ns,
				      e->tls_ns,	  e->ttfb_ns,	      e->transfer_ns,
				      e->redirect_ns,	  e->bytes_received,  e->bytes_sent,
				      e->new_connections, e->fresh_requests,  e->redirects,
				      e->multi_requests,  e->stack};
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			b_u64(st, (int)k + 5, v[k]);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO http_requests VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
				 "?,?,?)")))
		return rc ? rc : AZ_EIO;
	for (size_t i = 0; i < h->reqs.n && !rc; i++) {
		const struct http_req *q = &h->reqs.v[i];
		if ((rc = put_stack(d, q->stack)))
			break;
		const uint64_t v[] = {q->group + 1,	    q->start_ns,	q->end_ns,
				      q->dur_ns,	    q->tid,		q->status,
				      q->result,	    (q->flags & ITF_HTTP_MULTI) != 0,
				      q->dns_us * 1000,	    q->connect_us * 1000, q->tls_us * 1000,
				      q->ttfb_us * 1000,    q->transfer_us * 1000, q->bytes_down,
				      q->bytes_up,	    q->connects,	q->stack};
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			b_u64(st, (int)k + 1, v[k]);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	if (rc || !(st = prep(d, "INSERT INTO http_findings VALUES(?,?,?,?,?,?,?,?)")))
		return rc ? rc : AZ_EIO;
	for (size_t i = 0; i < h->findings.n && !rc; i++) {
		const struct http_finding *f = &h->findings.v[i];
		if ((rc = put_stack(d, f->stack)))
			break;
		b_text(st, 1, kinds[f->kind]);
		if (f->endpoint >= 0)
			b_u64(st, 2, (uint64_t)f->endpoint + 1);
		b_text(st, 3, f->endpoint >= 0 ? h->eps.v[f->endpoint].host : f->host);
		if (f->tid)
			b_u64(st, 4, f->tid);
		b_u64(st, 5, f->count);
		b_u64(st, 6, f->ns);
		b_text(st, 7, f->message);
		b_u64(st, 8, f->stack);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	return rc;
}

static const char schema_alloc[] =
	"CREATE TABLE alloc(allocations INTEGER, frees INTEGER, bytes_allocated INTEGER,"
	" peak_bytes INTEGER, peak_ns INTEGER, peak_allocations INTEGER, bytes_freed INTEGER,"
	" reallocs INTEGER, temporary_allocations INTEGER, unmatched_frees INTEGER);"
	"CREATE TABLE alloc_sites(stack_id INTEGER PRIMARY KEY, allocations INTEGER,"
	" bytes INTEGER, frees INTEGER, temporary INTEGER, leaked_bytes INTEGER,"
	" leaked_allocations INTEGER, max_live_bytes INTEGER, function TEXT, file TEXT,"
	" line INTEGER);"
	"CREATE TABLE heap_timeline(t_ns INTEGER, bytes INTEGER, blocks INTEGER,"
	" max_bytes INTEGER);";

static int fill_alloc(struct db *d)
{
	struct report *r = d->r;
	const struct agg_alloc *a = &r->alloc;
	struct rp_site *sites = NULL;
	struct rp_heap_point *pts = NULL;
	sqlite3_stmt *st;
	size_t n;
	int rc;
	if (!(st = prep(d, "INSERT INTO alloc VALUES(?,?,?,?,?,?,?,?,?,?)")))
		return AZ_EIO;
	b_u64(st, 1, a->allocations);
	b_u64(st, 2, a->frees);
	b_u64(st, 3, a->bytes_allocated);
	b_u64(st, 4, a->peak_bytes);
	b_u64(st, 5, a->peak_bytes ? tr_ns(&r->tr, a->peak_ts) : 0);
	b_u64(st, 6, a->peak_count);
	b_u64(st, 7, a->bytes_freed);
	b_u64(st, 8, a->reallocs);
	b_u64(st, 9, a->temporary);
	b_u64(st, 10, a->unmatched_frees);
	rc = run(d, st);
	sqlite3_finalize(st);
	if (rc || (rc = rp_sites(r, RP_BY_BYTES, &sites, &n)))
		return rc;
	if (!(st = prep(d, "INSERT INTO alloc_sites VALUES(?,?,?,?,?,?,?,?,?,?,?)"))) {
		free(sites);
		return AZ_EIO;
	}
	size_t lim = rp_limit(r, n, false);
	for (size_t i = 0; i < lim && !rc; i++) {
		const struct alloc_site *s = sites[i].s;
		if ((rc = put_stack(d, sites[i].stack)))
			break;
		b_u64(st, 1, sites[i].stack);
		b_u64(st, 2, s->allocations);
		b_u64(st, 3, s->bytes);
		b_u64(st, 4, s->frees);
		b_u64(st, 5, s->temporary);
		b_u64(st, 6, s->live_bytes);
		b_u64(st, 7, s->live_count);
		b_u64(st, 8, s->max_live_bytes);
		b_site(d, st, 9, sites[i].stack);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	free(sites);
	if (rc || !(st = prep(d, "INSERT INTO heap_timeline VALUES(?,?,?,?)")))
		return rc ? rc : AZ_EIO;
	uint64_t interval;
	n = rp_heap_series(r, &pts, &interval);
	for (size_t i = 0; i < n && !rc; i++) {
		b_u64(st, 1, pts[i].t_ns);
		b_u64(st, 2, pts[i].bytes);
		b_u64(st, 3, pts[i].blocks);
		b_u64(st, 4, pts[i].max_bytes);
		rc = run(d, st);
	}
	free(pts);
	sqlite3_finalize(st);
	return rc;
}

static const char schema_leaks[] =
	"CREATE TABLE leaks(bytes INTEGER, allocations INTEGER, scanned INTEGER);"
	"CREATE TABLE leak_sites(stack_id INTEGER, kind TEXT, bytes INTEGER,"
	" allocations INTEGER, function TEXT, file TEXT, line INTEGER,"
	" PRIMARY KEY(stack_id, kind));";

static int fill_leaks(struct db *d)
{
	struct report *r = d->r;
	struct rp_site *sites = NULL;
	sqlite3_stmt *st;
	size_t n;
	int rc;
	if (!(st = prep(d, "INSERT INTO leaks VALUES(?,?,0)")))
		return AZ_EIO;
	b_u64(st, 1, r->alloc.live_bytes);
	b_u64(st, 2, r->alloc.live_count);
	rc = run(d, st);
	sqlite3_finalize(st);
	if (rc || (rc = rp_sites(r, RP_BY_LEAKED, &sites, &n)))
		return rc;
	if (!(st = prep(d, "INSERT INTO leak_sites VALUES(?,'unfreed',?,?,?,?,?)"))) {
		free(sites);
		return AZ_EIO;
	}
	size_t lim = rp_limit(r, n, false);
	for (size_t i = 0; i < lim && !rc; i++) {
		if ((rc = put_stack(d, sites[i].stack)))
			break;
		b_u64(st, 1, sites[i].stack);
		b_u64(st, 2, sites[i].s->live_bytes);
		b_u64(st, 3, sites[i].s->live_count);
		b_site(d, st, 4, sites[i].stack);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	free(sites);
	return rc;
}

static const char schema_locks[] =
	"CREATE TABLE locks(lock TEXT PRIMARY KEY, kind TEXT, contended INTEGER,"
	" wait_ns INTEGER, max_wait_ns INTEGER, timeouts INTEGER, errors INTEGER,"
	" read_contended INTEGER, read_wait_ns INTEGER, write_contended INTEGER,"
	" write_wait_ns INTEGER, acquisitions INTEGER, read_acquisitions INTEGER,"
	" write_acquisitions INTEGER, first_seen TEXT, first_seen_stack_id INTEGER,"
	" first_contended_ns INTEGER, stack_id INTEGER, function TEXT, file TEXT,"
	" line INTEGER);"
	"CREATE TABLE lock_waiters(lock TEXT, stack_id INTEGER, kind TEXT, contended INTEGER,"
	" wait_ns INTEGER, max_wait_ns INTEGER, function TEXT, file TEXT, line INTEGER,"
	" PRIMARY KEY(lock, stack_id));"
	"CREATE TABLE lock_waits(tid INTEGER, start_ns INTEGER, wait_ns INTEGER, lock TEXT,"
	" kind TEXT, result INTEGER, stack_id INTEGER);";

static const char *const lock_wait_kinds[] = {"mixed", "mutex", "read", "write"};

static unsigned waiter_kind(unsigned kinds)
{
	for (unsigned k = ITF_LOCK_MUTEX; k <= ITF_LOCK_WRITE; k++)
		if (kinds == 1u << k)
			return k;
	return 0;
}

static int fill_locks(struct db *d)
{
	struct report *r = d->r;
	const struct agg_lock *a = &r->locks;
	char addr[32];
	sqlite3_stmt *st, *sw = NULL;
	int rc = 0;
	if (!(st = prep(d, "INSERT INTO locks VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")) ||
	    !(sw = prep(d, "INSERT INTO lock_waiters VALUES(?,?,?,?,?,?,?,?,?)"))) {
		sqlite3_finalize(st);
		return AZ_EIO;
	}
	size_t lim = rp_limit(r, a->n_sorted, false);
	for (size_t i = 0; i < lim && !rc; i++) {
		const struct lock_ent *l = a->sorted[i];
		bool by_count = l->counted && l->first_acq_stack;
		uint32_t first = by_count ? l->first_acq_stack : l->first_wait_stack;
		uint32_t top = l->n_sorted ? l->sorted[0].stack : 0;
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)l->addr);
		if ((rc = put_stack(d, first)) || (rc = put_stack(d, top)))
			break;
		b_text(st, 1, addr);
		b_text(st, 2, lock_kind_name(l));
		b_u64(st, 3, l->contended);
		b_u64(st, 4, l->wait_ns);
		b_u64(st, 5, l->max_wait_ns);
		b_u64(st, 6, l->timeouts);
		b_u64(st, 7, l->errors);
		b_u64(st, 8, l->read_contended);
		b_u64(st, 9, l->read_wait_ns);
		b_u64(st, 10, l->write_contended);
		b_u64(st, 11, l->write_wait_ns);
		if (l->counted) { /* NULL: not counted */
			b_u64(st, 12, lock_acquisitions(l));
			b_u64(st, 13, l->acq_read);
			b_u64(st, 14, l->acq_write);
		}
		b_text(st, 15, by_count ? "first acquisition" : "first contended acquisition");
		b_u64(st, 16, first);
		b_u64(st, 17, tr_ns(&r->tr, l->first_wait_ts));
		b_u64(st, 18, top);
		b_site(d, st, 19, top);
		rc = run(d, st);
		for (size_t j = 0; j < l->n_sorted && !rc; j++) {
			const struct lock_waiter *ws = &l->sorted[j];
			if ((rc = put_stack(d, ws->stack)))
				break;
			b_text(sw, 1, addr);
			b_u64(sw, 2, ws->stack);
			b_text(sw, 3, lock_wait_kinds[waiter_kind(ws->kinds)]);
			b_u64(sw, 4, ws->waits);
			b_u64(sw, 5, ws->wait_ns);
			b_u64(sw, 6, ws->max_wait_ns);
			b_site(d, sw, 7, ws->stack);
			rc = run(d, sw);
		}
	}
	sqlite3_finalize(st);
	sqlite3_finalize(sw);
	if (rc || !(st = prep(d, "INSERT INTO lock_waits VALUES(?,?,?,?,?,?,?)")))
		return rc ? rc : AZ_EIO;
	for (size_t i = 0; i < a->waits_kept.n && !rc; i++) {
		const struct lock_wait_ev *ev = &a->waits_kept.v[i];
		uint64_t end = tr_ns(&r->tr, ev->end_ts);
		if ((rc = put_stack(d, ev->stack)))
			break;
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)ev->addr);
		b_u64(st, 1, ev->tid);
		b_u64(st, 2, end > ev->wait_ns ? end - ev->wait_ns : 0);
		b_u64(st, 3, ev->wait_ns);
		b_text(st, 4, addr);
		b_text(st, 5, lock_wait_kinds[ev->kind <= ITF_LOCK_WRITE ? ev->kind : 0]);
		b_u64(st, 6, ev->result);
		b_u64(st, 7, ev->stack);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	return rc;
}

static int fill_warnings(struct db *d)
{
	const char *const *sw;
	size_t nsw = sym_warnings(d->r->sym, &sw);
	sqlite3_stmt *st = prep(d, "INSERT INTO warnings VALUES(?)");
	int rc = 0;
	if (!st)
		return AZ_EIO;
	for (size_t i = 0; i < d->r->warnings.n && !rc; i++) {
		b_text(st, 1, d->r->warnings.v[i]);
		rc = run(d, st);
	}
	for (size_t i = 0; i < nsw && !rc; i++) {
		b_text(st, 1, sw[i]);
		rc = run(d, st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* The sections, in the JSON's order: each creates its tables and fills them, with stack_id
 * columns where they have stacks (through put_stack()). */
static const struct {
	const char *schema;
	int (*fill)(struct db *d);
} sections[] = {
	{schema_run, fill_run},
	{schema_sql, fill_sql},
	{schema_http, fill_http},
	{schema_alloc, fill_alloc},
	{schema_locks, fill_locks},
	{schema_leaks, fill_leaks},
	{"", fill_warnings},
};

/* build() : create and fill the database at tmp. @return 0 or an AZ_* code. */
static int build(struct db *d, const char *tmp)
{
	int rc;
	if (sqlite3_open_v2(tmp, &d->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK)
		return d->h ? db_error(d, tmp) : az_error(AZ_ENOMEM, "out of memory");
	if (sqlite3_exec(d->h, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;", NULL,
			 NULL, NULL) != SQLITE_OK)
		return db_error(d, "begin");
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (sqlite3_exec(d->h, sections[i].schema, NULL, NULL, NULL) != SQLITE_OK)
			return db_error(d, "creating the schema");
	if (!(d->ins_frame = prep(d, "INSERT INTO frames VALUES(?,?,?,?,?,?,?)")) ||
	    !(d->ins_stack = prep(d, "INSERT INTO stacks VALUES(?,?,?)")))
		return AZ_EIO;
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if ((rc = sections[i].fill(d)))
			return rc;
	if (sqlite3_exec(d->h, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
		return db_error(d, "commit");
	return 0;
}

int fmt_sqlite(struct report *r, const char *path)
{
	struct db d = {.r = r};
	char *tmp = NULL;
	int rc;
	if (asprintf(&tmp, "%s.tmp-%d", path, (int)getpid()) < 0)
		return az_error(AZ_ENOMEM, "out of memory");
	if (strtab_init(&d.frames) || hmap_init(&d.stacks, 0, 256)) {
		rc = az_error(AZ_ENOMEM, "out of memory");
		goto out_free;
	}
	if (unlink(tmp) && errno != ENOENT) {
		rc = az_error(AZ_EIO, "%s: %s", tmp, strerror(errno));
		goto out_free;
	}
	rc = build(&d, tmp);
	sqlite3_finalize(d.ins_frame);
	sqlite3_finalize(d.ins_stack);
	if (d.h && sqlite3_close(d.h) != SQLITE_OK && !rc)
		rc = az_error(AZ_EIO, "sqlite: closing %s failed", tmp);
	if (!rc && rename(tmp, path))
		rc = az_error(AZ_EIO, "%s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
out_free:
	hmap_free(&d.stacks);
	strtab_free(&d.frames);
	free(tmp);
	return rc;
}
