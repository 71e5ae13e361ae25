/* sql_app.c - an SQLite program with known statement counts: reused prepared statements,
 * a point-query loop, an unindexed scan, N+1 loops (nested in the outer query's steps, and
 * after fetching all of its rows), a statement prepared anew for every run, statements run
 * through sqlite3_exec (several per call, with a callback, one stopped by its callback)
 * and sqlite3_get_table, executions ended by reset, and a second connection whose first
 * prepare makes SQLite load the schema (its own statements must not count as ours).
 * Last, a callback longjmps out of two nested sqlite3_exec calls (their executions are
 * abandoned: prepared, never finished), and sqlite3_exec runs again, nested in a callback:
 * the profiler must neither crash nor miscount after that.
 * With SQL_SECRET set, it also runs statements whose literals and comments hold that text
 * (the privacy test greps the trace for it).
 *
 * usage: sql_app DB_PATH
 * Prints its ground truth as one JSON line: per statement, as the report should normalize
 * it, executions, rows and prepares. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NCUST 200
#define NORDERS 1000
#define POINT 300
#define SCANS 8
#define NESTED_LIMIT 40
#define CHURN 30

struct truth_stmt {
	const char *sql; /* normalized, as the report must show it */
	long executions, rows, prepares;
	int via_exec; /* executions run by sqlite3_exec or sqlite3_get_table */
};
static struct truth_stmt truth[64];
static int n_truth;
static sqlite3 *db;
static volatile int schema_done;

static struct truth_stmt *T(const char *sql)
{
	for (int i = 0; i < n_truth; i++)
		if (!strcmp(truth[i].sql, sql))
			return &truth[i];
	truth[n_truth].sql = sql;
	return &truth[n_truth++];
}

static void die(const char *what)
{
	fprintf(stderr, "sql_app: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static sqlite3_stmt *prep(sqlite3 *c, const char *text, const char *norm)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(c, text, -1, &s, NULL) != SQLITE_OK)
		die(text);
	T(norm)->prepares++;
	return s;
}

/* run() : one execution to SQLITE_DONE, counting rows. */
static long run(sqlite3_stmt *s, const char *norm)
{
	long rows = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		rows++;
	if (rc != SQLITE_DONE)
		die(norm);
	sqlite3_reset(s);
	T(norm)->executions++;
	T(norm)->rows += rows;
	return rows;
}

/* exec() : sqlite3_exec of statements that each run once and return no rows. */
static void exec(const char *text, const char *const *norms, int n)
{
	if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
		die(text);
	for (int i = 0; i < n; i++) {
		T(norms[i])->executions++;
		T(norms[i])->prepares++;
		T(norms[i])->via_exec++;
	}
}

__attribute__((noinline)) static void create_schema(void)
{
	static const char *const n[] = {
		"CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT)",
		"CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, note TEXT, "
		"amount REAL)"};
	exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT);\n"
	     "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, note TEXT, "
	     "amount REAL);",
	     n, 2);
	schema_done = 1; /* not a tail call: this frame stays on the stack */
}

