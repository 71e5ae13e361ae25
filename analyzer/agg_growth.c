/* agg_growth.c - owns the growth analysis (agg_growth.h, docs/endurance.md): reading heap
 * snapshots (SNAPSHOT / SNAP_SITES, trace_format.h), or sampling agg_alloc's per-site live
 * bytes from the event stream when a trace has none, into per-site series of at most
 * GR_POINTS points whose resolution halves as the run gets longer (memory: one point array
 * per site that ever held memory, whatever the length of the run); then least-squares
 * growth rates, verdicts, --between, and the whole-run totals the snapshots carry.
 * Main thread only. Snapshot records are untrusted input: every field is bounds-checked. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_growth.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

#define GR_MAX_SITES_PER_SNAPSHOT (1u << 26) /* more than any stack table holds */
#define GR_EVENT_PERIOD_NS	  10000000.0 /* event mode: first sampling period, 10 ms */
#define GR_MAX_CATCHUP		  256	     /* event mode: samples taken for one event */

struct gr_site {
	uint32_t stack;
	uint64_t v[5];	   /* newest: allocations, frees, bytes, live count, live bytes */
	uint64_t max_live; /* the most live bytes any snapshot showed */
	double cur;	   /* live bytes since sample `since` */
	uint64_t since;
	double *sum;		 /* GR_POINTS sums of cur over each point's samples, or NULL */
	uint64_t epoch;		 /* the last full snapshot that listed it */
	uint64_t at1[2], at2[2]; /* --between: bytes and blocks at T1, T2 */
};

static const char *const verdict_names[] = {"noise", "plateau", "growing"};

const char *gr_verdict_name(enum gr_verdict v)
{
	return (unsigned)v < 3 ? verdict_names[v] : "noise";
}

int agg_growth_init(struct agg_growth *g)
{
	const struct trace *tr = g->tr;
	const struct agg_alloc *a = g->alloc;
	bool between = g->between;
	uint64_t t1 = g->t1_ns, t2 = g->t2_ns;
	memset(g, 0, sizeof(*g));
	g->tr = tr;
	g->alloc = a;
	g->between = between;
	g->t1_ns = t1;
	g->t2_ns = t2;
	g->width = 1;
	if (hmap_init(&g->index, sizeof(uint32_t), 256))
		return az_error(AZ_ENOMEM, "out of memory");
	return 0;
}

static void drop_series(struct agg_growth *g)
{
	for (size_t i = 0; i < g->sites.n; i++)
		free(g->sites.v[i].sum);
	VEC_FREE(g->sites);
	hmap_free(&g->index);
}

void agg_growth_free(struct agg_growth *g)
{
	drop_series(g);
	VEC_FREE(g->pend.ent);
	for (size_t i = 0; i < g->out.n; i++)
		free(g->out.v[i].series);
	VEC_FREE(g->out);
	VEC_FREE(g->by_delta);
	free(g->t_ns);
	free(g->total);
	g->t_ns = NULL;
	g->total = NULL;
}

/* site_at() : the site for stack, created on first sight. @return its index, or -1 when out
 * of memory (message set). Indexes stay valid; pointers into sites do not (it grows). */
static long site_at(struct agg_growth *g, uint32_t stack)
{
	bool is_new;
	uint32_t *ix = hmap_put(&g->index, stack, &is_new);
	if (!ix) {
		az_error(AZ_ENOMEM, "out of memory (growth sites)");
		return -1;
	}
	if (!is_new)
		return *ix;
	struct gr_site s = {.stack = stack, .since = g->n_samples};
	if (VEC_PUSH(g->sites, s)) {
		hmap_del(&g->index, stack);
		az_error(AZ_ENOMEM, "out of memory (growth sites)");
		return -1;
	}
	*ix = (uint32_t)(g->sites.n - 1);
	return *ix;
}

/* ---- series ------------------------------------------------------------------------------ */

/* span_add() : site s held value v over samples [a, b): add it to the points they fall in. */
static int span_add(struct agg_growth *g, struct gr_site *s, uint64_t a, uint64_t b, double v)
{
	if (v == 0 || a >= b)
		return 0;
	if (!s->sum && !(s->sum = xcalloc(GR_POINTS, sizeof(double))))
		return az_error(AZ_ENOMEM, "out of memory (growth series)");
	uint64_t w = g->width;
	for (uint64_t j = a / w; j <= (b - 1) / w && j < GR_POINTS; j++) {
		uint64_t lo = a > j * w ? a : j * w, hi = b < (j + 1) * w ? b : (j + 1) * w;
		s->sum[j] += v * (double)(hi - lo);
	}
	return 0;
}

