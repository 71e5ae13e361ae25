/* test_qsketch.c - the analyzer's quantile sketch (analyzer/qsketch.c): exact for small
 * streams, within 1% of the exact nearest-rank quantile for large ones on distributions
 * shaped like latencies (log-normal, bimodal, heavy tail, constant), and bounded memory. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "qsketch.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t exact_q(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp);
	size_t rank = (size_t)ceil(p * (double)n);
	return v[(rank ? rank : 1) - 1];
}

static double unif(unsigned *seed)
{
	return (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
}

static void check(const char *what, uint64_t *v, size_t n, double tol)
{
	struct qsketch q = {0};
	for (size_t i = 0; i < n; i++)
		EXPECT_EQ(qs_add(&q, v[i]), 0);
	static const double ps[] = {0.5, 0.9, 0.95, 0.99, 0.999, 1.0};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		uint64_t want = exact_q(v, n, ps[i]);
		uint64_t got = qs_quantile(&q, ps[i]);
		double err = want ? fabs((double)got - (double)want) / (double)want : (double)got;
		h_checks++;
		if (err > tol) {
			h_failed++;
			fprintf(stderr, "%s: n=%zu p%.1f: got %llu want %llu (error %.4f)\n", what,
				n, ps[i] * 100, (unsigned long long)got, (unsigned long long)want,
				err);
		}
	}
	if (n > QS_EXACT)
		EXPECT(q.n_bins < 5000); /* bounded by the value range, not by n */
	qs_free(&q);
}

TEST(exact_when_small)
{
	uint64_t v[QS_EXACT];
	unsigned seed = 1;
	for (size_t i = 0; i < QS_EXACT; i++)
		v[i] = (uint64_t)rand_r(&seed) % 100000;
	check("small", v, QS_EXACT, 0);
	uint64_t one = 42;
	check("one", &one, 1, 0);
}

TEST(within_one_percent)
{
	size_t n = 200000;
	uint64_t *v = malloc(n * sizeof(*v));
	unsigned seed = 2;
	/* log-normal around 20 us (in ticks of ~3 GHz) */
	for (size_t i = 0; i < n; i++) {
		double z = sqrt(-2 * log(unif(&seed))) * cos(2 * M_PI * unif(&seed));
		v[i] = (uint64_t)(60000 * exp(0.8 * z));
	}
	check("lognormal", v, n, 0.01);
	/* bimodal: cache hits and disk reads */
	for (size_t i = 0; i < n; i++)
		v[i] = (rand_r(&seed) % 10 ? 1000 : 5000000) + (uint64_t)(rand_r(&seed) % 500);
	check("bimodal", v, n, 0.01);
	/* heavy tail (Pareto) */
	for (size_t i = 0; i < n; i++)
		v[i] = (uint64_t)(400.0 / pow(unif(&seed), 1.0 / 1.2));
	check("pareto", v, n, 0.01);
	/* constant, and with zeros */
	for (size_t i = 0; i < n; i++)
		v[i] = i % 3 ? 777 : 0;
	check("constant+zeros", v, n, 0.01);
	free(v);
}

int main(void)
{
	RUN(exact_when_small);
	RUN(within_one_percent);
	return TEST_EXIT();
}
