/* test_live.c - the writer's live heap (preload/live.c) against a reference model: random
 * allocations and frees with address reuse across two simulated threads, delivered to the
 * table in several interleavings that keep each thread's own order (as drains do); the
 * final live set and per-site counters must be exactly the reference's every time. Also
 * growth to a million blocks, interior-pointer lookup, and fork inheritance. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "harness.h"
#include "live.h"

#define N_ADDR 512
#define N_EV 20000

struct ev {
	int thread;
	int kind; /* 0 alloc, 1 free */
	uint64_t ptr, size, ts;
	uint32_t stack;
};

static struct ev evs[N_EV];
static int n_ev;

static uint64_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ull;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

/* A valid history: addresses from a small pool (so they are reused a lot), each live
 * block owned by one thread, freed by either thread; timestamps strictly increasing. */
static void make_history(uint64_t *ref_size, uint32_t *ref_stack)
{
	memset(ref_size, 0, N_ADDR * sizeof(*ref_size));
	n_ev = 0;
	for (uint64_t ts = 100; n_ev < N_EV; ts += 1 + rnd() % 3) {
		int a = (int)(rnd() % N_ADDR);
		struct ev *e = &evs[n_ev++];
		e->thread = (int)(rnd() % 2);
		e->ptr = 0x10000 + (uint64_t)a * 64;
		e->ts = ts;
		if (ref_size[a]) {
			e->kind = 1;
			ref_size[a] = 0;
		} else {
			e->kind = 0;
			e->size = 1 + rnd() % 60;
			e->stack = 1 + (uint32_t)(rnd() % 7);
			ref_size[a] = e->size;
			ref_stack[a] = e->stack;
		}
	}
}

/* deliver() : feed the events thread by thread in blocks of `block` events each, thread 1
 * first when flip: per-thread order kept, cross-thread order scrambled. */
static void deliver(int block, int flip)
{
	int pos[2] = {0, 0};
	for (;;) {
		int progressed = 0;
		for (int k = 0; k < 2; k++) {
			int th = flip ? 1 - k : k;
			int sent = 0;
			while (pos[th] < n_ev && sent < block) {
				struct ev *e = &evs[pos[th]++];
				if (e->thread != th)
					continue;
				if (e->kind == 0)
					live_alloc(e->ptr, e->size, e->stack, e->ts);
				else
					live_free(e->ptr, e->ts);
				sent++;
				progressed = 1;
			}
		}
		if (!progressed)
			break;
	}
}

struct tally {
	uint64_t count, bytes;
	uint64_t per_stack[8];
};

static void tally_cb(const struct live_block *b, void *arg)
{
	struct tally *t = arg;
	if (b->flags & LIVE_INHERITED)
		return;
	t->count++;
	t->bytes += b->size;
	t->per_stack[b->stack < 8 ? b->stack : 0] += b->size;
}

TEST(out_of_order_is_exact)
{
	static uint64_t ref_size[N_ADDR];
	static uint32_t ref_stack[N_ADDR];
	make_history(ref_size, ref_stack);
	uint64_t want_count = 0, want_bytes = 0, want_stack[8] = {0};
	for (int a = 0; a < N_ADDR; a++) {
		if (ref_size[a]) {
			want_count++;
			want_bytes += ref_size[a];
			want_stack[ref_stack[a]] += ref_size[a];
		}
	}
	int blocks[] = {1, 3, 50, 1000, N_EV};
	for (size_t bi = 0; bi < sizeof(blocks) / sizeof(blocks[0]); bi++) {
		for (int flip = 0; flip < 2; flip++) {
			/* start from an empty table: free everything the previous round left */
			struct live_stats st;
			live_fork_child(); /* marks all inherited; then free them */
			for (int a = 0; a < N_ADDR; a++)
				live_free(0x10000 + (uint64_t)a * 64, UINT64_MAX);
			live_fork_child();
			deliver(blocks[bi], flip);
			live_get_stats(&st);
			struct tally t = {0};
			live_foreach(tally_cb, &t);
			EXPECT_EQ(t.count, want_count);
			EXPECT_EQ(t.bytes, want_bytes);
			EXPECT_EQ(st.live_count, want_count);
			EXPECT_EQ(st.live_bytes, want_bytes);
			EXPECT_EQ(st.unmatched_frees, 0);
			for (uint32_t s = 1; s < 8; s++) {
				const struct live_site *ls = live_site(s);
				EXPECT_EQ(ls ? ls->live_bytes : 0, want_stack[s]);
				EXPECT_EQ(t.per_stack[s], want_stack[s]);
			}
		}
	}
}

TEST(million_blocks_and_interior_pointers)
{
	live_fork_child();
	for (int a = 0; a < N_ADDR; a++)
		live_free(0x10000 + (uint64_t)a * 64, UINT64_MAX);
	live_fork_child();
	for (uint64_t i = 0; i < 1000000; i++)
		live_alloc(0x7f0000000000ull + i * 32, 24, (uint32_t)(i % 100), i + 1);
	struct live_stats st;
	live_get_stats(&st);
	EXPECT_EQ(st.live_count, 1000000);
	EXPECT_EQ(st.lost, 0);
	EXPECT_EQ(live_sort(), 0);
	const struct live_block *b = live_find(0x7f0000000000ull + 500 * 32 + 10);
	EXPECT(b && b->ptr == 0x7f0000000000ull + 500 * 32);
	EXPECT(live_find(0x7f0000000000ull + 500 * 32 + 24) == NULL); /* past the 24 bytes */
	EXPECT(live_find(0x10) == NULL);
	for (uint64_t i = 0; i < 1000000; i += 2)
		live_free(0x7f0000000000ull + i * 32, UINT64_MAX);
	live_get_stats(&st);
	EXPECT_EQ(st.live_count, 500000);
	EXPECT_EQ(live_site(1)->live_count, 10000); /* odd i: never freed */
	EXPECT_EQ(live_site(2)->live_count, 0);
	EXPECT_EQ(live_site(0)->frees, 10000);
}

TEST(fork_inheritance)
{
	live_fork_child();
	struct live_stats st;
	live_get_stats(&st);
	EXPECT_EQ(st.live_count, 0); /* the parent's blocks are not the child's */
	live_free(0x7f0000000000ull + 1 * 32, UINT64_MAX); /* an inherited block */
	live_alloc(0x5000, 10, 3, UINT64_MAX - 1);
	live_get_stats(&st);
	EXPECT_EQ(st.unmatched_frees, 1);
	EXPECT_EQ(st.live_count, 1);
	EXPECT_EQ(st.frees, 0);
}

int main(void)
{
	if (live_init(1u << 16))
		return 2;
	RUN(out_of_order_is_exact);
	RUN(million_blocks_and_interior_pointers);
	RUN(fork_inheritance);
	return TEST_EXIT();
}
