/* explain.h - `analyze --explain` (explain.c): EXPLAIN QUERY PLAN of the SQL hotspots,
 * run on the recorded database files opened read-only, with the files' state compared to
 * what the trace recorded. */
#ifndef INTERCEPT_EXPLAIN_H
#define INTERCEPT_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

struct xp_row {
	int id, parent;
	unsigned depth;	 /* nesting level in the plan tree, 0 at the top */
	char *detail;	 /* SQLite's text: "SCAN orders", "SEARCH t USING INDEX ..." */
	bool full_scan;	 /* a SCAN of a table or index: every row is visited */
	bool temp_btree; /* USE TEMP B-TREE: a sort or a distinct/group set built per run */
	bool auto_index; /* an AUTOMATIC index: built per run because none fits */
};

enum xp_status {
	XP_OK,	     /* rows holds the plan (maybe empty: the statement reads no table) */
	XP_FAILED,   /* the statement could not be prepared on the file now: error says why */
	XP_NO_DB,    /* the database cannot be explained: its note says why */
	XP_NOT_QUERY, /* DDL, transaction control, PRAGMA: no plan to show */
};

struct xp_plan {
	enum xp_status status;
	char *error; /* XP_FAILED: SQLite's message */
	struct xp_row *rows;
	size_t n;
};

enum xp_db_state {
	XP_DB_UNCHECKED = 0, /* no hotspot statement on it was explained */
	XP_DB_UNCHANGED,     /* size, mtime and inode as at the end of the trace */
	XP_DB_CHANGED,	     /* the file was written since the trace */
	XP_DB_REPLACED,	     /* another file (inode) is at the path now */
	XP_DB_GONE,	     /* nothing at the path */
	XP_DB_MEMORY,	     /* an in-memory or temporary database: nothing to open */
	XP_DB_UNREADABLE,    /* not a regular file, not SQLite, or it failed to open */
};

struct report;

/*! xp_explain() : for every hotspot statement (those the text report shows), open its
 * database read-only (immutable=1, or mode=ro when a write-ahead log must be read), never
 * writing it, and store the plan in the statement (sql_stmt.plan) and the file's state
 * in sql_db.explain_state / explain_note. Files that cannot be explained are not errors.
 * @return 0 or AZ_ENOMEM. */
int xp_explain(struct report *r);

/*! xp_free() : release the plans and notes xp_explain() made. */
void xp_free(struct report *r);

/*! xp_db_state_name() : "unchanged", "changed", ... for the JSON report. */
const char *xp_db_state_name(enum xp_db_state s);

#endif /* INTERCEPT_EXPLAIN_H */
