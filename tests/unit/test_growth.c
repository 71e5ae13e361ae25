/* test_growth.c - the growth analysis (analyzer/agg_growth.c): least squares and verdicts
 * on series whose answer is known (a steady leak, one step, a level with noise, a wander,
 * too few points); snapshot records built by hand (full and delta snapshots, a site that
 * disappears from a full one, a snapshot cut short, --between's nearest snapshots); the
 * whole-run totals that replace agg_alloc's; and malformed records, which must give
 * AZ_ECORRUPT and never a crash. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "agg_growth.h"
#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

#define NEAR(a, b, tol) EXPECT(fabs((double)(a) - (double)(b)) <= (tol))

static uint64_t lcg = 12345;
static double noise(void) /* uniform in [-1, 1), deterministic */
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(lcg >> 11) * 0x1.0p-52 - 1.0;
}

TEST(fit_exact_line)
{
	double x[20], y[20], slope, r2, se;
	for (int i = 0; i < 20; i++) {
		x[i] = i;
		y[i] = 1000 + 250 * i;
	}
	gr_fit(x, y, NULL, 20, &slope, &r2, &se);
	NEAR(slope, 250, 1e-9);
	NEAR(r2, 1, 1e-12);
	NEAR(se, 0, 1e-6);
	for (int i = 0; i < 20; i++)
		y[i] = 777; /* a flat line fits a constant exactly */
	gr_fit(x, y, NULL, 20, &slope, &r2, &se);
	NEAR(slope, 0, 1e-12);
	NEAR(r2, 1, 1e-12);
}

TEST(judge_known_series)
{
	double x[40], y[40], slope, r2;
	for (int i = 0; i < 40; i++)
		x[i] = 0.5 * i;
	/* a leak of 100 kB/s with a little noise on top */
	for (int i = 0; i < 40; i++)
		y[i] = 100000.0 * x[i] + 2000 * noise();
	EXPECT_EQ(gr_judge(x, y, NULL, 20, 40, &slope, &r2), GR_GROWING);
	NEAR(slope, 100000, 2000);
	/* one step up in the middle of the window: not steady growth */
	for (int i = 0; i < 40; i++)
		y[i] = i < 30 ? 1e6 : 1.5e6;
	EXPECT(gr_judge(x, y, NULL, 20, 40, &slope, &r2) != GR_GROWING);
	/* a cache at 2 MB whose size wanders by a percent */
	for (int i = 0; i < 40; i++)
		y[i] = 2e6 + 20000 * noise();
	EXPECT_EQ(gr_judge(x, y, NULL, 20, 40, &slope, &r2), GR_PLATEAU);
	/* ... even when the wander happens to point up: a gain under 2% is not growth */
	for (int i = 0; i < 40; i++)
		y[i] = 2e6 + 1500.0 * i + 200 * noise();
	EXPECT_EQ(gr_judge(x, y, NULL, 20, 40, &slope, &r2), GR_PLATEAU);
	/* a cache filling up in the first half, level in the second: a plateau */
	for (int i = 0; i < 40; i++)
		y[i] = i < 15 ? 1e5 * i : 1.5e6;
	EXPECT_EQ(gr_judge(x, y, NULL, 20, 40, &slope, &r2), GR_PLATEAU);
	NEAR(slope, 0, 1e-6);
	/* churn: anything from nothing to a lot, no trend */
	for (int i = 0; i < 40; i++)
		y[i] = 5e5 * (1 + noise());
	EXPECT_EQ(gr_judge(x, y, NULL, 20, 40, &slope, &r2), GR_NOISE);
	/* three points cannot be called */
	EXPECT_EQ(gr_judge(x, y, NULL, 37, 40, &slope, &r2), GR_NOISE);
}

/* ---- records built by hand ------------------------------------------------------------------ */

struct site_v {
	uint32_t stack;
	uint64_t alloc, frees, bytes, lc, lb;
};

