/* test_snapshot.c - the writer's heap snapshots (preload/snapshot.c) over the live heap
 * (preload/live.c), with wr_meta_put() captured: a full first snapshot, then only changed sites;
 * and the archive the flight recorder builds from the snapshots of the chunks it drops,
 * thinned many times over a long run and read back again at the next rewrite: replaying
 * what it emits must give, at every snapshot it still has, exactly the state the process
 * had then. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "live.h"
#include "snapshot.h"

/* ---- what snapshot.c needs from the rest of the preload -------------------------------------- */
unsigned opt_snapshot_ms = 1000;
uint64_t opt_sample_bytes = 0;
uint64_t opt_max_mb = 1;

void ic_log(const char *fmt, ...)
{
	(void)fmt; /* the one-snapshot-too-big warning: not reached here */
}

double smp_weight(uint64_t n, uint64_t mean)
{
	(void)n;
	(void)mean;
	return 1;
}

static uint8_t *cap_buf;
static size_t cap_len, cap_size;

void wr_meta_put(uint8_t type, const uint8_t *payload, size_t len)
{
	if (cap_len + len + 16 > cap_size) {
		cap_size = (cap_len + len + 16) * 2;
		cap_buf = realloc(cap_buf, cap_size);
	}
	uint8_t *p = cap_buf + cap_len;
	*p++ = type;
	p = itf_put_u(p, len);
	memcpy(p, payload, len);
	cap_len = (size_t)(p + len - cap_buf);
}

/* ---- decoding what was captured -------------------------------------------------------------- */

#define SITES 300
#define SNAPS 3000

struct state {
	uint64_t v[SITES][5];
};

static uint64_t rdu(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	EXPECT(itf_get_u(p, end, &v) == 0);
	return v;
}

/* replay() : apply the captured records to st; calls check(seq, st) after each complete
 * snapshot. @return snapshots seen. */
static unsigned replay(struct state *st, void (*check)(uint64_t seq, uint64_t ts, unsigned flags,
						       const struct state *st))
{
	const uint8_t *p = cap_buf, *end = cap_buf + cap_len;
	uint64_t seq = 0, ts = 0, n = 0, got = 0, flags = 0;
	unsigned snaps = 0;
	static struct state next;
	while (p < end) {
		uint8_t type = *p++;
		uint64_t len = rdu(&p, end);
		const uint8_t *r = p, *rend = p + len;
		p = rend;
		if (type == ITF_META_SNAPSHOT) {
			ts = rdu(&r, rend);
			seq = rdu(&r, rend);
			flags = rdu(&r, rend);
			rdu(&r, rend);
			n = rdu(&r, rend);
			got = 0;
			next = *st;
			if (flags & ITF_SNAP_FULL)
				memset(&next, 0, sizeof(next));
		} else if (type == ITF_META_SNAP_SITES) {
			EXPECT_EQ(rdu(&r, rend), seq);
			uint64_t m = rdu(&r, rend), stack = 0;
			for (uint64_t i = 0; i < m; i++) {
				stack += rdu(&r, rend);
				EXPECT(stack < SITES);
				for (int k = 0; k < 5; k++)
					next.v[stack % SITES][k] = rdu(&r, rend);
			}
			got += m;
		}
		if (type == ITF_META_SNAPSHOT || type == ITF_META_SNAP_SITES) {
			if (got == n) {
				*st = next;
				snaps++;
				check(seq, ts, (unsigned)flags, st);
				n = UINT64_MAX;
			}
		}
	}
	return snaps;
}

/* ---- the run --------------------------------------------------------------------------------- */

static struct state *truth; /* [SNAPS] state after each snapshot */
static uint64_t last_seq;
static unsigned fulls;

static void take_truth(struct state *st)
{
	for (uint32_t s = 0; s < SITES; s++) {
		const struct live_site *ls = live_site(s);
		if (!ls) {
			memset(st->v[s], 0, sizeof(st->v[s]));
			continue;
		}
		st->v[s][0] = ls->allocations;
		st->v[s][1] = ls->frees;
		st->v[s][2] = ls->bytes;
		st->v[s][3] = ls->live_count;
		st->v[s][4] = ls->live_bytes;
	}
}

static void check_state(uint64_t seq, uint64_t ts, unsigned flags, const struct state *st)
{
	EXPECT(seq < SNAPS);
	EXPECT(seq > last_seq || (seq == 0 && last_seq == 0));
	EXPECT_EQ(ts, 1000 + seq);
	last_seq = seq;
	fulls += (flags & ITF_SNAP_FULL) != 0;
	if (seq < SNAPS)
		EXPECT(!memcmp(st, &truth[seq], sizeof(*st)));
}

