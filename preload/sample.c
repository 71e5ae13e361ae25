/* sample.c - owns byte sampling's slow path (sample.h): each thread's generator and the
 * exponential draw, the set of sampled addresses, and the weight the writer gives a
 * sampled allocation. smp_take_slow() runs on application threads inside hooks (guard
 * held); smp_weight() on the writer. Never: malloc, locks, system calls on the hook path
 * (log() is pure arithmetic). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "clock.h"
#include "config.h"
#include "sample.h"

bool smp_on;
_Atomic uint64_t *smp_set;
_Atomic uint64_t smp_overflow;
_Atomic uint8_t smp_count[1u << SMP_GROUP_BITS];
static uint64_t smp_seed;

int smp_init(void)
{
	if (smp_on || !opt_sample_bytes)
		return 0;
	void *m = mmap(NULL, ((size_t)SMP_GROUP << SMP_GROUP_BITS) * sizeof(uint64_t),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		opt_sample_bytes = 0;
		return -ENOMEM;
	}
	smp_set = m;
	const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
	smp_seed = 0x2545f4914f6cdd1dull;
	for (int i = 8; rnd && i < 16; i++)
		smp_seed = (smp_seed << 8 | smp_seed >> 56) ^ rnd[i];
	smp_on = true;
	return 0;
}

static uint64_t next_u64(struct tstate *t)
{
	/* xorshift64* (Vigna): plenty for choosing sample points */
	uint64_t x = t->smp_rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->smp_rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* draw() : bytes to the next sample point, exponential with mean opt_sample_bytes. */
static uint64_t draw(struct tstate *t)
{
	double u = (double)((next_u64(t) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
	double d = -log(u) * (double)opt_sample_bytes;
	return d < 1.0 ? 1 : d > 0x1.0p62 ? (uint64_t)1 << 62 : (uint64_t)d;
}

bool smp_take_slow(struct tstate *t, uint64_t n, uint64_t p)
{
	if (IC_UNLIKELY(t->smp_rng == 0)) {
		/* first allocation of this thread: the first sample point is a draw away */
		uint64_t mix = (uint64_t)t->tid * 0x9e3779b97f4a7c15ull;
		t->smp_rng = (smp_seed ^ mix ^ clk_now()) | 1;
		t->smp_left = draw(t);
		if (t->smp_left > n) {
			t->smp_left -= n;
			return false;
		}
	}
	/* A sample point falls inside these n bytes. The process restarts at the end of the
	 * allocation (memoryless), so the next point is a fresh draw from here. */
	t->smp_left = draw(t);
	smp_keep(p);
	return true;
}

/* Enter p: a free slot of its group (a tombstone or never used). A full group leaves the
 * block out (counted: its free will not be recorded, it would look leaked). */
void smp_keep(uint64_t p)
{
	uint64_t h = smp_hash(p);
	_Atomic uint64_t *g = smp_set + h * SMP_GROUP;
	for (unsigned i = 0; i < SMP_GROUP; i++) {
		uint64_t v = atomic_load_explicit(&g[i], memory_order_relaxed);
		while ((v == 0 || v == SMP_TOMB) &&
		       !atomic_compare_exchange_weak_explicit(&g[i], &v, p, memory_order_relaxed,
							      memory_order_relaxed))
			;
		if (v == 0 || v == SMP_TOMB) {
			/* counted after the entry: a free that sees the count sees the entry */
			atomic_fetch_add_explicit(&smp_count[h], 1, memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&smp_overflow, 1, memory_order_relaxed);
}

double smp_weight(uint64_t n, uint64_t mean_bytes)
{
	if (!mean_bytes)
		return 1.0;
	double x = (double)(n ? n : 1) / (double)mean_bytes;
	return 1.0 / -expm1(-x);
}
