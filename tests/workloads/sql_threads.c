/* sql_threads.c - SQLite from several threads at once: each thread has its own connection
 * and statement (the statement table is filled and looked up concurrently), and all share
 * one statement on one serialized connection, used under the program's own mutex (one
 * handle, steps from different threads). usage: sql_threads DB_PATH
 * Prints its ground truth as one JSON line: executions and rows per statement. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define THREADS 4
#define OWN 2000
#define SHARED 200
#define ROWS 100

static const char *path;
static sqlite3 *shared_db;
static sqlite3_stmt *shared;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static long own_rows[THREADS], shared_rows[THREADS];

static void fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "sql_threads: %s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	sqlite3 *db;
	sqlite3_stmt *s;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		fail(db, "open");
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &s, NULL) != SQLITE_OK)
		fail(db, "prepare");
	for (int i = 0; i < OWN; i++) {
		sqlite3_bind_int(s, 1, (int)((i + id) % (ROWS + 10))); /* some keys miss */
		while (sqlite3_step(s) == SQLITE_ROW)
			own_rows[id]++;
		sqlite3_reset(s);
		if (i % 10 == 0) {
			pthread_mutex_lock(&shared_lock);
			sqlite3_bind_int(shared, 1, (int)(i % ROWS));
			while (sqlite3_step(shared) == SQLITE_ROW)
				shared_rows[id]++;
			sqlite3_reset(shared);
			pthread_mutex_unlock(&shared_lock);
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	path = argv[1];
	unlink(path);
	if (sqlite3_open_v2(path, &shared_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
						      SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK)
		fail(shared_db, "open");
	if (sqlite3_exec(shared_db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER); "
				    "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c "
				    "WHERE x < 99) INSERT INTO kv SELECT x, x * 2 FROM c",
			 NULL, NULL, NULL) != SQLITE_OK)
		fail(shared_db, "fill");
	if (sqlite3_prepare_v2(shared_db, "SELECT count(*) FROM kv WHERE v > ?", -1, &shared,
			       NULL) != SQLITE_OK)
		fail(shared_db, "prepare shared");
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	long own = 0, sh = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		own += own_rows[i];
		sh += shared_rows[i];
	}
	sqlite3_finalize(shared);
	sqlite3_close(shared_db);
	printf("{\"sql\": {\"SELECT v FROM kv WHERE k = ?\": {\"executions\": %d, \"rows\": %ld}, "
	       "\"SELECT count(*) FROM kv WHERE v > ?\": {\"executions\": %d, \"rows\": %ld}, "
	       "\"CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER)\": {\"executions\": 1, "
	       "\"rows\": 0}}, \"threads\": %d}\n",
	       THREADS * OWN, own, THREADS * OWN / 10, sh, THREADS);
	return 0;
}