/* set_value() : from the sample being taken on, site s holds bytes. */
static int set_value(struct agg_growth *g, struct gr_site *s, double bytes)
{
	if (bytes == s->cur)
		return 0;
	int rc = span_add(g, s, s->since, g->n_samples, s->cur);
	s->cur = bytes;
	s->since = g->n_samples;
	return rc;
}

/* halve() : merge points pairwise: twice the samples per point from now on. */
static void halve(struct agg_growth *g)
{
	for (unsigned j = 0; j < GR_POINTS / 2; j++) {
		g->tsum[j] = g->tsum[2 * j] + g->tsum[2 * j + 1];
		g->tn[j] = g->tn[2 * j] + g->tn[2 * j + 1];
	}
	memset(g->tsum + GR_POINTS / 2, 0, sizeof(g->tsum) / 2);
	memset(g->tn + GR_POINTS / 2, 0, sizeof(g->tn) / 2);
	for (size_t i = 0; i < g->sites.n; i++) {
		double *sum = g->sites.v[i].sum;
		if (!sum)
			continue;
		for (unsigned j = 0; j < GR_POINTS / 2; j++)
			sum[j] = sum[2 * j] + sum[2 * j + 1];
		memset(sum + GR_POINTS / 2, 0, GR_POINTS / 2 * sizeof(double));
	}
	g->width *= 2;
	if (g->mode == 1)
		g->period_ticks *= 2;
}

static void sample_begin(struct agg_growth *g)
{
	if (g->n_samples / g->width >= GR_POINTS)
		halve(g);
}

static void sample_end(struct agg_growth *g, uint64_t ts)
{
	uint64_t j = g->n_samples / g->width;
	g->tsum[j] += (double)ts - (double)g->tr->hdr.start_ts;
	g->tn[j]++;
	g->n_samples++;
}

/* stream_ns() : ts as ns since the start while the trace is still being read (the final
 * clock fit is not known yet): through the newest CLOCK_SYNC pair, at the rate between the
 * first and the newest pair (the header's nominal rate until they span a second). */