__attribute__((noinline)) static void fill(void)
{
	static const char *const begin[] = {"BEGIN"}, *const commit[] = {"COMMIT"};
	const char *ic = "INSERT INTO customers(id, name, city) VALUES (?, ?, ?)";
	const char *io = "INSERT INTO orders(customer_id, note, amount) VALUES (?, ?, ?)";
	exec("BEGIN", begin, 1);
	sqlite3_stmt *s = prep(db, ic, ic);
	char buf[64];
	for (int i = 1; i <= NCUST; i++) {
		sqlite3_bind_int(s, 1, i);
		snprintf(buf, sizeof(buf), "customer-%d", i);
		sqlite3_bind_text(s, 2, buf, -1, SQLITE_TRANSIENT);
		snprintf(buf, sizeof(buf), "city-%d", i % 10);
		sqlite3_bind_text(s, 3, buf, -1, SQLITE_TRANSIENT);
		run(s, ic);
	}
	sqlite3_finalize(s);
	s = prep(db, io, io);
	for (int i = 0; i < NORDERS; i++) {
		sqlite3_bind_int(s, 1, i % NCUST + 1);
		snprintf(buf, sizeof(buf), "note-%d", i % 50);
		sqlite3_bind_text(s, 2, buf, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(s, 3, i % 100);
		run(s, io);
	}
	sqlite3_finalize(s);
	exec("COMMIT", commit, 1);
}

__attribute__((noinline)) static void point_queries(void)
{
	const char *q = "SELECT name FROM customers WHERE id = ?";
	sqlite3_stmt *s = prep(db, "SELECT name FROM customers WHERE id = ?", q);
	for (int i = 0; i < POINT; i++) {
		sqlite3_bind_int(s, 1, i % NCUST + 1);
		run(s, q);
	}
	sqlite3_finalize(s);
}

/* A scan of orders by an unindexed column: every execution steps through the table. */
__attribute__((noinline)) static void unindexed_scan(void)
{
	const char *q = "SELECT id, amount FROM orders WHERE note = ?";
	sqlite3_stmt *s = prep(db, "SELECT id, amount\n  FROM orders\n  WHERE note = ?", q);
	for (int i = 0; i < SCANS; i++) {
		char note[32];
		snprintf(note, sizeof(note), "note-%d", i * 3);
		sqlite3_bind_text(s, 1, note, -1, SQLITE_TRANSIENT);
		run(s, q);
	}
	sqlite3_finalize(s);
}

/* N+1, nested: one customer lookup per row of the outer query, while it is stepped. */
__attribute__((noinline)) static void nplus1_nested(void)
{
	const char *qo = "SELECT id, customer_id FROM orders WHERE id <= ?";
	const char *qi = "SELECT name, city FROM customers WHERE id = ?";
	sqlite3_stmt *o = prep(db, qo, qo), *in = prep(db, qi, qi);
	sqlite3_bind_int(o, 1, NESTED_LIMIT);
	long rows = 0;
	while (sqlite3_step(o) == SQLITE_ROW) {
		rows++;
		sqlite3_bind_int(in, 1, sqlite3_column_int(o, 1));
		run(in, qi);
	}
	sqlite3_reset(o);
	T(qo)->executions++;
	T(qo)->rows += rows;
	sqlite3_finalize(o);
	sqlite3_finalize(in);
}

/* N+1 after fetching everything: the loop runs once the outer query is done. */
__attribute__((noinline)) static long nplus1_burst(void)
{
	const char *qo = "SELECT customer_id FROM orders WHERE amount > ?";
	const char *qi = "SELECT city FROM customers WHERE id = ?";
	sqlite3_stmt *o = prep(db, "SELECT customer_id FROM orders WHERE amount > 97.5", qo);
	int ids[NORDERS];
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(o)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int(o, 0);
	if (rc != SQLITE_DONE)
		die(qo);
	T(qo)->executions++;
	T(qo)->rows += n;
	sqlite3_finalize(o);
	sqlite3_stmt *in = prep(db, qi, qi);
	for (long i = 0; i < n; i++) {
		sqlite3_bind_int(in, 1, ids[i]);
		run(in, qi);
	}
	sqlite3_finalize(in);
	return n;
}

/* The same query prepared for every run, with a different literal each time. */
__attribute__((noinline)) static void churn(void)
{
	const char *q = "SELECT count(*) FROM customers WHERE city = ?";
	for (int i = 0; i < CHURN; i++) {
		char text[128];
		snprintf(text, sizeof(text), "SELECT count(*) FROM customers WHERE city = 'city-%d'",
			 i % 10);
		sqlite3_stmt *s = prep(db, text, q);
		run(s, q);
		sqlite3_finalize(s);
	}
}

static int count_rows(void *arg, int n, char **v, char **c)
{
	(void)n, (void)v, (void)c;
	++*(long *)arg;
	return 0;
}

static int stop_after_3(void *arg, int n, char **v, char **c)
{
	(void)n, (void)v, (void)c;
	return ++*(long *)arg == 3;
}

__attribute__((noinline)) static void via_exec(void)
{
	static const char *const upd[] = {"UPDATE customers SET city = ? WHERE id = ?",
					  "UPDATE customers SET city = ? WHERE id = ?"};
	exec("UPDATE customers SET city = 'paris' WHERE id = 1;\n"
	     "  UPDATE customers SET city = 'rome'   WHERE id = 2;",
	     upd, 2);

	long rows = 0;
	const char *q = "SELECT id FROM customers WHERE id <= ?";
	if (sqlite3_exec(db, "SELECT id FROM customers WHERE id <= 15", count_rows, &rows, NULL))
		die(q);
	T(q)->executions++, T(q)->prepares++, T(q)->rows += rows, T(q)->via_exec++;

	rows = 0;
	const char *qa = "SELECT id FROM customers";
	if (sqlite3_exec(db, "SELECT id FROM customers", stop_after_3, &rows, NULL) != SQLITE_ABORT)
		die("the callback did not stop sqlite3_exec");
	T(qa)->executions++, T(qa)->prepares++, T(qa)->rows += rows, T(qa)->via_exec++;

	char **res;
	int nrow, ncol;
	const char *qg = "SELECT name FROM customers WHERE id IN (? /*, ... */)";
	if (sqlite3_get_table(db, "SELECT name FROM customers WHERE id IN (1, 2, 3)", &res, &nrow,
			      &ncol, NULL))
		die(qg);
	sqlite3_free_table(res);
	T(qg)->executions++, T(qg)->prepares++, T(qg)->rows += nrow, T(qg)->via_exec++;
}

/* Executions that end with sqlite3_reset after one row. */
__attribute__((noinline)) static void reset_early(void)
{
	const char *q = "SELECT id FROM orders ORDER BY amount DESC";
	sqlite3_stmt *s = prep(db, q, q);
	for (int i = 0; i < 2; i++) {
		if (sqlite3_step(s) != SQLITE_ROW)
			die(q);
		sqlite3_reset(s);
		T(q)->executions++;
		T(q)->rows++;
	}
	sqlite3_finalize(s);
}

/* A second connection: its first prepare loads the schema by running SQLite's own
 * statements, which must not appear as the application's. */
__attribute__((noinline)) static void second_connection(const char *path)
{
	sqlite3 *c2;
	if (sqlite3_open(path, &c2) != SQLITE_OK)
		die("open 2");
	const char *q = "SELECT count(*) FROM orders";
	sqlite3_stmt *s = prep(c2, q, q);
	run(s, q);
	sqlite3_finalize(s);
	sqlite3_close(c2);
}

__attribute__((noinline)) static void secrets(const char *secret)
{
	char text[512];
	snprintf(text, sizeof(text),
		 "INSERT INTO customers(name, city) VALUES ('%s', 'x'); /* %s */ "
		 "UPDATE customers SET name = x'%s' WHERE name = '%s' -- %s\n;",
		 secret, secret, "0123abcd", secret, secret);
	if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
		die(text);
	snprintf(text, sizeof(text), "SELECT id FROM customers WHERE name = '%s' OR id = 9%s9",
		 secret, "87654321");
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, text, -1, &s, NULL) != SQLITE_OK)
		die(text);
	while (sqlite3_step(s) == SQLITE_ROW)
		;
	sqlite3_finalize(s);
}

