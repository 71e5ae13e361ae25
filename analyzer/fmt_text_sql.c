/* fmt_text_sql.c - owns the "SQL HOTSPOTS" section of the text report (fmt_text.c calls
 * it): totals, the statements by time inside SQLite with percentiles, lock waits and
 * counters, the stack of each one's first execution, its plan under --explain, the
 * findings with their evidence, and the slowest single executions. 100 columns. Main
 * thread only. */
#define _GNU_SOURCE
#include <string.h>

#include "intercept/trace_format.h"
#include "report.h"

#define WIDTH 100

static void rule(FILE *o, const char *title)
{
	size_t n = strlen(title);
	fprintf(o, "\n%s ", title);
	for (size_t i = n + 1; i < WIDTH; i++)
		fputc('-', o);
	fputc('\n', o);
}

/* sql_line() : indent, then the statement cut to the line's room with "..." (the JSON
 * report has the whole text). */
static void sql_line(FILE *o, const char *indent, const char *prefix, const char *sql)
{
	int room = WIDTH - (int)strlen(indent) - (int)strlen(prefix);
	if (!sql)
		sql = "(statement text not recorded)";
	int len = (int)strlen(sql);
	if (room < 8)
		room = 8;
	if (len > room)
		fprintf(o, "%s%s%.*s...\n", indent, prefix, room - 3, sql);
	else
		fprintf(o, "%s%s%s\n", indent, prefix, sql);
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static const char *db_name(struct report *r, uint32_t db)
{
	const char *s = tr_string(&r->tr, db);
	return s ? s : "(unknown database)";
}

static void plan(FILE *o, struct report *r, const struct sql_stmt *s)
{
	const struct xp_plan *p = s->plan;
	const struct sql_db *d = sql_db_find(&r->sql, s->db);
	if (!p || p->status == XP_NOT_QUERY)
		return;
	if (p->status == XP_NO_DB) {
		fprintf(o, "       plan: not available: %.*s\n", WIDTH - 24,
			d && d->explain_note ? d->explain_note : "the database cannot be opened");
		return;
	}
	fprintf(o, "       plan (EXPLAIN QUERY PLAN now; file %s):\n",
		d && d->explain_state == XP_DB_UNCHANGED ? "unchanged since the trace"
		: d && d->explain_state == XP_DB_REPLACED ? "REPLACED since the trace"
							    : "CHANGED since the trace");
	if (p->status == XP_FAILED) {
		fprintf(o, "         cannot prepare it on the file now: %.*s\n", WIDTH - 44,
			p->error ? p->error : "?");
		return;
	}
	if (!p->n)
		fprintf(o, "         (no plan: no table is scanned or searched)\n");
	for (size_t i = 0; i < p->n; i++) {
		const struct xp_row *row = &p->rows[i];
		const char *mark = row->full_scan    ? "  <- full scan"
				   : row->auto_index ? "  <- automatic index"
				   : row->temp_btree ? "  <- temp b-tree"
						     : "";
		unsigned depth = row->depth > 8 ? 8 : row->depth;
		/* marks line up at column 70 unless the detail is longer */
		int room = WIDTH - 9 - 2 * (int)depth - (int)strlen(mark);
		int pad = 70 - 9 - 2 * (int)depth;
		fprintf(o, "         %*s%-*.*s%s\n", 2 * (int)depth, "", *mark ? pad : 0, room,
			row->detail, mark);
	}
}

static void statement(FILE *o, struct report *r, size_t rank, const struct sql_stmt *s)
{
	const struct agg_sql *a = &r->sql;
	char b[8][32];
	char head[64];
	snprintf(head, sizeof(head), "#%-3zu %9s %5.1f%%  ", rank,
		 fmt_ns(b[0], sizeof(b[0]), (double)s->total_ns), pct(s->total_ns, a->total_ns));
	sql_line(o, "  ", head, tr_string(&r->tr, s->sql));
	fprintf(o, "       %s execution%s  p50 %s  p95 %s  p99 %s  max %s%s  rows %s\n",
		fmt_count(b[0], sizeof(b[0]), s->executions), s->executions == 1 ? "" : "s",
		fmt_ns(b[1], sizeof(b[1]), (double)s->p50_ns),
		fmt_ns(b[2], sizeof(b[2]), (double)s->p95_ns),
		fmt_ns(b[3], sizeof(b[3]), (double)s->p99_ns),
		fmt_ns(b[4], sizeof(b[4]), (double)s->max_ns), s->exact ? "" : " (~0.5%)",
		fmt_count(b[5], sizeof(b[5]), s->rows));
	fprintf(o, "       full-scan steps %s, sorts %s, auto-indexes %s, prepares %s (%s)",
		fmt_count(b[0], sizeof(b[0]), s->fullscan), fmt_count(b[1], sizeof(b[1]), s->sorts),
		fmt_count(b[2], sizeof(b[2]), s->autoindex),
		fmt_count(b[3], sizeof(b[3]), s->prepares),
		fmt_ns(b[4], sizeof(b[4]), (double)s->prepare_ns));
	if (s->via_exec)
		fprintf(o, ", via sqlite3_exec");
	fputc('\n', o);
	if (s->busy || s->lock_wait_ns || s->errors)
		fprintf(o, "       lock wait %s in %s executions, SQLITE_BUSY/LOCKED %s, errors %s\n",
			fmt_ns(b[0], sizeof(b[0]), (double)s->lock_wait_ns),
			fmt_count(b[1], sizeof(b[1]), s->lock_wait_execs),
			fmt_count(b[2], sizeof(b[2]), s->busy), fmt_count(b[3], sizeof(b[3]), s->errors));
	if (s->executions) {
		char where[64];
		snprintf(where, sizeof(where), "first run at +%s, thread %u, on ",
			 fmt_ns(b[0], sizeof(b[0]), (double)s->first_ns), s->first_tid);
		sql_line(o, "       ", where, db_name(r, s->db));
		fmt_text_stack(o, r, s->first_stack, "         ");
	} else {
		sql_line(o, "       ", "prepared, never executed, on ", db_name(r, s->db));
	}
	plan(o, r, s);
}

static void finding(FILE *o, struct report *r, size_t n, const struct sql_finding *f)
{
	const struct agg_sql *a = &r->sql;
	const struct sql_stmt *s = &a->stmts.v[f->stmt];
	const char *text = tr_string(&r->tr, s->sql);
	char b[6][32];
	switch (f->kind) {
	case SQL_F_FULL_SCAN:
		fprintf(o, "  %zu. Full table scan on every execution (missing index?)\n", n);
		sql_line(o, "       ", "", text);
		fprintf(o, "       %s executions each stepped through %s rows of a full scan (%s in "
			   "all) to return\n",
			fmt_count(b[0], sizeof(b[0]), s->counted),
			fmt_count(b[1], sizeof(b[1]), s->fullscan / (s->counted ? s->counted : 1)),
			fmt_count(b[2], sizeof(b[2]), s->fullscan));
		fprintf(o, "       %.1f rows each: %s. An index on the columns it filters on lets "
			   "SQLite search instead.\n",
			(double)s->rows / (double)(s->executions ? s->executions : 1),
			fmt_ns(b[3], sizeof(b[3]), (double)s->total_ns));
		break;
	case SQL_F_NPLUS1: {
		if (f->nested) {
			const struct sql_stmt *out = &a->stmts.v[s->np_outer - 1];
			fprintf(o, "  %zu. N+1 queries: runs once per row of another statement\n", n);
			sql_line(o, "       ", "", text);
			fprintf(o, "       %s%s executions inside %s execution%s of the statement "
				   "below, which returned\n",
				s->np_truncated ? "at least " : "",
				fmt_count(b[0], sizeof(b[0]), s->np_nested),
				fmt_count(b[1], sizeof(b[1]), s->np_outer_execs),
				s->np_outer_execs == 1 ? "" : "s");
			fprintf(o, "       %s rows; %s in all. One JOIN (or one query with IN (...)) "
				   "does the work of them all.\n",
				fmt_count(b[2], sizeof(b[2]), s->np_outer_rows),
				fmt_ns(b[3], sizeof(b[3]), (double)s->np_time_ns));
			sql_line(o, "         ", "outer: ", tr_string(&r->tr, out->sql));
		} else {
			fprintf(o, "  %zu. N+1 queries: executed many times in a row\n", n);
			sql_line(o, "       ", "", text);
			fprintf(o, "       %s executions in %s burst%s (the largest: %s executions "
				   "within %s); %s in all.\n",
				fmt_count(b[0], sizeof(b[0]), s->burst_execs),
				fmt_count(b[1], sizeof(b[1]), s->bursts), s->bursts == 1 ? "" : "s",
				fmt_count(b[2], sizeof(b[2]), s->burst_max),
				fmt_ns(b[3], sizeof(b[3]), (double)s->burst_max_span_ns),
				fmt_ns(b[4], sizeof(b[4]), (double)s->burst_time_ns));
			if (s->burst_prev) {
				const struct sql_stmt *p = &a->stmts.v[s->burst_prev - 1];
				fprintf(o, "       It began right after the statement below returned %s "
					   "row%s%s\n",
					fmt_count(b[0], sizeof(b[0]), s->burst_prev_rows),
					s->burst_prev_rows == 1 ? "" : "s",
					s->burst_prev_rows == s->burst_max
						? ": once per row. A JOIN would do."
						: ".");
				sql_line(o, "         ", "before: ", tr_string(&r->tr, p->sql));
			} else {
				fprintf(o, "       One query with IN (...) or a JOIN could fetch them "
					   "at once.\n");
			}
		}
		break;
	}
	case SQL_F_REPREPARE:
		fprintf(o, "  %zu. Prepared again and again instead of reused\n", n);
		sql_line(o, "       ", "", text);
		fprintf(o, "       %s prepares for %s executions: %s preparing (%s each).\n",
			fmt_count(b[0], sizeof(b[0]), s->prepares),
			fmt_count(b[1], sizeof(b[1]), s->executions),
			fmt_ns(b[2], sizeof(b[2]), (double)s->prepare_ns),
			fmt_ns(b[3], sizeof(b[3]), (double)s->prepare_ns / (double)s->prepares));
		if (s->via_exec)
			fprintf(o, "       It runs through sqlite3_exec, which prepares its SQL on "
				   "every call: prepare it once,\n       then bind and "
				   "sqlite3_reset() for each run.\n");
		else
			fprintf(o, "       Prepare it once, then bind and sqlite3_reset() for each "
				   "run (or keep a statement cache).\n");
		break;
	case SQL_F_LOCK_WAIT:
		fprintf(o, "  %zu. Waiting for database locks\n", n);
		sql_line(o, "       ", "", text);
		fprintf(o, "       waited %s in %s executions (longest %s); %s ended with "
			   "SQLITE_BUSY/LOCKED.\n",
			fmt_ns(b[0], sizeof(b[0]), (double)s->lock_wait_ns),
			fmt_count(b[1], sizeof(b[1]), s->lock_wait_execs),
			fmt_ns(b[2], sizeof(b[2]), (double)s->max_lock_wait_ns),
			fmt_count(b[3], sizeof(b[3]), s->busy));
		fprintf(o, "       Another connection held the lock: keep write transactions "
			   "short; WAL mode lets readers go on.\n");
		break;
	}
}

void fmt_text_sql(FILE *o, struct report *r)
{
	const struct agg_sql *a = &r->sql;
	char b[6][32];
	if (!(r->tr.hdr.hooks & ITF_HOOK_SQLITE))
		return;
	rule(o, "SQL HOTSPOTS");
	if (!a->any) {
		fprintf(o, "  no SQLite statements were run (or the program does not use the shared "
			   "libsqlite3)\n");
		return;
	}
	fprintf(o, "  %s executions of %zu statements: %s inside sqlite3_step, %s rows; %s "
		   "prepares %s\n",
		fmt_count(b[0], sizeof(b[0]), a->executions), a->stmts.n,
		fmt_ns(b[1], sizeof(b[1]), (double)a->total_ns), fmt_count(b[2], sizeof(b[2]), a->rows),
		fmt_count(b[3], sizeof(b[3]), a->prepares),
		fmt_ns(b[4], sizeof(b[4]), (double)a->prepare_ns));
	if (a->lock_wait_ns || a->busy)
		fprintf(o, "  waited %s for database locks; %s executions got SQLITE_BUSY/LOCKED\n",
			fmt_ns(b[0], sizeof(b[0]), (double)a->lock_wait_ns),
			fmt_count(b[1], sizeof(b[1]), a->busy));
	for (size_t i = 0; i < a->dbs.n; i++) {
		char pre[48];
		snprintf(pre, sizeof(pre), "database (%s executions) ",
			 fmt_count(b[0], sizeof(b[0]), a->dbs.v[i].executions));
		sql_line(o, "  ", pre, db_name(r, a->dbs.v[i].db));
	}
	if (a->internal_execs)
		fprintf(o, "  SQLite's own statements (schema loading and such): %s runs, %s, "
			   "inside the calls above\n",
			fmt_count(b[0], sizeof(b[0]), a->internal_execs),
			fmt_ns(b[1], sizeof(b[1]), (double)a->internal_ns));
	if (a->untracked)
		fprintf(o, "  %s executions NOT recorded (more live statements than the table "
			   "holds): totals are low\n",
			fmt_count(b[0], sizeof(b[0]), a->untracked));
	if (a->unwrapped)
		fprintf(o, "  %s busy handlers installed without measuring lock waits (table "
			   "full)\n",
			fmt_count(b[0], sizeof(b[0]), a->unwrapped));

	size_t lim = rp_limit(r, a->stmts.n, true);
	fprintf(o, "\n  Statements by time inside SQLite (%zu of %zu)\n", lim, a->stmts.n);
	for (size_t i = 0; i < lim; i++)
		statement(o, r, i + 1, &a->stmts.v[a->order[i]]);
	if (a->stmts.n > lim)
		fprintf(o, "  ... %zu more statements (--top %zu shows them)\n", a->stmts.n - lim,
			a->stmts.n);

	if (a->findings.n) {
		size_t flim = rp_limit(r, a->findings.n, true);
		fprintf(o, "\n  Findings\n");
		for (size_t i = 0; i < flim; i++)
			finding(o, r, i + 1, &a->findings.v[i]);
	}
	if (a->n_slow) {
		fprintf(o, "\n  Slowest executions\n");
		unsigned n = a->n_slow < 5 || r->opt.top_given ? a->n_slow : 5;
		for (unsigned i = 0; i < n; i++) {
			const struct sql_slow *x = &a->slow[i];
			char pre[96];
			snprintf(pre, sizeof(pre), "%9s at +%-9s thread %-7u ",
				 fmt_ns(b[0], sizeof(b[0]), (double)x->time_ns),
				 fmt_ns(b[1], sizeof(b[1]), (double)x->start_ns), x->tid);
			sql_line(o, "  ", pre, tr_string(&r->tr, a->stmts.v[x->stmt].sql));
			if (x->lock_wait_ns)
				fprintf(o, "  %9s of it waiting for a database lock\n",
					fmt_ns(b[0], sizeof(b[0]), (double)x->lock_wait_ns));
		}
	}
}
