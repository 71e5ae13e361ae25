/* agg_sql.c - owns the SQL analysis of agg_sql.h: decodes the ITF_EV_SQL_* records
 * (trace_format.h) into per-statement aggregates, finds nesting and bursts per thread for
 * the N+1 finding, keeps the slowest executions and the database files' recorded states,
 * and derives the findings. Events arrive in the trace's stream order (order.c), which keeps
 * each thread's program order; an execution's record is written when it ends, so within a
 * thread it comes after the records of every execution nested inside it. Memory is bounded by statements and threads
 * (quantile sketches, a fixed window of recent executions per thread), not by executions.
 * Main thread only. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_sql.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

#define SQL_RING 4096	   /* recent executions per thread kept for nesting */
#define SQL_BURST_GAP 4	   /* other executions allowed between two of a burst */
#define SQL_BURST_MIN 10   /* executions that make a burst worth reporting */
#define SQL_NPLUS1_MIN 10  /* nested executions that make an N+1 finding */
#define SQL_SCAN_MIN 64	   /* full-scan steps per execution that make a finding */
#define SQL_CHURN_MIN 10   /* prepares that make a re-prepare finding */
#define SQL_NEST_WORK 64   /* window entries the nesting scan may visit per execution, on
			      average: a bound on the work a hostile trace can cause */

#define SQLITE_BUSY_ 5
#define SQLITE_LOCKED_ 6
#define SQLITE_DONE_ 101

struct sql_recent {
	uint64_t start, end, time;
	uint32_t stmt;	  /* index */
	uint32_t claimed; /* counted as nested in an enclosing execution already */
};

struct sql_thread {
	struct sql_recent *ring; /* SQL_RING entries, oldest at head */
	size_t head, n;
	uint64_t seq;		 /* executions seen on this thread */
	uint32_t last_stmt;	 /* index + 1 of the previous execution's statement */
	uint64_t last_rows;
};

struct sql_burst {
	uint64_t last_seq, n, first_start, last_end, time;
	uint32_t prev; /* index + 1 of the statement executed just before it began */
	uint64_t prev_rows;
};

int agg_sql_init(struct agg_sql *a)
{
	memset(a, 0, sizeof(*a));
	if (hmap_init(&a->index, sizeof(uint32_t), 64) ||
	    hmap_init(&a->threads, sizeof(struct sql_thread *), 8) ||
	    hmap_init(&a->bursts, sizeof(struct sql_burst), 64))
		return az_error(AZ_ENOMEM, "out of memory");
	return 0;
}

void agg_sql_free(struct agg_sql *a)
{
	for (size_t i = 0; i < a->stmts.n; i++)
		qs_free(&a->stmts.v[i].lat);
	VEC_FREE(a->stmts);
	free(a->order);
	VEC_FREE(a->dbs);
	VEC_FREE(a->findings);
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&a->threads, &it, &k, &v)) {
		struct sql_thread *th = *(struct sql_thread **)v;
		free(th->ring);
		free(th);
	}
	hmap_free(&a->threads);
	hmap_free(&a->bursts);
	hmap_free(&a->index);
	memset(a, 0, sizeof(*a));
}

/* ---- decoding -------------------------------------------------------------------------------- */

/* get_fields() : n varints from the payload; fields beyond them are ignored (a newer
 * writer may append some). @return 0, or AZ_ECORRUPT naming the record. */
static int get_fields(const struct ord_event *e, uint64_t *f, unsigned n, const char *what)
{
	const uint8_t *p = e->payload, *end = e->payload + e->payload_len;
	for (unsigned i = 0; i < n; i++)
		RETURN_ERR_IF(itf_get_u(&p, end, &f[i]), AZ_ECORRUPT,
			      "%s record of thread %u: field %u of %u is missing or malformed",
			      what, e->tid, i + 1, n);
	return 0;
}

static int id32(uint64_t v, uint32_t *out, const struct ord_event *e, const char *what)
{
	RETURN_ERR_IF(v > UINT32_MAX, AZ_ECORRUPT, "%s record of thread %u: id %llu too large",
		      what, e->tid, (unsigned long long)v);
	*out = (uint32_t)v;
	return 0;
}