static struct trace tr;
static struct agg_growth g;
static struct agg_alloc al;

static void setup(bool between, uint64_t t1, uint64_t t2)
{
	tr_free(&tr);
	tr_init(&tr, "test");
	tr.have_header = true;
	tr.hdr.clock = ITF_CLOCK_MONOTONIC;
	tr.hdr.clock_hz = 1e9;
	tr.hdr.start_ts = 0;
	tr.hdr.malloc_mode = ITF_MALLOC_SUMMARY;
	tr_finish_clock(&tr);
	agg_growth_free(&g);
	agg_alloc_free(&al);
	agg_alloc_init(&al);
	memset(&g, 0, sizeof(g));
	g.tr = &tr;
	g.alloc = &al;
	g.between = between;
	g.t1_ns = t1;
	g.t2_ns = t2;
	EXPECT_EQ(agg_growth_init(&g), 0);
}

/* snapshot() : feed one snapshot at t seconds: its SNAPSHOT record, then the sites in
 * SNAP_SITES records of at most per_rec entries; announce = n_sites to claim (n normally). */
static int snapshot(double t, uint64_t seq, unsigned flags, const struct site_v *s, size_t n,
		    size_t per_rec, size_t announce)
{
	uint8_t buf[4096], *p = buf;
	uint64_t tot[8] = {0};
	for (size_t i = 0; i < n; i++) {
		tot[0] += s[i].alloc;
		tot[1] += s[i].frees;
		tot[2] += s[i].bytes;
		tot[3] += s[i].bytes - s[i].lb;
		tot[4] += s[i].lc;
		tot[5] += s[i].lb;
	}
	p = itf_put_u(p, (uint64_t)(t * 1e9));
	p = itf_put_u(p, seq);
	p = itf_put_u(p, flags);
	p = itf_put_u(p, 500000000);
	p = itf_put_u(p, announce);
	for (int i = 0; i < 8; i++)
		p = itf_put_u(p, tot[i]);
	int rc = agg_growth_meta(&g, ITF_META_SNAPSHOT, buf, (size_t)(p - buf));
	for (size_t i = 0; !rc && i < n; i += per_rec) {
		size_t m = n - i < per_rec ? n - i : per_rec;
		uint32_t prev = 0;
		p = buf;
		p = itf_put_u(p, seq);
		p = itf_put_u(p, m);
		for (size_t j = i; j < i + m; j++) {
			p = itf_put_u(p, s[j].stack - prev);
			prev = s[j].stack;
			p = itf_put_u(p, s[j].alloc);
			p = itf_put_u(p, s[j].frees);
			p = itf_put_u(p, s[j].bytes);
			p = itf_put_u(p, s[j].lc);
			p = itf_put_u(p, s[j].lb);
		}
		rc = agg_growth_meta(&g, ITF_META_SNAP_SITES, buf, (size_t)(p - buf));
	}
	return rc;
}

static const struct gr_site_out *out_site(uint32_t stack)
{
	for (size_t i = 0; i < g.out.n; i++)
		if (g.out.v[i].stack == stack)
			return &g.out.v[i];
	return NULL;
}

