/* test_agg_sql.c - the SQL analysis (analyzer/agg_sql.c) on synthetic records: totals and
 * percentiles, nested and burst N+1, full-scan and re-prepare findings and their
 * thresholds, the slowest executions, and malformed or random payloads (an error or
 * nothing, never a crash: this runs under ASan in tools/test.sh). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "agg_sql.h"
#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

static struct agg_sql a;
static struct trace tr;

/* exec_rec() : one ITF_EV_SQL_EXEC record ending at ts on thread tid. */
static int exec_rec(uint32_t tid, uint64_t ts, uint32_t sql, uint64_t span, uint64_t time,
		    uint64_t rows, uint64_t rc, uint64_t fullscan)
{
	uint8_t buf[256], *p = buf;
	uint64_t f[] = {sql, 1, 0, span, time, 0, rows, rows + 1, rc, ITF_SQL_END_STEP,
			fullscan, 0, 0, 10, 0, 0, sql};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		p = itf_put_u(p, f[i]);
	struct ord_event e = {.type = ITF_EV_SQL_EXEC, .tid = tid, .ts = ts, .payload = buf,
			      .payload_len = (uint32_t)(p - buf)};
	return agg_sql_event(&a, &e);
}

static int prepare_rec(uint32_t tid, uint64_t ts, uint32_t sql, uint64_t time)
{
	uint8_t buf[64], *p = buf;
	uint64_t f[] = {sql, 1, time, 0, 0, 1};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		p = itf_put_u(p, f[i]);
	struct ord_event e = {.type = ITF_EV_SQL_PREPARE, .tid = tid, .ts = ts, .payload = buf,
			      .payload_len = (uint32_t)(p - buf)};
	return agg_sql_event(&a, &e);
}

static const struct sql_stmt *stmt(uint32_t sql)
{
	for (size_t i = 0; i < a.stmts.n; i++)
		if (a.stmts.v[i].sql == sql)
			return &a.stmts.v[i];
	return NULL;
}

static const struct sql_finding *finding(enum sql_finding_kind k, uint32_t sql)
{
	for (size_t i = 0; i < a.findings.n; i++)
		if (a.findings.v[i].kind == k && a.stmts.v[a.findings.v[i].stmt].sql == sql)
			return &a.findings.v[i];
	return NULL;
}

static void setup(void)
{
	agg_sql_free(&a);
	EXPECT_EQ(agg_sql_init(&a), 0);
	tr.ns_per_tick = 1.0;
}

TEST(totals_and_percentiles)
{
	setup();
	uint64_t ts = 1000;
	for (uint64_t i = 1; i <= 100; i++) {
		ts += 1000;
		EXPECT_EQ(exec_rec(1, ts, 5, i * 10, i * 10, 1, 101, 0), 0);
		ts += 5000; /* gaps: no bursts of... (they are bursts: same statement in a row) */
	}
	EXPECT_EQ(agg_sql_finish(&a, &tr), 0);
	const struct sql_stmt *s = stmt(5);
	EXPECT(s != NULL);
	EXPECT_EQ(s->executions, 100);
	EXPECT_EQ(s->rows, 100);
	EXPECT_EQ(s->total_ns, 50500);
	EXPECT_EQ(s->p50_ns, 500);
	EXPECT_EQ(s->p95_ns, 950);
	EXPECT_EQ(s->p99_ns, 990);
	EXPECT_EQ(s->max_ns, 1000);
	EXPECT(s->exact);
	EXPECT_EQ(a.n_slow, SQL_SLOWEST);
	EXPECT_EQ(a.slow[0].time_ns, 1000);
	EXPECT_EQ(a.slow[SQL_SLOWEST - 1].time_ns, 910);
}

/* outer (sql 1) returns 20 rows; for each, inner (sql 2) runs while outer is open. */
TEST(nested_nplus1)
{
	setup();
	uint64_t t0 = 100000, ts = t0;
	for (int i = 0; i < 20; i++) {
		ts += 100;
		EXPECT_EQ(exec_rec(7, ts, 2, 50, 40, 1, 101, 0), 0);
	}
	ts += 100;
	EXPECT_EQ(exec_rec(7, ts, 1, ts - t0 + 10, 300, 20, 101, 0), 0);
	/* the same statements on another thread, not nested: no effect on thread 7's pair */
	EXPECT_EQ(exec_rec(8, ts + 10, 2, 5, 5, 1, 101, 0), 0);
	EXPECT_EQ(agg_sql_finish(&a, &tr), 0);
	const struct sql_finding *f = finding(SQL_F_NPLUS1, 2);
	EXPECT(f && f->nested);
	const struct sql_stmt *in = stmt(2);
	EXPECT_EQ(in->np_nested, 20);
	EXPECT_EQ(in->np_outer_execs, 1);
	EXPECT_EQ(in->np_outer_rows, 20);
	EXPECT_EQ(a.stmts.v[in->np_outer - 1].sql, 1);
	EXPECT(!finding(SQL_F_NPLUS1, 1));
}