/* stmt_of() : the statement (sql, db), created on first sight. @return its index, or -1 */
static long stmt_of(struct agg_sql *a, uint32_t sql, uint32_t db)
{
	bool is_new;
	uint32_t *ix = hmap_put(&a->index, (uint64_t)sql << 32 | db, &is_new);
	if (!ix)
		return -1;
	if (is_new) {
		struct sql_stmt s = {.sql = sql, .db = db, .first_start = UINT64_MAX};
		if (VEC_PUSH(a->stmts, s)) {
			hmap_del(&a->index, (uint64_t)sql << 32 | db);
			return -1;
		}
		*ix = (uint32_t)a->stmts.n;
	}
	return (long)*ix - 1;
}

static struct sql_db *db_of(struct agg_sql *a, uint32_t db)
{
	for (size_t i = 0; i < a->dbs.n; i++)
		if (a->dbs.v[i].db == db)
			return &a->dbs.v[i];
	struct sql_db d = {.db = db};
	if (VEC_PUSH(a->dbs, d))
		return NULL;
	return &a->dbs.v[a->dbs.n - 1];
}

const struct sql_db *sql_db_find(const struct agg_sql *a, uint32_t db)
{
	for (size_t i = 0; i < a->dbs.n; i++)
		if (a->dbs.v[i].db == db)
			return &a->dbs.v[i];
	return NULL;
}

static struct sql_thread *thread_of(struct agg_sql *a, uint32_t tid)
{
	bool is_new;
	struct sql_thread **tp = hmap_put(&a->threads, tid, &is_new);
	if (!tp)
		return NULL;
	if (is_new) {
		*tp = xcalloc(1, sizeof(**tp));
		if (*tp && !((*tp)->ring = xcalloc(SQL_RING, sizeof(struct sql_recent)))) {
			free(*tp);
			*tp = NULL;
		}
		if (!*tp) {
			hmap_del(&a->threads, tid);
			return NULL;
		}
	}
	return *tp;
}

/* ---- N+1: nesting and bursts ------------------------------------------------------------------ */

/* nest() : execution (si, start..end, rows) of thread th just ended: every execution of
 * the window that ran inside it and was not already inside a nearer one is its child. */
static void nest(struct agg_sql *a, struct sql_thread *th, uint32_t si, uint64_t start,
		 uint64_t rows)
{
	struct {
		uint32_t stmt;
		uint64_t n, time;
	} kids[16];
	unsigned n_kids = 0;
	bool truncated = th->n == SQL_RING;
	a->nest_budget += SQL_NEST_WORK;
	for (size_t k = th->n; k-- > 0;) {
		if (!a->nest_budget) {
			a->nest_cut++;
			truncated = true;
			break;
		}
		a->nest_budget--;
		struct sql_recent *r = &th->ring[(th->head + k) % SQL_RING];
		if (r->end <= start) {
			truncated = false;
			break;
		}
		if (r->start < start || r->claimed)
			continue;
		r->claimed = 1;
		unsigned j = 0;
		while (j < n_kids && kids[j].stmt != r->stmt)
			j++;
		if (j == n_kids) {
			if (n_kids == 16)
				continue;
			kids[n_kids++] = (__typeof__(kids[0])){.stmt = r->stmt};
		}
		kids[j].n++;
		kids[j].time += r->time;
	}
	for (unsigned j = 0; j < n_kids; j++) {
		struct sql_stmt *in = &a->stmts.v[kids[j].stmt];
		if (kids[j].stmt == si)
			continue;
		if (in->np_outer && in->np_outer != si + 1) {
			/* another statement contains it too: keep the one that contains more */
			if (kids[j].n <= in->np_nested)
				continue;
			in->np_nested = in->np_outer_execs = in->np_outer_rows = in->np_time = 0;
			in->np_truncated = false;
		}
		in->np_outer = si + 1;
		in->np_nested += kids[j].n;
		in->np_outer_execs++;
		in->np_outer_rows += rows;
		in->np_time += kids[j].time;
		in->np_truncated |= truncated;
	}
}

static void burst_close(struct agg_sql *a, uint32_t si, const struct sql_burst *b)
{
	if (b->n < SQL_BURST_MIN)
		return;
	struct sql_stmt *s = &a->stmts.v[si];
	s->bursts++;
	s->burst_execs += b->n;
	s->burst_time += b->time;
	if (b->n > s->burst_max) {
		s->burst_max = b->n;
		s->burst_max_span = b->last_end - b->first_start;
		s->burst_prev = b->prev;
		s->burst_prev_rows = b->prev_rows;
		s->burst_first = b->first_start;
	}
}

