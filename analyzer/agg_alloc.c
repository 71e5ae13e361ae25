/* agg_alloc.c - owns the allocation analysis: the live set (address -> block), per-stack
 * sites, totals, the peak and when it happened, temporary allocations, and the repair of
 * address reuse seen out of order. Events arrive merged by timestamp (order.c); a few can
 * arrive late, so every decision about an address compares timestamps instead of trusting
 * arrival order:
 *  - an allocation of an address that is still live displaces the old block (its free is
 *    on its way); a later free older than the new block frees the displaced one;
 *  - a free of an address that is not live is kept as an orphan; an allocation that
 *    arrives later but is older than the orphan free is freed by it at once.
 * Main thread only. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "agg_alloc.h"
#include "intercept/trace_format.h"

#define ORPHANS_MAX (1u << 20)
#define DISPLACED_MAX (1u << 16)

int agg_alloc_init(struct agg_alloc *a)
{
	memset(a, 0, sizeof(*a));
	if (hmap_init(&a->live, sizeof(struct alloc_live), 1024) ||
	    hmap_init(&a->sites, sizeof(struct alloc_site), 256) ||
	    hmap_init(&a->last, sizeof(uint64_t), 16) ||
	    hmap_init(&a->orphans, sizeof(uint64_t), 16))
		return az_error(AZ_ENOMEM, "out of memory");
	return 0;
}

void agg_alloc_free(struct agg_alloc *a)
{
	hmap_free(&a->live);
	hmap_free(&a->sites);
	hmap_free(&a->last);
	hmap_free(&a->orphans);
	VEC_FREE(a->displaced);
}

static struct alloc_site *site_of(struct agg_alloc *a, uint32_t stack)
{
	return hmap_put(&a->sites, stack, NULL);
}

/* block_gone() : account the end of block b (freed at ts by tid). */
static void block_gone(struct agg_alloc *a, const struct alloc_live *b, uint64_t addr,
		       uint32_t tid, bool live_counted)
{
	struct alloc_site *s = site_of(a, b->stack);
	a->frees++;
	a->bytes_freed += b->size;
	if (live_counted) {
		a->live_bytes -= b->size;
		a->live_count--;
	}
	if (s) {
		s->frees++;
		s->cur_bytes -= b->size;
	}
	uint64_t *last = hmap_get(&a->last, tid);
	if (last && *last == addr && b->tid == tid) {
		a->temporary++;
		if (s)
			s->temporary++;
		*last = 0;
	}
}

static int do_alloc(struct agg_alloc *a, uint64_t addr, uint64_t size, uint32_t stack,
		    uint32_t tid, uint64_t ts)
{
	struct alloc_live b = {.size = size, .ts = ts, .stack = stack, .tid = tid};
	struct alloc_site *s = site_of(a, stack);
	if (!s)
		return az_error(AZ_ENOMEM, "out of memory");
	a->allocations++;
	a->bytes_allocated += size;
	s->allocations++;
	s->bytes += size;
	s->cur_bytes += size;
	uint64_t *last = hmap_put(&a->last, tid, NULL);
	if (last)
		*last = addr;

	/* a free of this address that arrived before this (late) allocation? */
	uint64_t *orphan = a->orphans.n ? hmap_get(&a->orphans, addr) : NULL;
	if (orphan && *orphan >= ts) {
		hmap_del(&a->orphans, addr);
		a->repaired++;
		block_gone(a, &b, addr, tid, false);
		return 0;
	}
	bool is_new;
	struct alloc_live *slot = hmap_put(&a->live, addr, &is_new);
	if (!slot)
		return az_error(AZ_ENOMEM, "out of memory (live set)");
	if (!is_new) {
		/* still live: its free has not arrived yet; keep the older block aside */
		struct alloc_live old = *slot;
		if (old.ts > ts) {
			/* the one already live is the newer: this block is the displaced one */
			old = b;
			b = *slot;
		}
		if (a->displaced.n < DISPLACED_MAX) {
			__typeof__(*a->displaced.v) d = {addr, old};
			if (VEC_PUSH(a->displaced, d))
				return az_error(AZ_ENOMEM, "out of memory");
		} else {
			a->unmatched_frees++; /* bound reached: treat the old block as lost */
		}
		a->repaired++;
	}
	a->live_count++; /* displaced blocks stay counted as live until freed */
	*slot = b;
	a->live_bytes += size;
	if (a->live_bytes > a->peak_bytes) {
		a->peak_bytes = a->live_bytes;
		a->peak_ts = ts;
		a->peak_count = a->live_count;
	}
	if (s->cur_bytes > s->max_live_bytes)
		s->max_live_bytes = s->cur_bytes;
	return 0;
}