static uint64_t stream_ns(const struct agg_growth *g, uint64_t ts)
{
	const struct trace *t = g->tr;
	double npt = t->hdr.clock == ITF_CLOCK_MONOTONIC ? 1.0
		     : t->hdr.clock_hz > 0		 ? 1e9 / t->hdr.clock_hz
							 : 1.0;
	double ns;
	if (t->syncs.n) {
		const struct tr_sync *a = &t->syncs.v[0], *b = &t->syncs.v[t->syncs.n - 1];
		if (b->ts > a->ts && b->mono - a->mono >= 1000000000u &&
		    t->hdr.clock != ITF_CLOCK_MONOTONIC)
			npt = (double)(b->mono - a->mono) / (double)(b->ts - a->ts);
		ns = (double)b->mono + ((double)ts - (double)b->ts) * npt -
		     (double)t->hdr.start_mono_ns;
	} else {
		ns = ((double)ts - (double)t->hdr.start_ts) * npt;
	}
	return ns > 0 ? (uint64_t)ns : 0;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

#define GETU(p, end, out)                                                                          \
	RETURN_ERR_IF(itf_get_u(&(p), (end), (out)), AZ_ECORRUPT, "%s: snapshot record truncated", \
		      g->tr->path)

/* take_at() : is the snapshot at ns the one to use for --between's moment t (so far)? The
 * nearest snapshot to t wins: every one up to t in turn, then the first one after t if it
 * is nearer than the last one before. *near tracks it: 0 none yet, else ns + 1 of the one
 * taken, UINT64_MAX once decided. */
static bool take_at(const struct agg_growth *g, uint64_t ns, uint64_t t, uint64_t *near)
{
	if (!g->between || *near == UINT64_MAX)
		return false;
	if (ns <= t) {
		*near = ns + 1;
		return true;
	}
	bool nearer = !*near || ns - t < t - (*near - 1);
	*near = UINT64_MAX;
	return nearer;
}

static int commit(struct agg_growth *g)
{
	g->pend.open = false;
	bool full = g->pend.flags & ITF_SNAP_FULL;
	if (g->snapshots && g->pend.seq <= g->last_seq)
		return 0; /* seen already (not written that way, but harmless) */
	if (!full && !g->have_full && g->tr->missing_chunks) {
		g->skipped++; /* only changes, and what they changed from was dropped */
		return 0;
	}
	if (g->mode == 1) {
		/* snapshots after events were sampled: the snapshots win */
		drop_series(g);
		if (hmap_init(&g->index, sizeof(uint32_t), 256))
			return az_error(AZ_ENOMEM, "out of memory");
		g->n_samples = 0;
		g->width = 1;
		memset(g->tsum, 0, sizeof(g->tsum));
		memset(g->tn, 0, sizeof(g->tn));
	}
	g->mode = 2;
	/* The snapshot written at exit shows the program after its own teardown (caches
	 * freed, pools released): it gives the figures at the end, but is not a point of the
	 * series, which describes the run while it ran (unless there is hardly any other). */
	bool as_sample = !(g->pend.flags & ITF_SNAP_FINAL) || g->n_samples < 2;
	if (as_sample)
		sample_begin(g);
	uint64_t ns = stream_ns(g, g->pend.ts);
	bool in1 = take_at(g, ns, g->t1_ns, &g->near1), in2 = take_at(g, ns, g->t2_ns, &g->near2);
	if (full)
		g->epoch++;
	for (size_t i = 0; i < g->pend.ent.n; i++) {
		long ix = site_at(g, g->pend.ent.v[i].stack);
		if (ix < 0)
			return AZ_ENOMEM;
		struct gr_site *s = &g->sites.v[ix];
		memcpy(s->v, g->pend.ent.v[i].v, sizeof(s->v));
		s->epoch = g->epoch;
		if (s->v[4] > s->max_live)
			s->max_live = s->v[4];
		if (in1) {
			s->at1[0] = s->v[4];
			s->at1[1] = s->v[3];
		}
		if (in2) {
			s->at2[0] = s->v[4];
			s->at2[1] = s->v[3];
		}
		int rc = set_value(g, s, (double)s->v[4]);
		if (rc)
			return rc;
	}
	if (full) {
		/* a full snapshot lists every site with allocations: the others have none */
		for (size_t i = 0; i < g->sites.n; i++) {
			struct gr_site *s = &g->sites.v[i];
			if (s->epoch == g->epoch)
				continue;
			memset(s->v, 0, sizeof(s->v));
			if (in1)
				memset(s->at1, 0, sizeof(s->at1));
			if (in2)
				memset(s->at2, 0, sizeof(s->at2));
			int rc = set_value(g, s, 0);
			if (rc)
				return rc;
		}
		g->have_full = true;
	}
	if (as_sample)
		sample_end(g, g->pend.ts);
	memcpy(g->totals, g->pend.totals, sizeof(g->totals));
	if (!g->snapshots || g->totals[5] > g->peak_bytes) {
		g->peak_bytes = g->totals[5];
		g->peak_count = g->totals[4];
		g->peak_ts = g->pend.ts;
	}
	if (in1)
		g->at1_ts = g->pend.ts;
	if (in2)
		g->at2_ts = g->pend.ts;
	g->last_ts = g->pend.ts;
	g->last_final = g->pend.flags & ITF_SNAP_FINAL;
	g->last_seq = g->pend.seq;
	g->interval_ns = g->pend.interval_ns;
	g->snapshots++;
	g->site_entries += g->pend.ent.n;
	return 0;
}

static int read_snapshot(struct agg_growth *g, const uint8_t *p, const uint8_t *end)
{
	if (g->pend.open)
		g->incomplete++; /* its SNAP_SITES never all came: cut, or a chunk was dropped */
	g->pend.open = false;
	g->pend.ent.n = 0;
	GETU(p, end, &g->pend.ts);
	GETU(p, end, &g->pend.seq);
	GETU(p, end, &g->pend.flags);
	GETU(p, end, &g->pend.interval_ns);
	GETU(p, end, &g->pend.n);
	for (int i = 0; i < 8; i++)
		GETU(p, end, &g->pend.totals[i]);
	RETURN_ERR_IF(g->pend.n > GR_MAX_SITES_PER_SNAPSHOT, AZ_ECORRUPT,
		      "%s: snapshot %llu lists %llu sites", g->tr->path,
		      (unsigned long long)g->pend.seq, (unsigned long long)g->pend.n);
	g->pend.open = true;
	return g->pend.n ? 0 : commit(g);
}

static int read_sites(struct agg_growth *g, const uint8_t *p, const uint8_t *end)
{
	uint64_t seq, n, stack = 0;
	GETU(p, end, &seq);
	GETU(p, end, &n);
	if (!g->pend.open || seq != g->pend.seq)
		return 0; /* its SNAPSHOT record was dropped with an earlier chunk */
	RETURN_ERR_IF(n > g->pend.n - g->pend.ent.n || n > (uint64_t)(end - p), AZ_ECORRUPT,
		      "%s: snapshot %llu: %llu more sites than announced", g->tr->path,
		      (unsigned long long)seq, (unsigned long long)n);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t d;
		__typeof__(*g->pend.ent.v) e;
		GETU(p, end, &d);
		for (int k = 0; k < 5; k++)
			GETU(p, end, &e.v[k]);
		stack += d;
		RETURN_ERR_IF(stack > UINT32_MAX || (i && d == 0), AZ_ECORRUPT,
			      "%s: snapshot %llu: bad site order", g->tr->path,
			      (unsigned long long)seq);
		e.stack = (uint32_t)stack;
		if (VEC_PUSH(g->pend.ent, e))
			return az_error(AZ_ENOMEM, "out of memory (snapshot)");
	}
	return g->pend.ent.n == g->pend.n ? commit(g) : 0;
}