static jmp_buf escape;

static int jump_out(void *arg, int n, char **v, char **c)
{
	(void)arg, (void)n, (void)v, (void)c;
	longjmp(escape, 1);
}

static int nest_then_jump(void *arg, int n, char **v, char **c)
{
	(void)n, (void)v, (void)c;
	if (++*(long *)arg == 2)
		sqlite3_exec(db, "SELECT name FROM customers WHERE id = 7", jump_out, NULL, NULL);
	return 0;
}

static int nested_update(void *arg, int n, char **v, char **c)
{
	(void)n, (void)c;
	char text[96];
	snprintf(text, sizeof(text), "UPDATE customers SET name = name WHERE id = %s", v[0]);
	++*(long *)arg;
	return sqlite3_exec(db, text, NULL, NULL, NULL);
}

__attribute__((noinline)) static void escape_exec(void)
{
	long rows = 0;
	if (!setjmp(escape))
		sqlite3_exec(db, "SELECT id FROM orders WHERE id <= 5", nest_then_jump, &rows, NULL);
	/* both statements were prepared and are left running, unfinalized */
	T("SELECT id FROM orders WHERE id <= ?")->prepares++;
	T("SELECT name FROM customers WHERE id = ?")->prepares++;

	const char *qo = "SELECT id FROM customers WHERE id <= ? ORDER BY id";
	const char *qu = "UPDATE customers SET name = name WHERE id = ?";
	rows = 0;
	if (sqlite3_exec(db, "SELECT id FROM customers WHERE id <= 4 ORDER BY id", nested_update,
			 &rows, NULL))
		die(qo);
	T(qo)->executions++, T(qo)->prepares++, T(qo)->rows += rows, T(qo)->via_exec++;
	T(qu)->executions += rows, T(qu)->prepares += rows, T(qu)->via_exec += rows;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sql_app DB_PATH\n");
		return 2;
	}
	unlink(argv[1]);
	if (sqlite3_open(argv[1], &db) != SQLITE_OK)
		die("open");
	create_schema();
	fill();
	point_queries();
	unindexed_scan();
	nplus1_nested();
	long burst = nplus1_burst();
	churn();
	via_exec();
	reset_early();
	second_connection(argv[1]);
	const char *secret = getenv("SQL_SECRET");
	if (secret)
		secrets(secret);
	escape_exec();
	sqlite3_close_v2(db); /* the abandoned statements keep it open until exit */

	/* SQLite counts a full-scan step per row it moves on to after the first: a scan of
	 * NORDERS rows is NORDERS - 1 steps (SQLITE_STMTSTATUS_FULLSCAN_STEP). */
	printf("{\"db\": \"%s\", \"burst\": %ld, \"nested\": %d, \"scan_steps\": %d, "
	       "\"churn\": %d, \"sql\": {",
	       argv[1], burst, NESTED_LIMIT, SCANS * (NORDERS - 1), CHURN);
	for (int i = 0; i < n_truth; i++)
		printf("%s\"%s\": {\"executions\": %ld, \"rows\": %ld, \"prepares\": %ld, "
		       "\"via_exec\": %d}",
		       i ? ", " : "", truth[i].sql, truth[i].executions, truth[i].rows,
		       truth[i].prepares, truth[i].via_exec);
	printf("}}\n");
	return 0;
}