static void do_free(struct agg_alloc *a, uint64_t addr, uint32_t tid, uint64_t ts)
{
	struct alloc_live *b = hmap_get(&a->live, addr);
	if (b && b->ts <= ts) {
		struct alloc_live copy = *b;
		hmap_del(&a->live, addr);
		/* a displaced older block at this address becomes the live one again */
		for (size_t i = 0; i < a->displaced.n; i++) {
			if (a->displaced.v[i].ptr != addr)
				continue;
			struct alloc_live *slot = hmap_put(&a->live, addr, NULL);
			if (slot)
				*slot = a->displaced.v[i].b; /* still counted in live_* */
			a->displaced.v[i] = a->displaced.v[--a->displaced.n];
			break;
		}
		block_gone(a, &copy, addr, tid, true);
		return;
	}
	/* the live block is newer than this free: the free is for a displaced one */
	for (size_t i = 0; b && i < a->displaced.n; i++) {
		if (a->displaced.v[i].ptr != addr || a->displaced.v[i].b.ts > ts)
			continue;
		struct alloc_live copy = a->displaced.v[i].b;
		a->displaced.v[i] = a->displaced.v[--a->displaced.n];
		block_gone(a, &copy, addr, tid, true);
		return;
	}
	a->unmatched_frees++;
	if (a->orphans.n < ORPHANS_MAX) {
		uint64_t *o = hmap_put(&a->orphans, addr, NULL);
		if (o)
			*o = ts;
	} else {
		a->orphans_dropped++;
	}
}

/* series_merge() : halve the resolution: buckets 2i and 2i+1 become bucket i. */
static void series_merge(struct alloc_series *h)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < h->n; i += 2, k++) {
		struct alloc_bucket m = h->b[i];
		if (i + 1 < h->n) {
			const struct alloc_bucket *y = &h->b[i + 1];
			if (y->max_bytes > m.max_bytes)
				m.max_bytes = y->max_bytes;
			if (y->events) {
				m.end_bytes = y->end_bytes;
				m.end_count = y->end_count;
			}
			m.events += y->events;
		}
		h->b[k] = m;
	}
	memset(&h->b[k], 0, (h->n - k) * sizeof(h->b[0]));
	h->n = k;
	h->shift++;
}

/* series_note() : the live heap is now a->live_bytes, at clock ts. An event older than the
 * series' start (a late one) counts in bucket 0. */
static void series_note(struct agg_alloc *a, uint64_t ts)
{
	struct alloc_series *h = &a->series;
	if (!h->n)
		h->t0 = ts;
	uint64_t d = ts > h->t0 ? ts - h->t0 : 0;
	while (h->shift < 63 && (d >> h->shift) >= ALLOC_SERIES_MAX)
		series_merge(h);
	uint64_t i = d >> h->shift;
	if (i >= ALLOC_SERIES_MAX)
		i = ALLOC_SERIES_MAX - 1; /* only for a 63-bit span: cannot happen in practice */
	struct alloc_bucket *b = &h->b[i];
	if (!b->events && b->max_bytes < h->level)
		b->max_bytes = h->level; /* what was live when the bucket began */
	if (a->live_bytes > b->max_bytes)
		b->max_bytes = a->live_bytes;
	if (i + 1 >= h->n) { /* the newest bucket (a late event leaves older ends alone) */
		b->end_bytes = a->live_bytes;
		b->end_count = a->live_count;
		h->n = (uint32_t)i + 1;
	}
	b->events++;
	h->level = a->live_bytes;
}

int agg_alloc_event(void *ctx, const struct ord_event *e)
{
	struct agg_alloc *a = ctx;
	int rc = 0;
	switch (e->type) {
	case ITF_EV_ALLOC:
		rc = do_alloc(a, e->ptr, e->size, e->stack, e->tid, e->ts);
		break;
	case ITF_EV_FREE:
		do_free(a, e->ptr, e->tid, e->ts);
		break;
	case ITF_EV_REALLOC:
		a->reallocs++;
		/* the allocation half: the old block was freed by a FREE earlier in the stream */
		rc = do_alloc(a, e->ptr, e->size, e->stack, e->tid, e->ts);
		break;
	default:
		return 0;
	}
	series_note(a, e->ts);
	return rc;
}

int agg_alloc_finish(struct agg_alloc *a)
{
	size_t it = 0;
	uint64_t addr;
	void *v;
	/* displaced blocks whose free never came are still allocated */
	for (size_t i = 0; i < a->displaced.n; i++) {
		struct alloc_site *s = site_of(a, a->displaced.v[i].b.stack);
		if (s) {
			s->live_count++;
			s->live_bytes += a->displaced.v[i].b.size;
		}
	}
	while (hmap_next(&a->live, &it, &addr, &v)) {
		struct alloc_live *b = v;
		struct alloc_site *s = site_of(a, b->stack);
		if (!s)
			return az_error(AZ_ENOMEM, "out of memory");
		s->live_count++;
		s->live_bytes += b->size;
	}
	return 0;
}