TEST(snapshots_series_and_verdicts)
{
	setup(true, 5000000000ull, UINT64_MAX);
	/* site 3 leaks 1000 B per 0.5 s; site 7 holds 4096 B from the start; site 9 exists only
	 * in the first full snapshot and is gone by the next full one. Deltas list only what
	 * changed. */
	for (uint64_t k = 0; k <= 40; k++) {
		struct site_v s[3];
		size_t n = 0;
		unsigned flags = k == 0 || k == 20 ? ITF_SNAP_FULL : 0;
		s[n++] = (struct site_v){3, k, 0, 1000 * k, k, 1000 * k};
		if (flags)
			s[n++] = (struct site_v){7, 1, 0, 4096, 1, 4096};
		if (k == 0)
			s[n++] = (struct site_v){9, 2, 0, 64, 2, 64};
		EXPECT_EQ(snapshot(0.5 * (double)k, k, flags, s, n, 2, n), 0);
	}
	EXPECT_EQ(agg_growth_finish(&g, &tr), 0);
	EXPECT(g.present);
	EXPECT_EQ(g.snapshots, 41);
	EXPECT_EQ(g.n_points, 41);
	EXPECT_EQ(g.incomplete, 0);
	const struct gr_site_out *leak = out_site(3), *hold = out_site(7), *gone = out_site(9);
	EXPECT(leak && hold && gone);
	if (!leak || !hold || !gone)
		return;
	EXPECT_EQ(g.out.v[0].stack, 3); /* sorted by rate */
	EXPECT_EQ(leak->verdict, GR_GROWING);
	NEAR(leak->bytes_per_s, 2000, 1e-6);
	NEAR(leak->fit, 1, 1e-9);
	EXPECT_EQ(leak->live_bytes, 40000);
	EXPECT_EQ(hold->verdict, GR_PLATEAU);
	EXPECT_EQ(gone->live_bytes, 0); /* the full snapshot at k = 20 did not list it */
	NEAR(gone->series[19], 64, 1e-9);
	NEAR(gone->series[20], 0, 1e-9);
	NEAR(g.total[40], 40000 + 4096, 1e-6);
	/* --between 5 s and the end: nearest snapshots at 5.0 s and 20 s */
	EXPECT_EQ(g.from_ns, 5000000000ull);
	EXPECT_EQ(g.to_ns, 20000000000ull);
	EXPECT_EQ(leak->from_bytes, 10000);
	EXPECT_EQ(leak->to_bytes, 40000);
	EXPECT(g.by_delta.n >= 2);
	EXPECT_EQ(g.out.v[g.by_delta.v[0]].stack, 3); /* grew the most */
	/* whole-run figures from the newest snapshot */
	EXPECT(agg_growth_rules(&g, &tr));
	EXPECT_EQ(agg_growth_apply(&g, &al, &tr), 0);
	EXPECT_EQ(al.allocations, 40); /* the newest SNAPSHOT record's totals (its sites') */
	EXPECT_EQ(al.live_bytes, 40000);
	struct alloc_site *as = hmap_get(&al.sites, 3);
	EXPECT(as && as->live_count == 40 && as->bytes == 40000);
}

TEST(snapshots_long_run_keeps_bounded_points)
{
	setup(false, 0, 0);
	for (uint64_t k = 0; k < 5000; k++) {
		struct site_v s = {1, k, 0, 10 * k, k, 10 * k};
		EXPECT_EQ(snapshot((double)k, k, k ? 0 : ITF_SNAP_FULL, &s, 1, 8, 1), 0);
	}
	EXPECT_EQ(agg_growth_finish(&g, &tr), 0);
	EXPECT(g.n_points <= GR_POINTS && g.n_points >= GR_POINTS / 2);
	EXPECT(g.out.n == 1 && g.out.v[0].verdict == GR_GROWING);
	if (g.out.n)
		NEAR(g.out.v[0].bytes_per_s, 10, 1e-6);
	/* the fit window is the second half of the run */
	NEAR((double)g.window_ns * 1e-9, 2500, 60);
}

TEST(snapshot_cut_short_is_left_out)
{
	setup(false, 0, 0);
	struct site_v a[2] = {{1, 1, 0, 100, 1, 100}, {2, 1, 0, 50, 1, 50}};
	EXPECT_EQ(snapshot(0, 0, ITF_SNAP_FULL, a, 2, 2, 2), 0);
	/* announces 2 sites, delivers 1: the next SNAPSHOT drops it */
	struct site_v b[1] = {{1, 9, 0, 900, 9, 900}};
	EXPECT_EQ(snapshot(1, 1, 0, b, 1, 1, 2), 0);
	struct site_v c[1] = {{2, 2, 0, 100, 2, 100}};
	EXPECT_EQ(snapshot(2, 2, 0, c, 1, 1, 1), 0);
	EXPECT_EQ(agg_growth_finish(&g, &tr), 0);
	EXPECT_EQ(g.snapshots, 2);
	EXPECT_EQ(g.incomplete, 1);
	const struct gr_site_out *s1 = out_site(1);
	EXPECT(s1 && s1->live_bytes == 100); /* the 900 was never committed */
}