int agg_growth_meta(struct agg_growth *g, uint8_t type, const uint8_t *payload, size_t len)
{
	if (type != ITF_META_SNAPSHOT && type != ITF_META_SNAP_SITES)
		return 0;
	g->snapshot_bytes += len;
	if (type == ITF_META_SNAPSHOT)
		return read_snapshot(g, payload, payload + len);
	return read_sites(g, payload, payload + len);
}

/* ---- event mode ----------------------------------------------------------------------------- */

/* event_sample() : every site's live bytes now (agg_alloc's, events before this instant),
 * as a sample of the series (as_sample) and/or as the --between state at T1 (at 1) or T2
 * (at 2). */
static int event_sample(struct agg_growth *g, uint64_t ts, bool as_sample, int at)
{
	if (as_sample)
		sample_begin(g);
	size_t it = 0;
	uint64_t key;
	void *val;
	while (hmap_next(&g->alloc->sites, &it, &key, &val)) {
		const struct alloc_site *a = val;
		uint64_t count = a->allocations >= a->frees ? a->allocations - a->frees : 0;
		if (!a->cur_bytes && !count && !hmap_get(&g->index, key))
			continue;
		long ix = site_at(g, (uint32_t)key);
		if (ix < 0)
			return AZ_ENOMEM;
		struct gr_site *s = &g->sites.v[ix];
		s->v[3] = count;
		s->v[4] = a->cur_bytes;
		if (at) {
			uint64_t *dst = at == 1 ? s->at1 : s->at2;
			dst[0] = a->cur_bytes;
			dst[1] = count;
		}
		if (as_sample) {
			if (a->cur_bytes > s->max_live)
				s->max_live = a->cur_bytes;
			int rc = set_value(g, s, (double)a->cur_bytes);
			if (rc)
				return rc;
		}
	}
	if (as_sample)
		sample_end(g, ts);
	return 0;
}