static void check_live(uint64_t seq, uint64_t ts, unsigned flags, const struct state *st)
{
	(void)ts;
	(void)flags;
	if (seq < SNAPS)
		EXPECT(!memcmp(st, &truth[seq], sizeof(*st)));
}

TEST(deltas_and_history)
{
	truth = calloc(SNAPS, sizeof(*truth));
	EXPECT_EQ(live_init(1u << 16), 0);
	EXPECT_EQ(snap_init(1u << 16), 0);
	snap_reset();
	uint64_t rnd = 99, ptr_next = 0x100000, ts = 1;
	static uint64_t live_ptr[SITES][8];
	for (uint64_t k = 0; k < SNAPS; k++) {
		/* some sites change: allocate or free */
		for (int e = 0; e < 60; e++) {
			rnd = rnd * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t site = (uint32_t)((rnd >> 33) % SITES);
			unsigned slot = (unsigned)(rnd >> 20) % 8;
			if (live_ptr[site][slot]) {
				live_free(live_ptr[site][slot], ts++);
				live_ptr[site][slot] = 0;
			} else {
				live_ptr[site][slot] = ptr_next;
				live_alloc(ptr_next, 16 + (rnd >> 40) % 500, site, ts++);
				ptr_next += 1024;
			}
		}
		snap_write(1000 + k, 0, 0);
		take_truth(&truth[k]);
	}
	/* what went to the trace replays to the truth at every snapshot */
	static struct state st;
	EXPECT_EQ(replay(&st, check_live), SNAPS);
	/* A first rewrite drops the first half: its records go to the archive, thinned to fit
	 * a quarter of 1 MiB, and replay exactly. */
	uint8_t *all = malloc(cap_len);
	size_t all_len = cap_len, half = 0;
	memcpy(all, cap_buf, cap_len);
	snap_archive_reset();
	unsigned seen = 0;
	for (const uint8_t *p = all, *end = all + all_len; p < end;) {
		const uint8_t *rec = p;
		uint8_t type = *p++;
		uint64_t len = rdu(&p, end);
		if (type == ITF_META_SNAPSHOT && seen++ == SNAPS / 2) {
			half = (size_t)(rec - all);
			break;
		}
		snap_archive_record(type, p, len);
		p += len;
	}
	cap_len = 0;
	snap_emit_archive();
	EXPECT(cap_len < (256u << 10));
	uint8_t *prologue = malloc(cap_len);
	size_t pro_len = cap_len;
	memcpy(prologue, cap_buf, cap_len);
	memset(&st, 0, sizeof(st));
	last_seq = 0;
	fulls = 0;
	unsigned kept = replay(&st, check_state);
	EXPECT(kept > 10 && kept < SNAPS / 2);
	EXPECT(fulls >= 1);
	EXPECT_EQ(last_seq, SNAPS / 2 - 1); /* the newest one dropped survives thinning */
	/* The next rewrite drops everything: it reads back that prologue, then the rest. */
	snap_archive_reset();
	for (int part = 0; part < 2; part++) {
		const uint8_t *p = part ? all + half : prologue;
		const uint8_t *end = part ? all + all_len : prologue + pro_len;
		while (p < end) {
			uint8_t type = *p++;
			uint64_t len = rdu(&p, end);
			snap_archive_record(type, p, len);
			p += len;
		}
	}
	cap_len = 0;
	snap_emit_archive();
	memset(&st, 0, sizeof(st));
	last_seq = 0;
	kept = replay(&st, check_state);
	EXPECT(kept > 10 && kept < SNAPS);
	EXPECT_EQ(last_seq, SNAPS - 1);
	/* a damaged record is dropped with its snapshot, nothing else */
	snap_archive_reset();
	uint8_t junk[3] = {0xff, 0xff, 0xff};
	snap_archive_record(ITF_META_SNAPSHOT, junk, sizeof(junk));
	snap_archive_record(ITF_META_SNAP_SITES, junk, sizeof(junk));
	cap_len = 0;
	snap_emit_archive();
	EXPECT_EQ(cap_len, 0);
	free(prologue);
	free(all);
	free(truth);
}

int main(void)
{
	RUN(deltas_and_history);
	free(cap_buf);
	return TEST_EXIT();
}
