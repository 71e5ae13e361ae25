/* test_agg_alloc.c - the live-heap series of agg_alloc.c (alloc_series): bounded to
 * ALLOC_SERIES_MAX buckets however long the run, the peak survives every merge exactly,
 * the last bucket ends at what is still live, a bucket's maximum includes the level it
 * started at, and late events land in bucket 0. Events are fed as order.c would. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "agg_alloc.h"
#include "harness.h"
#include "intercept/trace_format.h"

static void ev(struct agg_alloc *a, uint8_t type, uint64_t ts, uint64_t ptr, uint64_t size)
{
	struct ord_event e = {.type = type, .tid = 1, .stack = 1, .ts = ts, .ptr = ptr,
			      .size = size};
	EXPECT_EQ(agg_alloc_event(a, &e), 0);
}

static uint64_t series_max(const struct agg_alloc *a)
{
	uint64_t m = 0;
	for (uint32_t i = 0; i < a->series.n; i++)
		if (a->series.b[i].max_bytes > m)
			m = a->series.b[i].max_bytes;
	return m;
}

static uint64_t series_events(const struct agg_alloc *a)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < a->series.n; i++)
		n += a->series.b[i].events;
	return n;
}

TEST(short_run)
{
	struct agg_alloc a;
	EXPECT_EQ(agg_alloc_init(&a), 0);
	ev(&a, ITF_EV_ALLOC, 1000, 0x1000, 100);
	ev(&a, ITF_EV_ALLOC, 1010, 0x2000, 50);
	ev(&a, ITF_EV_FREE, 1020, 0x1000, 0);
	EXPECT_EQ(a.series.t0, 1000);
	EXPECT_EQ(a.series.shift, 0);
	EXPECT_EQ(a.series.n, 21);
	EXPECT_EQ(series_max(&a), 150);
	EXPECT_EQ(a.series.b[a.series.n - 1].end_bytes, 50);
	EXPECT_EQ(a.series.b[a.series.n - 1].end_count, 1);
	EXPECT_EQ(a.series.b[5].events, 0); /* nothing happened there */
	EXPECT_EQ(series_events(&a), 3);
	agg_alloc_free(&a);
}

/* A long run with one short spike in the middle: many merges, the spike is kept. */
TEST(long_run_keeps_the_peak)
{
	struct agg_alloc a;
	EXPECT_EQ(agg_alloc_init(&a), 0);
	uint64_t ts = 5, live = 0, peak = 0;
	for (uint64_t i = 0; i < 200000; i++) {
		ts += 1 + (i % 7) * 1000003; /* ~10^12 ticks in all */
		uint64_t p = 0x10000 + i * 64;
		ev(&a, ITF_EV_ALLOC, ts, p, 32 + i % 5);
		live += 32 + i % 5;
		if (i == 123457) { /* the spike: 1 MiB for one tick */
			ev(&a, ITF_EV_ALLOC, ts + 1, 0x900000000, 1 << 20);
			if (live + (1 << 20) > peak)
				peak = live + (1 << 20);
			ev(&a, ITF_EV_FREE, ts + 2, 0x900000000, 0);
		}
		if (i % 3) { /* free two of three */
			ev(&a, ITF_EV_FREE, ts + 3, p, 0);
			live -= 32 + i % 5;
		}
		if (live > peak)
			peak = live;
	}
	EXPECT(a.series.n <= ALLOC_SERIES_MAX);
	EXPECT(a.series.n > ALLOC_SERIES_MAX / 2); /* merging halves, so at least half used */
	EXPECT(a.series.shift > 20);
	EXPECT_EQ(a.peak_bytes, peak);
	EXPECT_EQ(series_max(&a), a.peak_bytes);
	EXPECT_EQ(a.series.b[a.series.n - 1].end_bytes, a.live_bytes);
	EXPECT_EQ(a.live_bytes, live);
	EXPECT_EQ(series_events(&a), a.allocations + a.frees);
	agg_alloc_free(&a);
}

/* A bucket that only frees still shows the level it started at. */
TEST(bucket_max_includes_the_carried_level)
{
	struct agg_alloc a;
	EXPECT_EQ(agg_alloc_init(&a), 0);
	ev(&a, ITF_EV_ALLOC, 100, 0x1000, 4096);
	ev(&a, ITF_EV_FREE, 600, 0x1000, 0);
	EXPECT_EQ(a.series.b[500].max_bytes, 4096);
	EXPECT_EQ(a.series.b[500].end_bytes, 0);
	/* a late event (older than the first) counts in bucket 0 */
	ev(&a, ITF_EV_ALLOC, 50, 0x3000, 8);
	EXPECT_EQ(a.series.b[0].events, 2);
	EXPECT_EQ(a.series.n, 501);
	agg_alloc_free(&a);
}

int main(void)
{
	RUN(short_run);
	RUN(long_run_keeps_the_peak);
	RUN(bucket_max_includes_the_carried_level);
	return TEST_EXIT();
}