int agg_growth_event(void *ctx, const struct ord_event *e)
{
	struct agg_growth *g = ctx;
	if (g->mode == 2 || !g->alloc)
		return 0;
	if (g->mode == 0) {
		double hz = g->tr->hdr.clock == ITF_CLOCK_MONOTONIC ? 1e9 : g->tr->hdr.clock_hz;
		g->period_ticks = (uint64_t)(GR_EVENT_PERIOD_NS * 1e-9 * (hz > 0 ? hz : 1e9));
		if (!g->period_ticks)
			g->period_ticks = 1;
		g->next_sample = e->ts;
		g->mode = 1;
	}
	if (e->ts > g->last_event_ts)
		g->last_event_ts = e->ts;
	if (g->between && (!g->at1_ts || !g->at2_ts)) {
		/* exact: the state before the first event past T1 (T2) */
		uint64_t ns = stream_ns(g, e->ts);
		if (!g->at1_ts && ns > g->t1_ns) {
			int rc = event_sample(g, e->ts, false, 1);
			if (rc)
				return rc;
			g->at1_ts = e->ts;
			g->at1_exact = true; /* the heap was so from T1 until this event */
		}
		if (!g->at2_ts && g->t2_ns != UINT64_MAX && ns > g->t2_ns) {
			int rc = event_sample(g, e->ts, false, 2);
			if (rc)
				return rc;
			g->at2_ts = e->ts;
			g->at2_exact = true;
		}
	}
	for (int n = 0; e->ts >= g->next_sample; n++) {
		if (n == GR_MAX_CATCHUP) {
			/* a long quiet stretch: the heap did not change in it */
			g->next_sample = e->ts;
		}
		int rc = event_sample(g, g->next_sample, true, 0);
		if (rc)
			return rc;
		g->next_sample += g->period_ticks;
	}
	return 0;
}

/* ---- fitting -------------------------------------------------------------------------------- */

void gr_fit(const double *x, const double *y, const double *w, size_t n, double *slope, double *r2,
	    double *se)
{
	double W = 0, mx = 0, my = 0;
	for (size_t i = 0; i < n; i++) {
		double wi = w ? w[i] : 1;
		W += wi;
		mx += wi * x[i];
		my += wi * y[i];
	}
	*slope = 0;
	*r2 = 0;
	*se = 0;
	if (n < 2 || W <= 0)
		return;
	mx /= W;
	my /= W;
	double sxx = 0, sxy = 0, syy = 0;
	for (size_t i = 0; i < n; i++) {
		double wi = (w ? w[i] : 1) * (double)n / W; /* weights averaging 1 */
		sxx += wi * (x[i] - mx) * (x[i] - mx);
		sxy += wi * (x[i] - mx) * (y[i] - my);
		syy += wi * (y[i] - my) * (y[i] - my);
	}
	if (sxx <= 0)
		return;
	*slope = sxy / sxx;
	/* a constant series is fitted exactly by the flat line */
	*r2 = syy > 1e-12 * (my * my + 1) ? sxy * sxy / (sxx * syy) : 1.0;
	if (*r2 > 1)
		*r2 = 1;
	if (n >= 3) {
		double res = syy - *slope * sxy;
		*se = res > 0 ? sqrt(res / (double)(n - 2) / sxx) : 0;
	}
}

enum gr_verdict gr_judge(const double *x, const double *y, const double *w, size_t from, size_t n,
			 double *slope, double *r2)
{
	double se;
	*slope = 0;
	*r2 = 0;
	if (n < from + 2)
		return GR_NOISE;
	size_t m = n - from;
	gr_fit(x + from, y + from, w ? w + from : NULL, m, slope, r2, &se);
	if (m < 4)
		return GR_NOISE; /* too few points to call anything */
	double lo = y[from], hi = y[from], mean = 0, top = 0;
	for (size_t i = from; i < n; i++) {
		lo = y[i] < lo ? y[i] : lo;
		hi = y[i] > hi ? y[i] : hi;
		mean += y[i] / (double)m;
		top = fabs(y[i]) > top ? fabs(y[i]) : top;
	}
	/* Growth must be steady, not one step: the line explains most of the variation, and
	 * the series rises from point to point more often than it falls, at least 3 times.
	 * And material: over the window the line gains at least 2% of the site's level, or a
	 * level that wanders (a cache whose entries are replaced by others of other sizes)
	 * would be called growing whenever its wandering happens to point up for a while. */
	double gain = *slope * (x[n - 1] - x[from]);
	double eps = 1e-9 * top;
	unsigned up = 0, down = 0;
	for (size_t i = from + 1; i < n; i++) {
		if (y[i] > y[i - 1] + eps)
			up++;
		else if (y[i] < y[i - 1] - eps)
			down++;
	}
	if (*slope > 0 && *r2 >= 0.5 && up >= 3 && up > down && gain >= 0.02 * mean)
		return GR_GROWING;
	if (mean > 0 && hi - lo <= 0.25 * mean)
		return GR_PLATEAU;
	return GR_NOISE;
}

