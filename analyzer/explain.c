/* explain.c - owns `analyze --explain`: for the SQL hotspots, EXPLAIN QUERY PLAN on the
 * database files the trace names, next to the measured cost. The analyzer is the one
 * place that links libsqlite3. Files are opened read-only and never written:
 *  - with immutable=1 (no locks, no -wal/-shm files created: a read-only connection to a
 *    WAL database would create both and leave them behind, measured with SQLite 3.40.1),
 *  - with mode=ro only when a write-ahead log exists next to the file, since its committed
 *    transactions (schema changes among them) are not in the main file yet; SQLite may
 *    then update the -shm index as every reader does, never the database or the log.
 * The schema is not trusted (SQLITE_DBCONFIG_TRUSTED_SCHEMA off, DEFENSIVE on) and only
 * the first statement of a text is prepared, never stepped past its plan. The file's
 * size, mtime and inode are compared with the trace's ITF_EV_SQL_DBFILE records first, so
 * the report says when the plan may not be the one the program got. Main thread only. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "explain.h"
#include "report.h"

#define XP_MAX_ROWS 500 /* plan lines kept per statement */

const char *xp_db_state_name(enum xp_db_state s)
{
	static const char *const names[] = {"unchecked", "unchanged", "changed", "replaced",
					    "gone",	 "memory",    "unreadable"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unchecked";
}

static void note(struct sql_db *d, enum xp_db_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct sql_db *d, enum xp_db_state st, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	d->explain_state = st;
	free(d->explain_note);
	d->explain_note = xstrndup(buf, strlen(buf));
}

static const char *when_str(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, cap, "?");
	return buf;
}

/* check_file() : compare the file at path with the trace's last record of it. @return true
 * when it is worth opening (it may still have changed: the note says so). */
static bool check_file(struct sql_db *d, const char *path, struct stat *st)
{
	if (!strcmp(path, ":memory:")) {
		note(d, XP_DB_MEMORY, "an in-memory or temporary database: nothing left to explain "
				      "after the run");
		return false;
	}
	if (stat(path, st)) {
		note(d, XP_DB_GONE, "gone: %s (%s)", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st->st_mode)) {
		note(d, XP_DB_UNREADABLE, "not a regular file now: %s", path);
		return false;
	}
	const struct sql_fstate *rec = d->exit.seen ? &d->exit : d->first.seen ? &d->first : NULL;
	const char *since = d->exit.seen ? "since the trace ended"
					 : "since the program first used it (no record from its "
					   "exit: it may have written the file itself)";
	uint64_t mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
	char b1[32];
	if (!rec) {
		note(d, XP_DB_CHANGED, "the trace has no record of this file's state: it may have "
				       "changed since");
	} else if (!rec->exists) {
		note(d, XP_DB_CHANGED, "did not exist when last recorded, exists now");
	} else if (rec->ino != (uint64_t)st->st_ino || rec->dev != (uint64_t)st->st_dev) {
		note(d, XP_DB_REPLACED, "replaced %s (another file is at the path): the plan may "
					"differ from the program's",
		     since);
	} else if (rec->size != (uint64_t)st->st_size || rec->mtime_ns != mtime) {
		note(d, XP_DB_CHANGED, "changed %s (%llu -> %llu bytes, modified %s): the plan may "
				       "differ from the program's",
		     since, (unsigned long long)rec->size, (unsigned long long)st->st_size,
		     when_str(mtime, b1, sizeof(b1)));
	} else {
		note(d, XP_DB_UNCHANGED, "unchanged %s", d->exit.seen ? "since the trace ended"
								: "since the program first used it");
	}
	return true;
}

/* open_db() : a read-only connection to path (see the top of this file), or NULL with the
 * database's note set. */