static int burst(struct agg_sql *a, struct sql_thread *th, uint32_t tid, uint32_t si,
		 uint64_t start, uint64_t end, uint64_t time)
{
	bool is_new;
	struct sql_burst *b = hmap_put(&a->bursts, (uint64_t)tid << 32 | si, &is_new);
	if (!b)
		return az_error(AZ_ENOMEM, "out of memory");
	if (!is_new && th->seq - b->last_seq <= SQL_BURST_GAP + 1) {
		b->n++;
		b->last_seq = th->seq;
		b->last_end = end;
		b->time += time;
		return 0;
	}
	if (!is_new)
		burst_close(a, si, b);
	*b = (struct sql_burst){.last_seq = th->seq, .n = 1, .first_start = start,
				.last_end = end, .time = time};
	if (th->last_stmt != si + 1) {
		b->prev = th->last_stmt;
		b->prev_rows = th->last_rows;
	}
	return 0;
}

/* ---- records ---------------------------------------------------------------------------------- */

static void slow_add(struct agg_sql *a, const struct sql_slow *x)
{
	unsigned i = a->n_slow;
	if (i == SQL_SLOWEST) {
		if (x->time <= a->slow[SQL_SLOWEST - 1].time)
			return;
		i--;
	} else {
		a->n_slow++;
	}
	while (i > 0 && a->slow[i - 1].time < x->time) {
		a->slow[i] = a->slow[i - 1];
		i--;
	}
	a->slow[i] = *x;
}

static int on_exec(struct agg_sql *a, const struct ord_event *e)
{
	enum { F_SQL, F_DB, F_STACK, F_SPAN, F_TIME, F_WAIT, F_ROWS, F_STEPS, F_RC, F_END,
	       F_FULLSCAN, F_SORT, F_AUTOINDEX, F_VMSTEP, F_REPREPARE, F_FLAGS, F_HANDLE, F_N };
	uint64_t f[F_N];
	uint32_t sql = 0, db = 0, stack = 0;
	int rc;
	if ((rc = get_fields(e, f, F_N, "SQL execution")) ||
	    (rc = id32(f[F_SQL], &sql, e, "SQL execution")) ||
	    (rc = id32(f[F_DB], &db, e, "SQL execution")) ||
	    (rc = id32(f[F_STACK], &stack, e, "SQL execution")))
		return rc;
	long ix = stmt_of(a, sql, db);
	struct sql_thread *th = thread_of(a, e->tid);
	struct sql_db *d = db_of(a, db);
	if (ix < 0 || !th || !d)
		return az_error(AZ_ENOMEM, "out of memory");
	uint32_t si = (uint32_t)ix;
	struct sql_stmt *s = &a->stmts.v[si];
	uint64_t start = e->ts >= f[F_SPAN] ? e->ts - f[F_SPAN] : 0;
	uint64_t time = f[F_TIME];
	a->any = true;
	d->executions++;
	s->executions++;
	s->rows += f[F_ROWS];
	s->steps += f[F_STEPS];
	s->total += time;
	if (qs_add(&s->lat, time))
		return az_error(AZ_ENOMEM, "out of memory");
	s->lock_wait += f[F_WAIT];
	if (f[F_WAIT]) {
		s->lock_wait_execs++;
		if (f[F_WAIT] > s->max_lock_wait)
			s->max_lock_wait = f[F_WAIT];
	}
	uint64_t prim = f[F_RC] & 0xff;
	if (f[F_END] == ITF_SQL_END_STEP && f[F_RC] != SQLITE_DONE_) {
		s->errors++;
		if (prim == SQLITE_BUSY_ || prim == SQLITE_LOCKED_) {
			s->busy++;
			a->busy++;
		}
	}
	if (!(f[F_FLAGS] & ITF_SQL_NO_COUNTERS)) {
		s->counted++;
		s->fullscan += f[F_FULLSCAN];
		s->fullscan_execs += f[F_FULLSCAN] != 0;
		s->sorts += f[F_SORT];
		s->autoindex += f[F_AUTOINDEX];
		s->vm_steps += f[F_VMSTEP];
		s->reprepares += f[F_REPREPARE];
	}
	if (f[F_FLAGS] & ITF_SQL_VIA_EXEC)
		s->via_exec++;
	if (f[F_HANDLE] > s->handles_max)
		s->handles_max = f[F_HANDLE];
	if (start < s->first_start) {
		s->first_start = start;
		s->first_tid = e->tid;
		if (stack)
			s->first_stack = stack;
	} else if (!s->first_stack && stack) {
		s->first_stack = stack;
	}
	a->executions++;
	a->rows += f[F_ROWS];
	a->total += time;
	a->lock_wait += f[F_WAIT];
	slow_add(a, &(struct sql_slow){.time = time, .start = start, .lock_wait = f[F_WAIT],
				       .rows = f[F_ROWS], .rc = f[F_RC], .stmt = si, .tid = e->tid});

	nest(a, th, si, start, f[F_ROWS]);
	struct sql_recent *r;
	if (th->n == SQL_RING) {
		r = &th->ring[th->head];
		th->head = (th->head + 1) % SQL_RING;
	} else {
		r = &th->ring[(th->head + th->n++) % SQL_RING];
	}
	*r = (struct sql_recent){.start = start, .end = e->ts, .time = time, .stmt = si};
	if ((rc = burst(a, th, e->tid, si, start, e->ts, time)))
		return rc;
	th->seq++;
	th->last_stmt = si + 1;
	th->last_rows = f[F_ROWS];
	return 0;
}

