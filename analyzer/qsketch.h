/* qsketch.h - percentiles of a stream of durations in memory bounded by the value range,
 * not the count (qsketch.c): exact while a stream holds at most QS_EXACT values, then a
 * logarithmic histogram whose buckets are QS_ALPHA wide (relative), so any quantile is
 * within QS_ALPHA of the exact one (DDSketch's construction: Masson, Rim, Lee, VLDB 2019).
 * Used per SQL statement (agg_sql.c); any aggregator that reports p50/p95/p99 can use it. */
#ifndef INTERCEPT_QSKETCH_H
#define INTERCEPT_QSKETCH_H

#include <stdbool.h>
#include <stdint.h>

#define QS_EXACT 1024	/* values kept exactly before switching to buckets */
#define QS_ALPHA 0.005	/* relative error bound of a quantile once bucketed */

struct qsketch {
	uint64_t n;	    /* values added */
	uint64_t min, max;  /* exact */
	uint64_t *exact;    /* the values while n <= QS_EXACT (NULL before the first) */
	uint32_t *bins;	    /* counts of buckets lo .. lo + n_bins - 1, once bucketed */
	int32_t lo;
	uint32_t n_bins;
	uint64_t zeros;	    /* values 0 (no logarithm): the lowest bucket of all */
	bool sorted;	    /* exact[] is sorted (qs_quantile sorts it once) */
};

/*! qs_add() : add value v. @return 0, or AZ_ENOMEM (the sketch is unchanged). */
int qs_add(struct qsketch *q, uint64_t v);

/*! qs_quantile() : the nearest-rank quantile p (0 < p <= 1): the value of rank ceil(p * n)
 * in sorted order, exact while the sketch is exact, else within QS_ALPHA of it (clamped
 * to [min, max]). 0 for an empty sketch. May sort the exact values (hence not const). */
uint64_t qs_quantile(struct qsketch *q, double p);

/*! qs_merge() : add every value of src, times scale (a clock conversion; 1.0 keeps them), to
 * dst (merged reports, merge.c). Exact while both are and hold at most QS_EXACT values
 * together; a bucketed src adds its buckets' counts, so dst keeps the QS_ALPHA bound.
 * @return 0, or AZ_ENOMEM (dst may then hold part of src). */
int qs_merge(struct qsketch *dst, const struct qsketch *src, double scale);

/*! qs_is_exact() : are quantiles exact (no more than QS_EXACT values)? */
bool qs_is_exact(const struct qsketch *q);

/*! qs_free() : release the sketch's memory; it is empty afterwards. */
void qs_free(struct qsketch *q);

#endif /* INTERCEPT_QSKETCH_H */
