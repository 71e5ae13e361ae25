/* test_agg_lock.c - the lock contention aggregator (analyzer/agg_lock.c) on hand-made
 * LOCK_WAIT and LOCK_COUNTS payloads: sums per lock and per waiting stack, first-seen by
 * earliest timestamp whatever the arrival order, newest cumulative counts win, sorting, and
 * every malformed payload rejected with AZ_ECORRUPT (never a crash or an overread: run
 * under ASan in the sanitizer pass). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "agg_lock.h"
#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

/* feed_wait() : feed one LOCK_WAIT (wait in clock units; the test trace has 1 ns per unit). */
static int feed_wait(struct agg_lock *a, uint64_t ts, uint64_t lock, uint64_t kind, uint64_t ticks,
		uint64_t result, uint64_t stack)
{
	uint8_t buf[64], *p = buf;
	p = itf_put_u(p, lock);
	p = itf_put_u(p, kind);
	p = itf_put_u(p, ticks);
	p = itf_put_u(p, result);
	p = itf_put_u(p, stack);
	p = itf_put_u(p, 0);
	struct ord_event e = {.type = ITF_EV_LOCK_WAIT, .tid = 7, .ts = ts, .payload = buf,
			      .payload_len = (uint32_t)(p - buf)};
	return agg_lock_event(a, &e);
}

static struct lock_ent *find(struct agg_lock *a, uint64_t addr)
{
	for (size_t i = 0; i < a->n_sorted; i++)
		if (a->sorted[i]->addr == addr)
			return a->sorted[i];
	return NULL;
}

static struct trace one_ns_per_tick(void)
{
	struct trace tr;
	memset(&tr, 0, sizeof(tr));
	tr.ns_per_tick = 1.0;
	return tr;
}

TEST(sums_waiters_and_first_seen)
{
	struct agg_lock a;
	struct trace tr = one_ns_per_tick();
	EXPECT_EQ(agg_lock_init(&a), 0);
	/* arrives out of order: the earliest wait (ts 100, stack 3) is first seen */
	EXPECT_EQ(feed_wait(&a, 500, 0x1000, ITF_LOCK_MUTEX, 40, 0, 2), 0);
	EXPECT_EQ(feed_wait(&a, 100, 0x1000, ITF_LOCK_MUTEX, 10, 0, 3), 0);
	EXPECT_EQ(feed_wait(&a, 600, 0x1000, ITF_LOCK_MUTEX, 70, ETIMEDOUT, 2), 0);
	EXPECT_EQ(feed_wait(&a, 700, 0x1000, ITF_LOCK_MUTEX, 5, EDEADLK, 2), 0);
	EXPECT_EQ(feed_wait(&a, 800, 0x2000, ITF_LOCK_READ, 300, 0, 4), 0);
	EXPECT_EQ(feed_wait(&a, 900, 0x2000, ITF_LOCK_WRITE, 200, 0, 5), 0);
	EXPECT_EQ(agg_lock_finish(&a, &tr), 0);
	EXPECT_EQ(a.n_sorted, 2);
	EXPECT_EQ(a.sorted[0]->addr, 0x2000); /* 500 waited beats 125 */
	EXPECT_EQ(a.wait_ns, 625);
	EXPECT_EQ(a.waits, 6);
	struct lock_ent *m = find(&a, 0x1000), *rw = find(&a, 0x2000);
	EXPECT(m && rw);
	if (!m || !rw)
		goto out;
	EXPECT_EQ(m->contended, 4);
	EXPECT_EQ(m->wait_ns, 125);
	EXPECT_EQ(m->max_wait_ns, 70);
	EXPECT_EQ(m->timeouts, 1);
	EXPECT_EQ(m->errors, 1);
	EXPECT_EQ(m->first_wait_stack, 3);
	EXPECT_EQ(m->n_sorted, 2);
	EXPECT_EQ(m->sorted[0].stack, 2); /* 3 waits before 1 */
	EXPECT_EQ(m->sorted[0].waits, 3);
	EXPECT_EQ(m->sorted[0].wait_ns, 115);
	EXPECT(!strcmp(lock_kind_name(m), "mutex"));
	EXPECT(!strcmp(lock_kind_name(rw), "rwlock"));
	EXPECT_EQ(rw->read_contended, 1);
	EXPECT_EQ(rw->write_wait_ns, 200);
out:
	agg_lock_free(&a);
}

static int counts(struct agg_lock *a, uint64_t overflow, uint64_t n, const uint64_t *ent)
{
	uint8_t buf[512], *p = buf;
	p = itf_put_u(p, 1);
	p = itf_put_u(p, overflow);
	p = itf_put_u(p, n);
	for (uint64_t i = 0; i < 5 * n; i++)
		p = itf_put_u(p, ent[i]);
	return agg_lock_counts(a, buf, (size_t)(p - buf));
}

