/* sql_lock.c - database lock contention with known outcomes, on one database file:
 *  1. a connection with a 100 ms busy timeout inserts while another connection of this
 *     process holds the write lock: it waits (SQLite's default handler sleeps up to the
 *     timeout) and gets SQLITE_BUSY;
 *  2. a connection without a busy handler updates: SQLITE_BUSY at once, no wait;
 *  3. a connection with the program's own busy handler (5 ms sleeps, gives up on its
 *     fifth call) deletes: SQLITE_BUSY after four sleeps; the handler must be called
 *     exactly as without the profiler (counts 0..4);
 *  4. a forked child process holds the write lock for 300 ms while this process, with a
 *     5 s busy timeout, inserts: it waits, then succeeds.
 * usage: sql_lock DB_PATH
 * Prints its ground truth as one JSON line: per statement executions and SQLITE_BUSY
 * results, the wall time each waiting step took (an upper bound of the lock wait) and
 * the least lock wait it must show, and the custom handler's calls. */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static sqlite3 *open_db(const char *path)
{
	sqlite3 *c;
	if (sqlite3_open(path, &c) != SQLITE_OK) {
		fprintf(stderr, "sql_lock: cannot open %s\n", path);
		exit(1);
	}
	return c;
}

static void must(sqlite3 *c, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(c, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sql_lock: %s: %s\n", sql, err);
		exit(1);
	}
}

/* one_step() : prepare, bind v, step once, finalize; the step's result and its wall time */
static int one_step(sqlite3 *c, const char *sql, int v, double *ms)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(c, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sql_lock: prepare %s: %s\n", sql, sqlite3_errmsg(c));
		exit(1);
	}
	sqlite3_bind_int(s, 1, v);
	double t0 = now_ms();
	int rc = sqlite3_step(s);
	*ms = now_ms() - t0;
	sqlite3_finalize(s);
	return rc;
}

static int calls, counts_ok = 1;

static int my_handler(void *arg, int count)
{
	(void)arg;
	if (count != calls)
		counts_ok = 0;
	calls++;
	if (count >= 4)
		return 0;
	usleep(5000);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sql_lock DB_PATH\n");
		return 2;
	}
	const char *path = argv[1];
	unlink(path);
	sqlite3 *a = open_db(path), *b = open_db(path), *c = open_db(path), *d = open_db(path);
	must(a, "CREATE TABLE t(v INTEGER)");
	must(a, "BEGIN IMMEDIATE"); /* a holds the write (RESERVED) lock */
	must(a, "INSERT INTO t(v) SELECT 1");

	double ms1, ms2, ms3, ms4;
	sqlite3_busy_timeout(b, 100);
	int rc1 = one_step(b, "INSERT INTO t(v) VALUES (?)", 2, &ms1);
	int rc2 = one_step(c, "UPDATE t SET v = v + ?", 1, &ms2);
	sqlite3_busy_handler(d, my_handler, NULL);
	int rc3 = one_step(d, "DELETE FROM t WHERE v = ?", 1, &ms3);
	must(a, "COMMIT");

	/* 4: another process holds the lock for 150 ms */
	int pipefd[2];
	if (pipe(pipefd))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		sqlite3 *x = open_db(path);
		must(x, "BEGIN IMMEDIATE");
		must(x, "INSERT INTO t VALUES (3)");
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		usleep(300000);
		must(x, "COMMIT");
		sqlite3_close(x);
		_exit(0);
	}
	char ch;
	if (read(pipefd[0], &ch, 1) != 1)
		return 1;
	sqlite3_busy_timeout(b, 5000);
	int rc4 = one_step(b, "INSERT INTO t VALUES (?)", 4, &ms4);
	int status;
	waitpid(pid, &status, 0);
	sqlite3_close(a);
	sqlite3_close(b);
	sqlite3_close(c);
	sqlite3_close(d);

	printf("{\"results\": [%d, %d, %d, %d], \"handler_calls\": %d, \"handler_counts_ok\": %d, "
	       "\"child_ok\": %d, \"sql\": {"
	       "\"INSERT INTO t(v) VALUES (?)\": {\"executions\": 1, \"busy\": %d, "
	       "\"wall_ms\": %.3f, \"min_wait_ms\": 100}, "
	       "\"UPDATE t SET v = v + ?\": {\"executions\": 1, \"busy\": %d, \"wall_ms\": %.3f, "
	       "\"min_wait_ms\": 0}, "
	       "\"DELETE FROM t WHERE v = ?\": {\"executions\": 1, \"busy\": %d, \"wall_ms\": %.3f, "
	       "\"min_wait_ms\": 20}, "
	       "\"INSERT INTO t VALUES (?)\": {\"executions\": 1, \"busy\": %d, \"wall_ms\": %.3f, "
	       "\"min_wait_ms\": 100}}}\n",
	       rc1, rc2, rc3, rc4, calls, counts_ok,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0, rc1 == SQLITE_BUSY, ms1,
	       rc2 == SQLITE_BUSY, ms2, rc3 == SQLITE_BUSY, ms3, rc4 == SQLITE_BUSY, ms4);
	return 0;
}
