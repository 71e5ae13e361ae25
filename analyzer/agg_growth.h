/* agg_growth.h - heap growth over time (agg_growth.c): every site's live bytes as a series,
 * from the trace's heap snapshots (SNAPSHOT / SNAP_SITES records) or, in a full trace
 * without them, sampled from the event stream; a least-squares growth rate with its fit and
 * a verdict per site; the live heap between two moments (--between); and, for traces whose
 * events are not the whole story (summary mode, sampling, a flight recorder that dropped
 * chunks), the exact whole-run totals and leaks the snapshots carry. docs/endurance.md
 * says how each figure is computed. */
#ifndef INTERCEPT_AGG_GROWTH_H
#define INTERCEPT_AGG_GROWTH_H

#include <stdbool.h>
#include <stdint.h>

#include "agg_alloc.h"
#include "order.h"
#include "trace.h"
#include "util.h"

#define GR_POINTS 128 /* a series keeps at most this many points (older ones merged) */

enum gr_verdict {
	GR_NOISE = 0,	/* no trend that can be called: fluctuates, or too few points */
	GR_PLATEAU = 1, /* holds memory, not growing in the recent part of the run */
	GR_GROWING = 2, /* steady growth through the recent part of the run */
};

/*! gr_verdict_name() : "noise", "plateau" or "growing" (the contract's words). */
const char *gr_verdict_name(enum gr_verdict v);

/* One site of the growth report (results, after agg_growth_finish()). */
struct gr_site_out {
	uint32_t stack;
	uint64_t live_bytes, live_count; /* at the last snapshot (event mode: count 0) */
	double bytes_per_s;		 /* least-squares slope over the fit window */
	double fit;			 /* R^2 of that line, 0..1 (1: a flat line, exactly) */
	enum gr_verdict verdict;
	double *series; /* n_points live bytes, at the report's times */
	/* --between T1 T2: live bytes and blocks at the snapshots nearest before T1 and T2 */
	uint64_t from_bytes, to_bytes, from_count, to_count;
};

/* Per-site state while reading (agg_growth.c). */
struct gr_site;

struct agg_growth {
	/* set by the caller before reading */
	const struct trace *tr;	       /* for clock conversion while streaming */
	const struct agg_alloc *alloc; /* event mode samples its per-site live bytes */
	bool between;		       /* --between given */
	uint64_t t1_ns, t2_ns;	       /* since the start; t2 UINT64_MAX: the end */

	/* reading state */
	int mode;	   /* 0 nothing yet, 1 events, 2 snapshots */
	struct hmap index; /* stack id -> uint32_t index into sites */
	VEC(struct gr_site) sites;
	uint64_t n_samples, width; /* samples so far; samples per point (a power of two) */
	double tsum[GR_POINTS];	   /* per point: sum of (ts - start_ts) of its samples */
	uint64_t tn[GR_POINTS];	   /* per point: samples */
	uint64_t epoch;		   /* full snapshots: which sites were listed */
	struct {
		bool open;
		uint64_t ts, seq, flags, interval_ns, n;
		uint64_t totals[8];
		VEC(struct {
			uint32_t stack;
			uint64_t v[5];
		})
		ent;
	} pend; /* the snapshot whose SNAP_SITES are being read */
	bool have_full;
	uint64_t last_seq;
	uint64_t period_ticks, next_sample; /* event mode */
	uint64_t last_event_ts;

	/* snapshot figures (mode 2) */
	uint64_t snapshots;	 /* complete snapshots read */
	uint64_t site_entries;	 /* site entries in them */
	uint64_t snapshot_bytes; /* SNAPSHOT + SNAP_SITES payload bytes (uncompressed) */
	uint64_t incomplete;	 /* snapshots dropped: cut by the end of the file or a gap */
	uint64_t skipped;	 /* partial snapshots before the first full one (after a gap) */
	uint64_t interval_ns;	 /* the snapshot interval (event mode: the sampling period) */
	uint64_t last_ts;	 /* the newest snapshot's time (raw clock) */
	bool last_final;	 /* it was written at exit or exec */
	uint64_t totals[8];	 /* its process totals (SNAPSHOT record order) */
	uint64_t peak_bytes, peak_count, peak_ts; /* the largest live total at a snapshot */
	uint64_t at1_ts, at2_ts;   /* --between: the snapshots used (raw clock), 0 none */
	uint64_t near1, near2;	   /* --between: choosing them (agg_growth.c, take_at()) */
	bool at1_exact, at2_exact; /* events: the state at T1 (T2) itself was taken */

	/* results (agg_growth_finish) */
	bool present; /* the report has a growth section */
	uint32_t n_points;
	uint64_t *t_ns;		     /* n_points times, ns since the start of tracing */
	double *total;		     /* n_points: live bytes of all sites together */
	uint64_t window_ns;	     /* the fit window starts here */
	VEC(struct gr_site_out) out; /* sites with live bytes at some point, by bytes_per_s */
	VEC(uint32_t) by_delta;	     /* --between: indexes into out, most grown first */
	uint64_t from_ns, to_ns;     /* --between: the instants actually used */
	uint64_t from_total, to_total;
};

int agg_growth_init(struct agg_growth *g);
void agg_growth_free(struct agg_growth *g);

/*! agg_growth_meta() : a META record the core decoder does not know (dec_sink.meta_other):
 * SNAPSHOT and SNAP_SITES are read, others ignored. @return 0, or AZ_ECORRUPT (message set)
 * for a malformed snapshot record, AZ_ENOMEM. */
int agg_growth_meta(struct agg_growth *g, uint8_t type, const uint8_t *payload, size_t len);

/*! agg_growth_event() : an ord_consumer callback, registered before agg_alloc's: in a trace
 * without snapshots, samples every site's live bytes (agg_alloc's, before this event) at
 * regular instants. */
int agg_growth_event(void *ctx, const struct ord_event *e);

/*! agg_growth_finish() : after the last chunk and tr_finish_clock(): the last sample, the
 * series, fits, verdicts, sorting, --between. @return 0 or AZ_ENOMEM. */
int agg_growth_finish(struct agg_growth *g, const struct trace *tr);

/*! agg_growth_rules() : do the snapshots, not the events, give the whole run's totals and
 * leaks? (summary mode, sampling, or chunks dropped by the flight recorder, and snapshots
 * were read.) */
bool agg_growth_rules(const struct agg_growth *g, const struct trace *tr);

/*! agg_growth_apply() : when agg_growth_rules(): replace a's totals and per-site figures
 * by the newest snapshot's (estimates when sampled; temporary allocations scaled alike; a
 * sampled trace has no unmatched frees by construction). @return 0 or AZ_ENOMEM. */
int agg_growth_apply(struct agg_growth *g, struct agg_alloc *a, const struct trace *tr);

/*! gr_fit() : weighted least squares of y on x over n points (w NULL: equal weights).
 * *slope, *r2 (1 when y is constant), *se (standard error of the slope, 0 when n < 3).
 * Exposed for the unit test. */
void gr_fit(const double *x, const double *y, const double *w, size_t n, double *slope, double *r2,
	    double *se);

/*! gr_judge() : the verdict for a series (x in seconds, y in bytes) over its fit window
 * [from, n) (docs/endurance.md, "Verdicts"); *slope and *r2 of that window. */
enum gr_verdict gr_judge(const double *x, const double *y, const double *w, size_t from, size_t n,
			 double *slope, double *r2);

#endif /* INTERCEPT_AGG_GROWTH_H */