TEST(counts_newest_wins)
{
	struct agg_lock a;
	struct trace tr = one_ns_per_tick();
	EXPECT_EQ(agg_lock_init(&a), 0);
	const uint64_t first[] = {0x1000, 5, 0, 0, 9, 0x3000, 0, 0, 0, 0};
	const uint64_t later[] = {0x1000, 8, 0, 0, 9, 0x2000, 0, 6, 2, 11};
	EXPECT_EQ(counts(&a, 0, 2, first), 0);
	EXPECT_EQ(counts(&a, 3, 2, later), 0);
	EXPECT_EQ(counts(&a, 1, 0, NULL), 0); /* an older overflow figure does not win */
	EXPECT_EQ(feed_wait(&a, 10, 0x1000, ITF_LOCK_MUTEX, 4, 0, 2), 0);
	EXPECT_EQ(agg_lock_finish(&a, &tr), 0);
	EXPECT(a.counting);
	EXPECT_EQ(a.count_overflow, 3);
	EXPECT_EQ(a.locks_counted, 3);
	EXPECT_EQ(a.acquisitions, 16);
	EXPECT_EQ(a.n_sorted, 1); /* only contended locks are listed */
	struct lock_ent *m = find(&a, 0x1000);
	EXPECT(m != NULL);
	if (m) {
		EXPECT_EQ(lock_acquisitions(m), 8);
		EXPECT_EQ(m->first_acq_stack, 9);
	}
	agg_lock_free(&a);
}

TEST(malformed_payloads_are_corrupt)
{
	struct agg_lock a;
	EXPECT_EQ(agg_lock_init(&a), 0);
	uint8_t buf[64], *p = buf;
	p = itf_put_u(p, 0x1000);
	p = itf_put_u(p, ITF_LOCK_MUTEX);
	p = itf_put_u(p, 1u << 30); /* a varint of several bytes */
	size_t full = (size_t)(p - buf);
	for (size_t len = 0; len < full; len++) { /* every truncation */
		struct ord_event e = {.type = ITF_EV_LOCK_WAIT, .payload = buf, .payload_len = (uint32_t)len};
		EXPECT_EQ(agg_lock_event(&a, &e), AZ_ECORRUPT);
	}
	EXPECT_EQ(feed_wait(&a, 1, 0x1000, 9, 1, 0, 1), AZ_ECORRUPT);		  /* kind */
	EXPECT_EQ(feed_wait(&a, 1, 0x1000, ITF_LOCK_MUTEX, 1, 0, 1ull << 40), AZ_ECORRUPT); /* stack */
	/* more entries than the bytes can hold; every truncation of a real record */
	const uint64_t ent[] = {0x1000, 1, 2, 3, 4};
	uint8_t c[64];
	p = c;
	p = itf_put_u(p, 1);
	p = itf_put_u(p, 0);
	p = itf_put_u(p, 1000000);
	EXPECT_EQ(agg_lock_counts(&a, c, (size_t)(p - c)), AZ_ECORRUPT);
	p = c;
	p = itf_put_u(p, 1);
	p = itf_put_u(p, 0);
	p = itf_put_u(p, 1);
	for (int i = 0; i < 5; i++)
		p = itf_put_u(p, ent[i]);
	for (size_t len = 0; len < (size_t)(p - c); len++)
		EXPECT_EQ(agg_lock_counts(&a, c, len), AZ_ECORRUPT);
	EXPECT_EQ(agg_lock_counts(&a, c, (size_t)(p - c)), 0);
	agg_lock_free(&a);
}

TEST(keeps_the_longest_waits)
{
	struct agg_lock a;
	struct trace tr = one_ns_per_tick();
	EXPECT_EQ(agg_lock_init(&a), 0);
	/* waits 1..N+100 in a scrambled order, each ending at ts = 10 * its wait */
	uint64_t n = LOCK_WAITS_KEPT + 100;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t w = (i * 7919) % n + 1; /* 7919 is prime to n: a permutation */
		EXPECT_EQ(feed_wait(&a, 10 * w, 0x1000 + (w % 3) * 64, ITF_LOCK_MUTEX, w, 0, 1), 0);
	}
	EXPECT_EQ(agg_lock_finish(&a, &tr), 0);
	EXPECT_EQ(a.waits_kept.n, LOCK_WAITS_KEPT);
	EXPECT_EQ(a.waits_not_kept, 100);
	bool ordered = true, longest = true;
	for (size_t i = 0; i < a.waits_kept.n; i++) {
		if (i && a.waits_kept.v[i - 1].end_ts > a.waits_kept.v[i].end_ts)
			ordered = false;
		if (a.waits_kept.v[i].wait_ns <= 100)
			longest = false;
	}
	EXPECT(ordered);
	EXPECT(longest);
	agg_lock_free(&a);
}

int main(void)
{
	RUN(sums_waiters_and_first_seen);
	RUN(counts_newest_wins);
	RUN(malformed_payloads_are_corrupt);
	RUN(keeps_the_longest_waits);
	return TEST_EXIT();
}