static int on_prepare(struct agg_sql *a, const struct ord_event *e)
{
	uint64_t f[6]; /* sql, db, time, rc, flags, handle */
	uint32_t sql = 0, db = 0;
	int rc;
	if ((rc = get_fields(e, f, 6, "SQL prepare")) ||
	    (rc = id32(f[0], &sql, e, "SQL prepare")) || (rc = id32(f[1], &db, e, "SQL prepare")))
		return rc;
	a->any = true;
	a->prepares++;
	a->prepare_time += f[2];
	if (!sql)
		return 0;
	long ix = stmt_of(a, sql, db);
	if (ix < 0)
		return az_error(AZ_ENOMEM, "out of memory");
	struct sql_stmt *s = &a->stmts.v[ix];
	s->prepares++;
	s->prepare_time += f[2];
	if (f[3])
		s->prepare_errors++;
	return 0;
}

static int on_dbfile(struct agg_sql *a, const struct ord_event *e)
{
	uint64_t f[7]; /* db, when, exists, size, mtime_ns, ino, dev */
	uint32_t db = 0;
	int rc;
	if ((rc = get_fields(e, f, 7, "SQL database file")) ||
	    (rc = id32(f[0], &db, e, "SQL database file")))
		return rc;
	struct sql_db *d = db_of(a, db);
	if (!d)
		return az_error(AZ_ENOMEM, "out of memory");
	struct sql_fstate st = {.seen = true, .exists = f[2] != 0, .size = f[3], .mtime_ns = f[4],
				.ino = f[5], .dev = f[6]};
	if (f[1] == 2)
		d->exit = st;
	else if (!d->first.seen)
		d->first = st;
	return 0;
}

int agg_sql_event(void *ctx, const struct ord_event *e)
{
	struct agg_sql *a = ctx;
	uint64_t f[4];
	int rc;
	switch (e->type) {
	case ITF_EV_SQL_EXEC:
		return on_exec(a, e);
	case ITF_EV_SQL_PREPARE:
		return on_prepare(a, e);
	case ITF_EV_SQL_INTERNAL:
		if ((rc = get_fields(e, f, 4, "SQL internal")))
			return rc;
		a->any = true;
		a->internal_execs++;
		a->internal_time += f[2];
		return 0;
	case ITF_EV_SQL_DBFILE:
		return on_dbfile(a, e);
	case ITF_EV_SQL_STATS:
		if ((rc = get_fields(e, f, 3, "SQL counters")))
			return rc;
		a->untracked = f[0];
		a->unwrapped = f[1];
		a->have_stats = true;
		return 0;
	default:
		return 0;
	}
}

/* ---- finishing -------------------------------------------------------------------------------- */

static const struct agg_sql *sort_a;

static int by_total(const void *x, const void *y)
{
	const struct sql_stmt *a = &sort_a->stmts.v[*(const uint32_t *)x];
	const struct sql_stmt *b = &sort_a->stmts.v[*(const uint32_t *)y];
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	if (a->executions != b->executions)
		return a->executions > b->executions ? -1 : 1;
	if (a->prepare_time != b->prepare_time)
		return a->prepare_time > b->prepare_time ? -1 : 1;
	return a->sql < b->sql ? -1 : a->sql > b->sql;
}

static int by_cost(const void *x, const void *y)
{
	const struct sql_finding *a = x, *b = y;
	if (a->cost_ns != b->cost_ns)
		return a->cost_ns > b->cost_ns ? -1 : 1;
	return a->kind != b->kind ? (int)a->kind - (int)b->kind
				  : (a->stmt < b->stmt ? -1 : a->stmt > b->stmt);
}