/* outer (sql 3) fetched first (12 rows), then inner (sql 4) 12 times in a row. */
TEST(burst_nplus1)
{
	setup();
	uint64_t ts = 5000;
	EXPECT_EQ(exec_rec(1, ts, 3, 100, 90, 12, 101, 0), 0);
	for (int i = 0; i < 12; i++) {
		ts += 200;
		EXPECT_EQ(exec_rec(1, ts, 4, 50, 30, 1, 101, 0), 0);
		if (i == 5) /* another statement in between does not break the burst */
			EXPECT_EQ(exec_rec(1, ts + 10, 9, 5, 5, 0, 101, 0), 0);
	}
	/* a statement returning no rows repeated is not N+1 */
	for (int i = 0; i < 30; i++)
		EXPECT_EQ(exec_rec(1, ts += 100, 6, 10, 10, 0, 101, 0), 0);
	/* 9 in a row is not a burst */
	for (int i = 0; i < 9; i++)
		EXPECT_EQ(exec_rec(1, ts += 100, 10, 10, 10, 1, 101, 0), 0);
	EXPECT_EQ(agg_sql_finish(&a, &tr), 0);
	const struct sql_finding *f = finding(SQL_F_NPLUS1, 4);
	EXPECT(f && !f->nested);
	const struct sql_stmt *s = stmt(4);
	EXPECT_EQ(s->burst_max, 12);
	EXPECT_EQ(s->bursts, 1);
	EXPECT_EQ(a.stmts.v[s->burst_prev - 1].sql, 3);
	EXPECT_EQ(s->burst_prev_rows, 12);
	EXPECT(!finding(SQL_F_NPLUS1, 6));
	EXPECT(!finding(SQL_F_NPLUS1, 10));
}

TEST(scan_churn_busy)
{
	setup();
	uint64_t ts = 1000;
	for (int i = 0; i < 3; i++) /* 999 full-scan steps each */
		EXPECT_EQ(exec_rec(1, ts += 1000, 11, 500, 500, 0, 101, 999), 0);
	EXPECT_EQ(exec_rec(1, ts += 1000, 12, 500, 500, 0, 101, 999), 0); /* only once */
	for (int i = 0; i < 2; i++) /* scans only sometimes */
		EXPECT_EQ(exec_rec(1, ts += 1000, 13, 500, 500, 0, 101, i ? 999 : 0), 0);
	for (int i = 0; i < 10; i++) {
		EXPECT_EQ(prepare_rec(1, ts += 100, 14, 70), 0);
		EXPECT_EQ(exec_rec(1, ts += 100, 14, 10, 10, 0, 101, 0), 0);
	}
	EXPECT_EQ(exec_rec(1, ts += 100, 15, 10, 10, 0, 5, 0), 0);	   /* SQLITE_BUSY */
	EXPECT_EQ(exec_rec(1, ts += 100, 15, 10, 10, 0, 0x106, 0), 0); /* extended LOCKED */
	EXPECT_EQ(agg_sql_finish(&a, &tr), 0);
	EXPECT(finding(SQL_F_FULL_SCAN, 11));
	EXPECT(!finding(SQL_F_FULL_SCAN, 12));
	EXPECT(!finding(SQL_F_FULL_SCAN, 13));
	const struct sql_finding *f = finding(SQL_F_REPREPARE, 14);
	EXPECT(f && f->cost_ns == 700);
	EXPECT_EQ(stmt(15)->busy, 2);
	EXPECT_EQ(stmt(15)->errors, 2);
	EXPECT(finding(SQL_F_LOCK_WAIT, 15));
	/* sorted by total time, then findings by cost */
	for (size_t i = 1; i < a.stmts.n; i++)
		EXPECT(a.stmts.v[a.order[i - 1]].total >= a.stmts.v[a.order[i]].total);
	for (size_t i = 1; i < a.findings.n; i++)
		EXPECT(a.findings.v[i - 1].cost_ns >= a.findings.v[i].cost_ns);
}

TEST(malformed)
{
	setup();
	uint8_t buf[64];
	struct ord_event e = {.type = ITF_EV_SQL_EXEC, .tid = 1, .ts = 5, .payload = buf};
	e.payload_len = 3; /* three fields of seventeen */
	buf[0] = buf[1] = buf[2] = 1;
	EXPECT_EQ(agg_sql_event(&a, &e), AZ_ECORRUPT);
	uint8_t *p = itf_put_u(buf, (uint64_t)1 << 40); /* an id beyond 32 bits */
	for (int i = 0; i < 16; i++)
		p = itf_put_u(p, 1);
	e.payload_len = (uint32_t)(p - buf);
	EXPECT_EQ(agg_sql_event(&a, &e), AZ_ECORRUPT);
	e.payload_len = 0;
	e.payload = NULL;
	for (uint8_t t = ITF_EV_SQL_EXEC; t <= ITF_EV_SQL_STATS; t++) {
		e.type = t;
		EXPECT_EQ(agg_sql_event(&a, &e), AZ_ECORRUPT);
	}
	e.type = 0x27; /* unknown SQL type: ignored */
	EXPECT_EQ(agg_sql_event(&a, &e), 0);

	/* random payloads: errors or nothing; the finish copes with whatever was accepted */
	unsigned seed = 3;
	uint8_t rnd[48];
	for (int i = 0; i < 200000; i++) {
		e.type = (uint8_t)(ITF_EV_SQL_EXEC + rand_r(&seed) % 5);
		e.tid = (uint32_t)(rand_r(&seed) % 3);
		e.ts = (uint64_t)rand_r(&seed) * (uint64_t)rand_r(&seed);
		e.payload_len = (uint32_t)(rand_r(&seed) % sizeof(rnd));
		for (uint32_t k = 0; k < e.payload_len; k++)
			rnd[k] = (uint8_t)(rand_r(&seed) & (k % 3 ? 0x7f : 0xff));
		e.payload = rnd;
		int rc = agg_sql_event(&a, &e);
		EXPECT(rc == 0 || rc == AZ_ECORRUPT);
	}
	EXPECT_EQ(agg_sql_finish(&a, &tr), 0);
}

int main(void)
{
	RUN(totals_and_percentiles);
	RUN(nested_nplus1);
	RUN(burst_nplus1);
	RUN(scan_churn_busy);
	RUN(malformed);
	agg_sql_free(&a);
	return TEST_EXIT();
}