TEST(malformed_records)
{
	uint8_t buf[64], *p;
	setup(false, 0, 0);
	/* truncated SNAPSHOT */
	p = buf;
	p = itf_put_u(p, 5);
	EXPECT_EQ(agg_growth_meta(&g, ITF_META_SNAPSHOT, buf, (size_t)(p - buf)), AZ_ECORRUPT);
	az_error_clear();
	/* sites out of order within a record */
	struct site_v a[2] = {{4, 1, 0, 1, 1, 1}, {4, 1, 0, 1, 1, 1}};
	EXPECT_EQ(snapshot(0, 0, ITF_SNAP_FULL, a, 2, 2, 2), AZ_ECORRUPT);
	az_error_clear();
	/* more sites than announced */
	setup(false, 0, 0);
	struct site_v b[2] = {{1, 1, 0, 1, 1, 1}, {2, 1, 0, 1, 1, 1}};
	EXPECT_EQ(snapshot(0, 0, ITF_SNAP_FULL, b, 2, 2, 1), AZ_ECORRUPT);
	az_error_clear();
	/* an absurd site count is refused before anything is allocated for it */
	setup(false, 0, 0);
	p = buf;
	for (int i = 0; i < 4; i++)
		p = itf_put_u(p, 1);
	p = itf_put_u(p, UINT64_MAX);
	for (int i = 0; i < 8; i++)
		p = itf_put_u(p, 0);
	EXPECT_EQ(agg_growth_meta(&g, ITF_META_SNAPSHOT, buf, (size_t)(p - buf)), AZ_ECORRUPT);
	az_error_clear();
	/* SNAP_SITES without its SNAPSHOT (dropped with an older chunk): ignored */
	setup(false, 0, 0);
	p = buf;
	p = itf_put_u(p, 77);
	p = itf_put_u(p, 1);
	for (int i = 0; i < 6; i++)
		p = itf_put_u(p, 1);
	EXPECT_EQ(agg_growth_meta(&g, ITF_META_SNAP_SITES, buf, (size_t)(p - buf)), 0);
	EXPECT_EQ(agg_growth_finish(&g, &tr), 0);
	EXPECT(!g.present);
}

/* random bytes as snapshot records, and real records with bytes flipped: errors or
 * nothing, never a crash or a read past the payload (ASan run) */
TEST(random_payloads)
{
	setup(true, 1000, 5000);
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)(noise() * 20 + 20);
		uint8_t *buf = malloc(len ? len : 1);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)(noise() * 128 + 128);
		if (len > 2 && i % 3 == 0)
			buf[0] = (uint8_t)(i % 5), buf[1] = 1; /* small seqs and counts */
		int rc = agg_growth_meta(&g, i % 2 ? ITF_META_SNAPSHOT : ITF_META_SNAP_SITES, buf,
					 len);
		EXPECT(rc == 0 || rc == AZ_ECORRUPT || rc == AZ_ENOMEM);
		az_error_clear();
		free(buf);
	}
	EXPECT_EQ(agg_growth_finish(&g, &tr), 0);
}

int main(void)
{
	RUN(fit_exact_line);
	RUN(judge_known_series);
	RUN(snapshots_series_and_verdicts);
	RUN(snapshots_long_run_keeps_bounded_points);
	RUN(snapshot_cut_short_is_left_out);
	RUN(malformed_records);
	RUN(random_payloads);
	agg_growth_free(&g);
	agg_alloc_free(&al);
	tr_free(&tr);
	return TEST_EXIT();
}
