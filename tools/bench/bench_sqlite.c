/* bench_sqlite.c - what the SQLite hooks cost: a loop of point queries on a prepared
 * statement (bind, step to the row, step to DONE, reset: one execution, two steps), the
 * same with a prepare per query, and a loop of steps over a 1,000-row result (one
 * execution, many steps). Each is timed in batches and the fastest batch is kept: on a
 * shared 2-vCPU machine the other tenants only ever add time, so the minimum is the
 * program's own cost (the median is printed too). Prints ns per query / per step;
 * tools/bench/sqlite.sh runs it natively and under the preload and prints the ratios.
 * usage: bench_sqlite [BATCHES] */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define BATCH 2000 /* point queries per batch (a tenth for prepares) */

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%s_ns %.1f\n%s_median_ns %.1f\n", name, v[0], name, v[n / 2]);
}

int main(int argc, char **argv)
{
	int batches = argc > 1 ? atoi(argv[1]) : 100;
	if (batches < 1 || batches > 100000)
		batches = 100;
	double *v = malloc((size_t)batches * sizeof(*v));
	sqlite3 *db;
	sqlite3_stmt *s;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v INTEGER); "
			 "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
			 "10000) INSERT INTO kv SELECT x, x * 7 FROM c",
		     NULL, NULL, NULL);
	long sum = 0, k = 0;

	sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &s, NULL);
	for (int b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (int i = 0; i < BATCH; i++, k++) {
			sqlite3_bind_int(s, 1, (int)(k % 10000) + 1);
			if (sqlite3_step(s) == SQLITE_ROW)
				sum += sqlite3_column_int(s, 0);
			sqlite3_step(s);
			sqlite3_reset(s);
		}
		v[b] = (now_ns() - t0) / BATCH;
	}
	report("point_query", v, batches);
	sqlite3_finalize(s);

	for (int b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (int i = 0; i < BATCH / 10; i++, k++) {
			sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &s, NULL);
			sqlite3_bind_int(s, 1, (int)(k % 10000) + 1);
			if (sqlite3_step(s) == SQLITE_ROW)
				sum += sqlite3_column_int(s, 0);
			sqlite3_finalize(s);
		}
		v[b] = (now_ns() - t0) / (BATCH / 10);
	}
	report("prepare_query", v, batches);

	sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k <= 1000", -1, &s, NULL);
	for (int b = 0; b < batches; b++) {
		long steps = 0;
		double t0 = now_ns();
		while (sqlite3_step(s) == SQLITE_ROW) {
			sum += sqlite3_column_int(s, 0);
			steps++;
		}
		steps++;
		sqlite3_reset(s);
		v[b] = (now_ns() - t0) / (double)steps;
	}
	report("row_step", v, batches);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(v);
	printf("checksum %ld\n", sum);
	return 0;
}
