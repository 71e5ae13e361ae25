/* agg_sql.h - SQL statement analysis (agg_sql.c): per normalized statement and database
 * file, executions, rows, time inside sqlite3_step with percentiles, lock waits and busy
 * results, SQLite's statement counters, prepares; the findings a user acts on (full scans
 * on every execution, N+1 queries, re-prepare churn, lock waits) and the slowest single
 * executions; the state of each database file (for `analyze --explain`). */
#ifndef INTERCEPT_AGG_SQL_H
#define INTERCEPT_AGG_SQL_H

#include <stdbool.h>
#include <stdint.h>

#include "order.h"
#include "qsketch.h"
#include "trace.h"
#include "util.h"

struct xp_plan; /* explain.c */

/* One normalized statement on one database file. Clock-unit fields (no _ns suffix) are
 * converted into the _ns fields by agg_sql_finish(). */
struct sql_stmt {
	uint32_t sql, db; /* string ids (0: unknown) */
	uint64_t executions, rows, steps;
	uint64_t total;	  /* clock units inside sqlite3_step */
	struct qsketch lat; /* per execution, clock units */
	uint64_t busy;	  /* executions ended by SQLITE_BUSY / SQLITE_LOCKED */
	uint64_t errors;  /* executions ended by any error result (busy included) */
	uint64_t lock_wait, lock_wait_execs, max_lock_wait;
	uint64_t fullscan, sorts, autoindex, vm_steps, reprepares;
	uint64_t counted;	 /* executions whose counters were read */
	uint64_t fullscan_execs; /* ... of which did a full-scan step */
	uint64_t via_exec;	 /* executions run by sqlite3_exec */
	uint64_t prepares, prepare_errors, prepare_time;
	uint64_t first_start;	 /* start of the earliest execution (clock) */
	uint32_t first_stack, first_tid;
	uint64_t handles_max;	 /* highest handle serial seen (for the report's notes) */
	/* N+1 evidence: the statement whose executions contained this one's most often */
	uint32_t np_outer;	 /* index + 1 of that statement, 0: none */
	uint64_t np_nested, np_outer_execs, np_outer_rows, np_time;
	bool np_truncated;	 /* the nesting window overflowed: counts are lower bounds */
	/* N+1 evidence: bursts (runs of executions close together on one thread) */
	uint64_t bursts, burst_execs, burst_time, burst_max, burst_max_span, burst_first;
	uint32_t burst_prev;	 /* index + 1 of the statement right before the largest burst */
	uint64_t burst_prev_rows;
	/* filled by agg_sql_finish() */
	uint64_t total_ns, p50_ns, p95_ns, p99_ns, max_ns, lock_wait_ns, max_lock_wait_ns;
	uint64_t prepare_ns, first_ns, np_time_ns, burst_time_ns, burst_max_span_ns;
	bool exact;		 /* percentiles are exact (few executions) */
	struct xp_plan *plan;	 /* analyze --explain (explain.c), else NULL */
};

struct sql_slow {
	uint64_t time, start, lock_wait; /* clock units */
	uint64_t rows, rc;
	uint32_t stmt, tid;		 /* stmt: index into stmts */
	uint64_t time_ns, start_ns, lock_wait_ns;
};
#define SQL_SLOWEST 10

/* A database file's state as recorded (ITF_EV_SQL_DBFILE). */
struct sql_fstate {
	bool seen, exists;
	uint64_t size, mtime_ns, ino, dev;
};
struct sql_db {
	uint32_t db; /* string id */
	struct sql_fstate first, exit;
	uint64_t executions;
	int explain_state;  /* enum xp_db_state (explain.h), set by analyze --explain */
	char *explain_note; /* what the explainer found, one line, or NULL */
};

enum sql_finding_kind {
	SQL_F_FULL_SCAN,   /* a whole table scanned on every execution */
	SQL_F_NPLUS1,	   /* executed once per row of another statement, or in bursts */
	SQL_F_REPREPARE,   /* prepared again for (almost) every execution */
	SQL_F_LOCK_WAIT,   /* waited for database locks / got SQLITE_BUSY */
};
struct sql_finding {
	enum sql_finding_kind kind;
	uint32_t stmt;	/* index into stmts */
	uint64_t cost_ns; /* what sorting uses: the time the finding is about */
	bool nested;	  /* SQL_F_NPLUS1: inside another statement's executions (else bursts) */
};

struct agg_sql {
	struct hmap index; /* (sql << 32 | db) -> index + 1 into stmts */
	VEC(struct sql_stmt) stmts;
	uint32_t *order;   /* stmts sorted by total time, largest first (agg_sql_finish) */
	uint64_t executions, rows, total, prepares, prepare_time, busy, lock_wait;
	uint64_t internal_execs, internal_time;
	uint64_t total_ns, prepare_ns, lock_wait_ns, internal_ns;
	struct sql_slow slow[SQL_SLOWEST];
	unsigned n_slow;
	VEC(struct sql_db) dbs;
	VEC(struct sql_finding) findings; /* sorted by cost, largest first */
	struct hmap threads;		  /* tid -> struct sql_thread * */
	struct hmap bursts;		  /* (tid << 32 | stmt) -> struct sql_burst */
	uint64_t untracked, unwrapped;	  /* ITF_EV_SQL_STATS */
	uint64_t nest_budget, nest_cut;	  /* bound on the N+1 nesting scan (agg_sql.c) */
	bool have_stats;
	bool any;			  /* some SQL record was seen */
};

int agg_sql_init(struct agg_sql *a);
void agg_sql_free(struct agg_sql *a);

/*! agg_sql_event() : an ord_consumer callback: the ITF_EV_SQL_* records; others ignored.
 * @return 0, AZ_ECORRUPT for a malformed SQL record (message names it), or AZ_ENOMEM. */
int agg_sql_event(void *ctx, const struct ord_event *e);

/*! agg_sql_finish() : after the last event and tr_finish_clock(): close open bursts,
 * compute percentiles and nanoseconds, sort statements, derive the findings.
 * @return 0 or AZ_ENOMEM. */
int agg_sql_finish(struct agg_sql *a, const struct trace *t);

/*! sql_db_find() : the recorded state of database file id, or NULL. */
const struct sql_db *sql_db_find(const struct agg_sql *a, uint32_t db);

#endif /* INTERCEPT_AGG_SQL_H */