/* ---- results -------------------------------------------------------------------------------- */

static int by_rate(const void *x, const void *y)
{
	const struct gr_site_out *a = x, *b = y;
	if (a->bytes_per_s != b->bytes_per_s)
		return a->bytes_per_s < b->bytes_per_s ? 1 : -1;
	if (a->live_bytes != b->live_bytes)
		return a->live_bytes < b->live_bytes ? 1 : -1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static const struct gr_site_out *sort_base;

static int by_delta(const void *x, const void *y)
{
	const struct gr_site_out *a = &sort_base[*(const uint32_t *)x];
	const struct gr_site_out *b = &sort_base[*(const uint32_t *)y];
	double da = (double)a->to_bytes - (double)a->from_bytes;
	double db = (double)b->to_bytes - (double)b->from_bytes;
	if (da != db)
		return da < db ? 1 : -1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static uint64_t end_ts(const struct agg_growth *g, const struct trace *tr)
{
	uint64_t t = tr->complete ? tr->end_ts : tr->last_ts;
	return t > g->last_event_ts ? t : g->last_event_ts;
}

int agg_growth_finish(struct agg_growth *g, const struct trace *tr)
{
	int rc;
	if (g->mode == 1) {
		/* the state at the end of the trace gives the figures at the end, and is a point
		 * of the series only when there is hardly any other (as in snapshot mode) */
		uint64_t t = end_ts(g, tr);
		if ((rc = event_sample(g, t, g->n_samples < 2, 0)))
			return rc;
		if (g->between && !g->at1_ts) {
			if ((rc = event_sample(g, t, false, 1)))
				return rc;
			g->at1_ts = t;
		}
		if (g->between && !g->at2_ts) {
			if ((rc = event_sample(g, t, false, 2)))
				return rc;
			g->at2_ts = t;
		}
		g->interval_ns = (uint64_t)llround((double)g->period_ticks * tr->ns_per_tick);
	}
	if (!g->n_samples)
		return 0;
	for (size_t i = 0; i < g->sites.n; i++) {
		struct gr_site *s = &g->sites.v[i];
		if ((rc = span_add(g, s, s->since, g->n_samples, s->cur)))
			return rc;
		s->since = g->n_samples;
	}
	uint32_t n = (uint32_t)((g->n_samples + g->width - 1) / g->width);
	double x[GR_POINTS], w[GR_POINTS];
	g->t_ns = xcalloc(n, sizeof(uint64_t));
	g->total = xcalloc(n, sizeof(double));
	if (!g->t_ns || !g->total)
		return az_error(AZ_ENOMEM, "out of memory");
	for (uint32_t j = 0; j < n; j++) {
		double mean = g->tsum[j] / (double)g->tn[j];
		g->t_ns[j] = tr_ns(tr, (uint64_t)llround((double)tr->hdr.start_ts + mean));
		x[j] = (double)g->t_ns[j] * 1e-9;
		w[j] = (double)g->tn[j];
	}
	g->n_points = n;
	/* Fit over the second half of the run, past any start-up phase (a cache filling, a
	 * pool warming): what grows now. Short series are fitted whole. */
	uint32_t from = 0;
	if (n >= 8) {
		uint64_t half = g->t_ns[0] + (g->t_ns[n - 1] - g->t_ns[0]) / 2;
		while (from < n - 4 && g->t_ns[from] < half)
			from++;
	}
	g->window_ns = g->t_ns[from];
	for (size_t i = 0; i < g->sites.n; i++) {
		struct gr_site *s = &g->sites.v[i];
		bool moved = g->between && (s->at1[0] || s->at2[0] || s->at1[1] || s->at2[1]);
		if (!s->sum && !moved)
			continue;
		struct gr_site_out o = {.stack = s->stack};
		o.series = xcalloc(n, sizeof(double));
		if (!o.series || VEC_PUSH(g->out, o)) {
			free(o.series);
			return az_error(AZ_ENOMEM, "out of memory");
		}
		struct gr_site_out *d = &g->out.v[g->out.n - 1];
		for (uint32_t j = 0; j < n; j++) {
			d->series[j] = s->sum ? s->sum[j] / (double)g->tn[j] : 0;
			g->total[j] += d->series[j];
		}
		d->live_bytes = s->v[4];
		d->live_count = s->v[3];
		d->verdict = gr_judge(x, d->series, w, from, n, &d->bytes_per_s, &d->fit);
		d->from_bytes = s->at1[0];
		d->from_count = s->at1[1];
		d->to_bytes = s->at2[0];
		d->to_count = s->at2[1];
	}
	if (g->out.n)
		qsort(g->out.v, g->out.n, sizeof(*g->out.v), by_rate);
	g->present = true;
	if (g->between) {
		for (uint32_t i = 0; i < g->out.n; i++) {
			const struct gr_site_out *o = &g->out.v[i];
			g->from_total += o->from_bytes;
			g->to_total += o->to_bytes;
			if ((o->from_bytes != o->to_bytes || o->from_count != o->to_count) &&
			    VEC_PUSH(g->by_delta, i))
				return az_error(AZ_ENOMEM, "out of memory");
		}
		sort_base = g->out.v;
		if (g->by_delta.n)
			qsort(g->by_delta.v, g->by_delta.n, sizeof(uint32_t), by_delta);
		g->from_ns = g->at1_exact ? g->t1_ns : g->at1_ts ? tr_ns(tr, g->at1_ts) : 0;
		g->to_ns = g->at2_exact ? g->t2_ns : g->at2_ts ? tr_ns(tr, g->at2_ts) : 0;
	}
	return 0;
}

/* ---- the whole run from snapshots ------------------------------------------------------------ */

bool agg_growth_rules(const struct agg_growth *g, const struct trace *tr)
{
	return g->mode == 2 && g->snapshots &&
	       (tr->hdr.malloc_mode == ITF_MALLOC_SUMMARY || tr->hdr.sample_bytes ||
		tr->missing_chunks);
}

int agg_growth_apply(struct agg_growth *g, struct agg_alloc *a, const struct trace *tr)
{
	bool sampled = tr->hdr.sample_bytes != 0;
	bool no_events = tr->hdr.malloc_mode == ITF_MALLOC_SUMMARY;
	size_t it = 0;
	uint64_t key;
	void *val;
	a->temporary = 0;
	while (hmap_next(&a->sites, &it, &key, &val)) {
		struct alloc_site *s = val;
		uint32_t *ix = hmap_get(&g->index, key);
		uint64_t est = ix ? g->sites.v[*ix].v[0] : 0;
		if (sampled && s->allocations)
			s->temporary = (uint64_t)llround((double)s->temporary * (double)est /
							 (double)s->allocations);
		a->temporary += s->temporary;
		s->allocations = s->bytes = s->frees = s->live_count = s->live_bytes = 0;
	}
	for (size_t i = 0; i < g->sites.n; i++) {
		const struct gr_site *gs = &g->sites.v[i];
		if (!gs->v[0] && !gs->v[3])
			continue;
		struct alloc_site *s = hmap_put(&a->sites, gs->stack, NULL);
		if (!s)
			return az_error(AZ_ENOMEM, "out of memory");
		s->allocations = gs->v[0];
		s->frees = gs->v[1];
		s->bytes = gs->v[2];
		s->live_count = gs->v[3];
		s->live_bytes = gs->v[4];
		if (sampled || no_events || gs->max_live > s->max_live_bytes)
			s->max_live_bytes = gs->max_live;
	}
	a->allocations = g->totals[0];
	a->frees = g->totals[1];
	a->bytes_allocated = g->totals[2];
	a->bytes_freed = g->totals[3];
	a->live_count = g->totals[4];
	a->live_bytes = g->totals[5];
	a->unmatched_frees = sampled ? 0 : g->totals[6];
	/* The events' heap series is not the heap here (none in summary mode, raw samples,
	 * or only the kept events of a bounded trace): the heap over time is growth's. */
	memset(&a->series, 0, sizeof(a->series));
	if (sampled || no_events || g->peak_bytes > a->peak_bytes) {
		a->peak_bytes = g->peak_bytes;
		a->peak_count = g->peak_count;
		a->peak_ts = g->peak_ts;
	}
	return 0;
}
