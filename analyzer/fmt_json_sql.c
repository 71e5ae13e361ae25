/* fmt_json_sql.c - owns the SQL parts of the JSON report (fmt_json.c calls it): the `sql`
 * array exactly as ../shared/CONTRACT.md fixes it, plus the fields and sections
 * docs/report-json.md adds (sql_summary, sql_findings, sql_slowest, per-statement plans
 * under --explain). Main thread only. */
#define _GNU_SOURCE
#include <string.h>

#include "intercept/trace_format.h"
#include "json_out.h"
#include "report.h"

static const char *const kind_names[] = {
	[SQL_F_FULL_SCAN] = "full_scan",
	[SQL_F_NPLUS1] = "n_plus_1",
	[SQL_F_REPREPARE] = "reprepare",
	[SQL_F_LOCK_WAIT] = "lock_wait",
};

static void plan(struct jw *w, struct report *r, const struct sql_stmt *s)
{
	const struct xp_plan *p = s->plan;
	const struct sql_db *d = sql_db_find(&r->sql, s->db);
	jw_obj(w, "plan");
	jw_str(w, "status", p->status == XP_OK	       ? "ok"
			    : p->status == XP_FAILED   ? "failed"
			    : p->status == XP_NOT_QUERY ? "not_a_query"
							: "no_database");
	jw_str(w, "database_state", xp_db_state_name(d ? d->explain_state : XP_DB_UNCHECKED));
	jw_str(w, "note", d ? d->explain_note : NULL);
	jw_str(w, "error", p->status == XP_FAILED ? p->error : NULL);
	jw_arr(w, "rows");
	for (size_t i = 0; p->status == XP_OK && i < p->n; i++) {
		const struct xp_row *row = &p->rows[i];
		jw_obj(w, NULL);
		bool pretty = w->pretty;
		w->pretty = false;
		jw_i64(w, "id", row->id);
		jw_i64(w, "parent", row->parent);
		jw_str(w, "detail", row->detail);
		jw_bool(w, "full_scan", row->full_scan);
		jw_bool(w, "temp_btree", row->temp_btree);
		jw_bool(w, "automatic_index", row->auto_index);
		jw_obj_end(w);
		w->pretty = pretty;
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static void statement(struct jw *w, struct report *r, const struct sql_stmt *s)
{
	jw_obj(w, NULL);
	/* CONTRACT.md */
	jw_str(w, "statement", tr_string(&r->tr, s->sql));
	jw_u64(w, "executions", s->executions);
	jw_u64(w, "rows", s->rows);
	jw_u64(w, "total_ns", s->total_ns);
	jw_u64(w, "p50_ns", s->p50_ns);
	jw_u64(w, "p95_ns", s->p95_ns);
	jw_u64(w, "p99_ns", s->p99_ns);
	jw_u64(w, "max_ns", s->max_ns);
	jw_u64(w, "busy", s->busy);
	jw_u64(w, "lock_wait_ns", s->lock_wait_ns);
	jw_u64(w, "fullscan_steps", s->fullscan);
	/* additions (docs/report-json.md) */
	jw_str(w, "database", tr_string(&r->tr, s->db));
	jw_bool(w, "percentiles_exact", s->exact);
	jw_u64(w, "errors", s->errors);
	jw_u64(w, "steps", s->steps);
	jw_u64(w, "lock_wait_executions", s->lock_wait_execs);
	jw_u64(w, "max_lock_wait_ns", s->max_lock_wait_ns);
	jw_u64(w, "sorts", s->sorts);
	jw_u64(w, "autoindexes", s->autoindex);
	jw_u64(w, "vm_steps", s->vm_steps);
	jw_u64(w, "reprepares", s->reprepares);
	jw_u64(w, "fullscan_executions", s->fullscan_execs);
	jw_u64(w, "counted_executions", s->counted);
	jw_u64(w, "via_exec", s->via_exec);
	jw_u64(w, "prepares", s->prepares);
	jw_u64(w, "prepare_errors", s->prepare_errors);
	jw_u64(w, "prepare_ns", s->prepare_ns);
	jw_u64(w, "first_ns", s->first_ns);
	jw_u64(w, "first_tid", s->first_tid);
	fmt_json_stack(w, "stack", r, s->first_stack);
	if (s->plan)
		plan(w, r, s);
	jw_obj_end(w);
}

static void finding(struct jw *w, struct report *r, const struct sql_finding *f)
{
	const struct agg_sql *a = &r->sql;
	const struct sql_stmt *s = &a->stmts.v[f->stmt];
	jw_obj(w, NULL);
	jw_str(w, "kind", kind_names[f->kind]);
	jw_str(w, "statement", tr_string(&r->tr, s->sql));
	jw_str(w, "database", tr_string(&r->tr, s->db));
	jw_u64(w, "cost_ns", f->cost_ns);
	jw_u64(w, "executions", s->executions);
	switch (f->kind) {
	case SQL_F_FULL_SCAN:
		jw_u64(w, "fullscan_steps", s->fullscan);
		jw_u64(w, "fullscan_executions", s->fullscan_execs);
		jw_u64(w, "rows", s->rows);
		jw_u64(w, "autoindexes", s->autoindex);
		break;
	case SQL_F_NPLUS1:
		jw_str(w, "pattern", f->nested ? "nested" : "burst");
		if (f->nested) {
			const struct sql_stmt *o = &a->stmts.v[s->np_outer - 1];
			jw_str(w, "outer_statement", tr_string(&r->tr, o->sql));
			jw_u64(w, "inner_executions", s->np_nested);
			jw_u64(w, "outer_executions", s->np_outer_execs);
			jw_u64(w, "outer_rows", s->np_outer_rows);
			jw_bool(w, "lower_bound", s->np_truncated);
		} else {
			const struct sql_stmt *p = s->burst_prev ? &a->stmts.v[s->burst_prev - 1] : NULL;
			jw_u64(w, "bursts", s->bursts);
			jw_u64(w, "burst_executions", s->burst_execs);
			jw_u64(w, "largest_burst", s->burst_max);
			jw_u64(w, "largest_burst_span_ns", s->burst_max_span_ns);
			jw_str(w, "previous_statement", p ? tr_string(&r->tr, p->sql) : NULL);
			jw_u64(w, "previous_rows", s->burst_prev_rows);
		}
		break;
	case SQL_F_REPREPARE:
		jw_u64(w, "prepares", s->prepares);
		jw_u64(w, "prepare_ns", s->prepare_ns);
		jw_u64(w, "via_exec", s->via_exec);
		break;
	case SQL_F_LOCK_WAIT:
		jw_u64(w, "busy", s->busy);
		jw_u64(w, "lock_wait_ns", s->lock_wait_ns);
		jw_u64(w, "lock_wait_executions", s->lock_wait_execs);
		jw_u64(w, "max_lock_wait_ns", s->max_lock_wait_ns);
		break;
	}
	jw_obj_end(w);
}

static void fstate(struct jw *w, const char *key, const struct sql_fstate *f)
{
	if (!f->seen) {
		jw_null(w, key);
		return;
	}
	jw_obj(w, key);
	jw_bool(w, "exists", f->exists);
	jw_u64(w, "size", f->size);
	jw_u64(w, "mtime_ns", f->mtime_ns);
	jw_u64(w, "inode", f->ino);
	jw_obj_end(w);
}

void fmt_json_sql(struct jw *w, struct report *r)
{
	const struct agg_sql *a = &r->sql;
	size_t lim = rp_limit(r, a->stmts.n, false);
	jw_arr(w, "sql");
	for (size_t i = 0; i < lim; i++)
		statement(w, r, &a->stmts.v[a->order[i]]);
	jw_arr_end(w);

	jw_obj(w, "sql_summary");
	jw_u64(w, "statements", a->stmts.n);
	jw_u64(w, "executions", a->executions);
	jw_u64(w, "rows", a->rows);
	jw_u64(w, "total_ns", a->total_ns);
	jw_u64(w, "prepares", a->prepares);
	jw_u64(w, "prepare_ns", a->prepare_ns);
	jw_u64(w, "busy", a->busy);
	jw_u64(w, "lock_wait_ns", a->lock_wait_ns);
	jw_u64(w, "internal_executions", a->internal_execs);
	jw_u64(w, "internal_ns", a->internal_ns);
	jw_u64(w, "untracked_executions", a->untracked);
	jw_u64(w, "unwrapped_busy_handlers", a->unwrapped);
	jw_u64(w, "nesting_scans_cut", a->nest_cut);
	jw_arr(w, "databases");
	for (size_t i = 0; i < a->dbs.n; i++) {
		const struct sql_db *d = &a->dbs.v[i];
		jw_obj(w, NULL);
		jw_str(w, "path", tr_string(&r->tr, d->db));
		jw_u64(w, "executions", d->executions);
		fstate(w, "first_use", &d->first);
		fstate(w, "at_exit", &d->exit);
		if (d->explain_state) {
			jw_str(w, "state_now", xp_db_state_name(d->explain_state));
			jw_str(w, "note", d->explain_note);
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);

	jw_arr(w, "sql_findings");
	size_t flim = rp_limit(r, a->findings.n, false);
	for (size_t i = 0; i < flim; i++)
		finding(w, r, &a->findings.v[i]);
	jw_arr_end(w);

	jw_arr(w, "sql_slowest");
	for (unsigned i = 0; i < a->n_slow; i++) {
		const struct sql_slow *x = &a->slow[i];
		jw_obj(w, NULL);
		jw_str(w, "statement", tr_string(&r->tr, a->stmts.v[x->stmt].sql));
		jw_str(w, "database", tr_string(&r->tr, a->stmts.v[x->stmt].db));
		jw_u64(w, "ns", x->time_ns);
		jw_u64(w, "start_ns", x->start_ns);
		jw_u64(w, "tid", x->tid);
		jw_u64(w, "rows", x->rows);
		jw_u64(w, "lock_wait_ns", x->lock_wait_ns);
		jw_u64(w, "result", x->rc);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}