static sqlite3 *open_db(struct sql_db *d, const char *path)
{
	struct stat st;
	if (!check_file(d, path, &st))
		return NULL;
	unsigned char hdr[100];
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	ssize_t got = fd >= 0 ? pread(fd, hdr, sizeof(hdr), 0) : -1;
	if (fd >= 0)
		close(fd);
	if (got != (ssize_t)sizeof(hdr) || memcmp(hdr, "SQLite format 3", 16)) {
		note(d, XP_DB_UNREADABLE, "not an SQLite database now: %s", path);
		return NULL;
	}
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	bool use_wal = hdr[18] == 2 && access(wal, F_OK) == 0;
	struct sbuf uri = {0};
	sb_puts(&uri, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._-~", *p))
			sb_putc(&uri, (char)*p);
		else
			sb_printf(&uri, "%%%02X", *p);
	}
	sb_puts(&uri, use_wal ? "?mode=ro" : "?immutable=1");
	if (uri.oom) {
		sb_free(&uri);
		return NULL;
	}
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(uri.s, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	sb_free(&uri);
	if (rc != SQLITE_OK) {
		note(d, XP_DB_UNREADABLE, "cannot open %s read-only: %s", path,
		     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static struct xp_plan *plan_new(enum xp_status st, const char *error)
{
	struct xp_plan *p = xcalloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->status = st;
	if (error)
		p->error = xstrndup(error, strlen(error));
	return p;
}

/* is_query() : does the statement read or write table rows (so that it has a plan)? DDL,
 * transaction control and PRAGMAs have none, and EXPLAIN of a CREATE fails on a file that
 * already has the table. */
static bool is_query(const char *sql)
{
	static const char *const verbs[] = {"SELECT", "WITH", "INSERT", "UPDATE", "DELETE",
					    "REPLACE", "VALUES"};
	while (*sql == ' ' || *sql == '(')
		sql++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		size_t n = strlen(verbs[i]);
		if (!strncasecmp(sql, verbs[i], n) &&
		    !((sql[n] >= 'a' && sql[n] <= 'z') || (sql[n] >= 'A' && sql[n] <= 'Z') ||
		      sql[n] == '_'))
			return true;
	}
	return false;
}

static struct xp_plan *explain(sqlite3 *db, const char *sql)
{
	if (!is_query(sql))
		return plan_new(XP_NOT_QUERY, NULL);
	struct sbuf q = {0};
	sb_puts(&q, "EXPLAIN QUERY PLAN ");
	sb_puts(&q, sql);
	if (q.oom) {
		sb_free(&q);
		return NULL;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, q.s, -1, &st, NULL);
	sb_free(&q);
	if (rc != SQLITE_OK || !st) {
		struct xp_plan *p = plan_new(XP_FAILED, st ? sqlite3_errmsg(db)
							    : rc ? sqlite3_errmsg(db) : "empty statement");
		sqlite3_finalize(st);
		return p;
	}
	struct xp_plan *p = plan_new(XP_OK, NULL);
	if (!p || !(p->rows = xcalloc(XP_MAX_ROWS, sizeof(*p->rows)))) {
		sqlite3_finalize(st);
		if (p)
			free(p);
		return NULL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && p->n < XP_MAX_ROWS) {
		struct xp_row *row = &p->rows[p->n];
		const char *detail = (const char *)sqlite3_column_text(st, 3);
		row->id = sqlite3_column_int(st, 0);
		row->parent = sqlite3_column_int(st, 1);
		row->detail = xstrndup(detail ? detail : "", detail ? strlen(detail) : 0);
		if (!row->detail)
			break;
		for (size_t k = 0; k < p->n; k++)
			if (p->rows[k].id == row->parent)
				row->depth = p->rows[k].depth + 1;
		row->full_scan = !strncmp(row->detail, "SCAN ", 5) &&
				 strcmp(row->detail, "SCAN CONSTANT ROW");
		row->temp_btree = strstr(row->detail, "TEMP B-TREE") != NULL;
		row->auto_index = strstr(row->detail, "AUTOMATIC") != NULL;
		p->n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(p->error);
		p->status = XP_FAILED;
		p->error = xstrndup(sqlite3_errmsg(db), strlen(sqlite3_errmsg(db)));
	}
	sqlite3_finalize(st);
	return p;
}

int xp_explain(struct report *r)
{
	struct agg_sql *a = &r->sql;
	size_t lim = rp_limit(r, a->stmts.n, true);
	sqlite3 **conns = xcalloc(a->dbs.n ? a->dbs.n : 1, sizeof(*conns));
	if (!conns)
		return az_error(AZ_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < lim; i++) {
		struct sql_stmt *s = &a->stmts.v[a->order[i]];
		const char *text = tr_string(&r->tr, s->sql);
		size_t di = 0;
		while (di < a->dbs.n && a->dbs.v[di].db != s->db)
			di++;
		if (!text || !*text || di == a->dbs.n)
			continue;
		struct sql_db *d = &a->dbs.v[di];
		if (d->explain_state == XP_DB_UNCHECKED) {
			const char *path = tr_string(&r->tr, d->db);
			conns[di] = path ? open_db(d, path) : NULL;
			if (!path)
				note(d, XP_DB_UNREADABLE, "the trace does not name this database file");
		}
		s->plan = conns[di] ? explain(conns[di], text) : plan_new(XP_NO_DB, NULL);
		if (!s->plan) {
			rc = az_error(AZ_ENOMEM, "out of memory");
			break;
		}
	}
	for (size_t i = 0; i < a->dbs.n; i++)
		sqlite3_close(conns[i]);
	free(conns);
	return rc;
}

void xp_free(struct report *r)
{
	struct agg_sql *a = &r->sql;
	for (size_t i = 0; i < a->stmts.n; i++) {
		struct xp_plan *p = a->stmts.v[i].plan;
		if (!p)
			continue;
		for (size_t k = 0; k < p->n; k++)
			free(p->rows[k].detail);
		free(p->rows);
		free(p->error);
		free(p);
		a->stmts.v[i].plan = NULL;
	}
	for (size_t i = 0; i < a->dbs.n; i++) {
		free(a->dbs.v[i].explain_note);
		a->dbs.v[i].explain_note = NULL;
	}
}