static uint64_t to_ns(const struct trace *t, uint64_t ticks)
{
	double npt = t->ns_per_tick > 0 ? t->ns_per_tick
					: (t->hdr.clock_hz > 0 ? 1e9 / t->hdr.clock_hz : 1);
	double ns = (double)ticks * npt;
	return ns >= 1.8e19 ? UINT64_MAX : (uint64_t)llround(ns); /* hostile traces */
}

static int finding(struct agg_sql *a, enum sql_finding_kind kind, uint32_t si, uint64_t cost,
		   bool nested)
{
	struct sql_finding f = {.kind = kind, .stmt = si, .cost_ns = cost, .nested = nested};
	return VEC_PUSH(a->findings, f) ? az_error(AZ_ENOMEM, "out of memory") : 0;
}

int agg_sql_finish(struct agg_sql *a, const struct trace *t)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&a->bursts, &it, &k, &v))
		burst_close(a, (uint32_t)k, v);
	hmap_free(&a->bursts);
	if (hmap_init(&a->bursts, sizeof(struct sql_burst), 4))
		return az_error(AZ_ENOMEM, "out of memory");

	for (size_t i = 0; i < a->stmts.n; i++) {
		struct sql_stmt *s = &a->stmts.v[i];
		s->exact = qs_is_exact(&s->lat);
		s->total_ns = to_ns(t, s->total);
		s->p50_ns = to_ns(t, qs_quantile(&s->lat, 0.50));
		s->p95_ns = to_ns(t, qs_quantile(&s->lat, 0.95));
		s->p99_ns = to_ns(t, qs_quantile(&s->lat, 0.99));
		s->max_ns = to_ns(t, s->lat.max);
		s->lock_wait_ns = to_ns(t, s->lock_wait);
		s->max_lock_wait_ns = to_ns(t, s->max_lock_wait);
		s->prepare_ns = to_ns(t, s->prepare_time);
		s->first_ns = s->first_start == UINT64_MAX ? 0 : tr_ns(t, s->first_start);
		s->np_time_ns = to_ns(t, s->np_time);
		s->burst_time_ns = to_ns(t, s->burst_time);
		s->burst_max_span_ns = to_ns(t, s->burst_max_span);
	}
	a->total_ns = to_ns(t, a->total);
	a->prepare_ns = to_ns(t, a->prepare_time);
	a->lock_wait_ns = to_ns(t, a->lock_wait);
	a->internal_ns = to_ns(t, a->internal_time);
	for (unsigned i = 0; i < a->n_slow; i++) {
		struct sql_slow *x = &a->slow[i];
		x->time_ns = to_ns(t, x->time);
		x->start_ns = tr_ns(t, x->start);
		x->lock_wait_ns = to_ns(t, x->lock_wait);
	}

	free(a->order);
	a->order = xmalloc((a->stmts.n ? a->stmts.n : 1) * sizeof(*a->order));
	if (!a->order)
		return az_error(AZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < a->stmts.n; i++)
		a->order[i] = (uint32_t)i;
	sort_a = a;
	qsort(a->order, a->stmts.n, sizeof(*a->order), by_total);

	a->findings.n = 0;
	for (uint32_t i = 0; i < a->stmts.n; i++) {
		const struct sql_stmt *s = &a->stmts.v[i];
		int rc = 0;
		if (s->counted >= 2 && s->fullscan_execs == s->counted &&
		    s->fullscan >= SQL_SCAN_MIN * s->counted)
			rc = finding(a, SQL_F_FULL_SCAN, i, s->total_ns, false);
		bool nested = s->np_outer && s->np_nested >= SQL_NPLUS1_MIN &&
			      2 * s->np_nested >= s->np_outer_rows &&
			      s->np_nested >= 2 * s->np_outer_execs;
		if (!rc && s->rows && (nested || s->burst_max >= SQL_BURST_MIN))
			rc = finding(a, SQL_F_NPLUS1, i, nested ? s->np_time_ns : s->burst_time_ns,
				     nested);
		if (!rc && s->prepares >= SQL_CHURN_MIN && s->executions &&
		    2 * s->prepares >= s->executions)
			rc = finding(a, SQL_F_REPREPARE, i, s->prepare_ns, false);
		if (!rc && (s->busy || s->lock_wait_ns >= 1000000))
			rc = finding(a, SQL_F_LOCK_WAIT, i, s->lock_wait_ns ? s->lock_wait_ns : 1,
				     false);
		if (rc)
			return rc;
	}
	if (a->findings.n)
		qsort(a->findings.v, a->findings.n, sizeof(*a->findings.v), by_cost);
	return 0;
}
