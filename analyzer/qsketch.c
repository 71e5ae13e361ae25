/* qsketch.c - owns the quantile sketch of qsketch.h. A value v > 0 falls in bucket
 * i = ceil(log(v) / log(gamma)) with gamma = (1 + a) / (1 - a); every value of bucket i lies
 * in (gamma^(i-1), gamma^i], and the bucket's representative 2 gamma^i / (gamma + 1) is
 * within relative error a of each of them. The nearest-rank bucket therefore gives the
 * nearest-rank value to within a. Main thread only; no global state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qsketch.h"
#include "util.h"

static double qs_log_gamma(void)
{
	static double lg;
	if (lg == 0)
		lg = log((1 + QS_ALPHA) / (1 - QS_ALPHA));
	return lg;
}

static int32_t qs_index(uint64_t v)
{
	return (int32_t)ceil(log((double)v) / qs_log_gamma());
}

static uint64_t qs_value(int32_t i)
{
	double g = exp(qs_log_gamma());
	return (uint64_t)llround(2.0 * exp((double)i * qs_log_gamma()) / (g + 1.0));
}

/* qs_bin() : count one value in bucket i, growing the bucket range to include it. */
static int qs_bin(struct qsketch *q, int32_t i, uint64_t count)
{
	if (!q->bins) {
		q->bins = xcalloc(64, sizeof(*q->bins));
		if (!q->bins)
			return AZ_ENOMEM;
		q->lo = i - 32;
		q->n_bins = 64;
	}
	if (i < q->lo || i >= q->lo + (int32_t)q->n_bins) {
		int32_t lo = i < q->lo ? i - 16 : q->lo;
		int32_t hi = i >= q->lo + (int32_t)q->n_bins ? i + 16 : q->lo + (int32_t)q->n_bins;
		uint32_t n = (uint32_t)(hi - lo);
		uint32_t *nb = xcalloc(n, sizeof(*nb));
		if (!nb)
			return AZ_ENOMEM;
		memcpy(nb + (q->lo - lo), q->bins, q->n_bins * sizeof(*nb));
		free(q->bins);
		q->bins = nb;
		q->lo = lo;
		q->n_bins = n;
	}
	q->bins[i - q->lo] += (uint32_t)count;
	return 0;
}

static int qs_put(struct qsketch *q, uint64_t v)
{
	if (v == 0) {
		q->zeros++;
		return 0;
	}
	return qs_bin(q, qs_index(v), 1);
}

int qs_add(struct qsketch *q, uint64_t v)
{
	if (q->n < QS_EXACT) {
		if (!q->exact && !(q->exact = xmalloc(QS_EXACT * sizeof(*q->exact))))
			return AZ_ENOMEM;
		q->exact[q->n] = v;
		q->sorted = false;
	} else {
		if (q->exact) {
			/* switch to buckets: a bucket count cannot overflow before n does (2^32
			 * values of one bucket would be needed) */
			for (uint64_t k = 0; k < q->n; k++)
				if (qs_put(q, q->exact[k]))
					return AZ_ENOMEM;
			free(q->exact);
			q->exact = NULL;
		}
		if (qs_put(q, v))
			return AZ_ENOMEM;
	}
	if (!q->n || v < q->min)
		q->min = v;
	if (!q->n || v > q->max)
		q->max = v;
	q->n++;
	return 0;
}

static uint64_t qs_scale(uint64_t v, double scale)
{
	double x = (double)v * scale;
	return x >= 1.8e19 ? UINT64_MAX : x > 0 ? (uint64_t)llround(x) : 0;
}

int qs_merge(struct qsketch *dst, const struct qsketch *src, double scale)
{
	if (!src->n)
		return 0;
	if (src->exact) {
		for (uint64_t k = 0; k < src->n; k++)
			if (qs_add(dst, qs_scale(src->exact[k], scale)))
				return AZ_ENOMEM;
		return 0;
	}
	if (dst->exact) { /* src is bucketed: so is the sum */
		for (uint64_t k = 0; k < dst->n; k++)
			if (qs_put(dst, dst->exact[k]))
				return AZ_ENOMEM;
		free(dst->exact);
		dst->exact = NULL;
	}
	for (uint32_t k = 0; k < src->n_bins; k++) {
		if (!src->bins[k])
			continue;
		uint64_t v = qs_scale(qs_value(src->lo + (int32_t)k), scale);
		if (v == 0)
			dst->zeros += src->bins[k];
		else if (qs_bin(dst, qs_index(v), src->bins[k]))
			return AZ_ENOMEM;
	}
	dst->zeros += src->zeros;
	uint64_t lo = qs_scale(src->min, scale), hi = qs_scale(src->max, scale);
	if (!dst->n || lo < dst->min)
		dst->min = lo;
	if (!dst->n || hi > dst->max)
		dst->max = hi;
	dst->n += src->n;
	return 0;
}

bool qs_is_exact(const struct qsketch *q)
{
	return q->n <= QS_EXACT;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t qs_quantile(struct qsketch *q, double p)
{
	if (!q->n)
		return 0;
	uint64_t rank = (uint64_t)ceil(p * (double)q->n);
	if (rank < 1)
		rank = 1;
	if (rank > q->n)
		rank = q->n;
	if (q->exact) {
		if (!q->sorted) {
			qsort(q->exact, q->n, sizeof(*q->exact), cmp_u64);
			q->sorted = true;
		}
		return q->exact[rank - 1];
	}
	if (rank == q->n)
		return q->max;
	uint64_t seen = q->zeros;
	if (seen >= rank)
		return 0;
	for (uint32_t k = 0; k < q->n_bins; k++) {
		seen += q->bins[k];
		if (seen >= rank) {
			uint64_t v = qs_value(q->lo + (int32_t)k);
			return v < q->min ? q->min : v > q->max ? q->max : v;
		}
	}
	return q->max;
}

void qs_free(struct qsketch *q)
{
	free(q->exact);
	free(q->bins);
	memset(q, 0, sizeof(*q));
}
