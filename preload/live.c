/* live.c - owns the writer's view of the live heap: an open-addressing table of live
 * blocks (grows by doubling, never on an application thread), per-site counters indexed by
 * stack id, and the small side tables that make out-of-order events exact (displaced blocks
 * and orphan frees, as in analyzer/agg_alloc.c). Only the thread holding the writer lock
 * calls in: the writer while draining, the exiting thread after the final drain.
 * Never: malloc (everything is mmap'd), a lock of its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ic.h"
#include "live.h"

#define LIVE_MIN_SLOTS (1u << 16)
#define DISPLACED_MAX 4096u
#define ORPHAN_SLOTS (1u << 16)

static struct {
	bool ok;
	struct live_block *tab; /* power-of-two slots, load <= 1/2 */
	uint64_t mask;
	uint64_t used; /* occupied slots (inherited blocks included) */
	struct live_site *sites; /* by stack id, max_sites + 1 entries, lazily touched */
	uint32_t max_sites, top_site;
	struct live_block displaced[DISPLACED_MAX];
	uint32_t n_displaced;
	struct {
		uint64_t ptr, ts;
	} orphans[ORPHAN_SLOTS]; /* ptr 0: empty; never deleted individually */
	uint32_t n_orphans;
	uint64_t *sorted; /* live_sort(): addresses in order (then the block is looked up) */
	uint64_t sorted_n, sorted_cap;
	struct live_stats st;
} lv;

static void *map_anon(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int live_init(uint32_t max_sites)
{
	if (lv.ok)
		return 0;
	lv.tab = map_anon((uint64_t)LIVE_MIN_SLOTS * sizeof(*lv.tab));
	lv.sites = map_anon(((uint64_t)max_sites + 1) * sizeof(*lv.sites));
	if (!lv.tab || !lv.sites)
		return -ENOMEM;
	lv.mask = LIVE_MIN_SLOTS - 1;
	lv.max_sites = max_sites;
	lv.ok = true;
	return 0;
}

bool live_ok(void)
{
	return lv.ok;
}

/* grow() : double the table and reinsert. @return false when mmap fails (the table stays
 * as it is, at most 3/4 full, and new blocks are counted as lost). */
static bool grow(void)
{
	uint64_t slots = (lv.mask + 1) * 2;
	struct live_block *nt = map_anon(slots * sizeof(*nt));
	if (!nt)
		return false;
	for (uint64_t i = 0; i <= lv.mask; i++) {
		const struct live_block *b = &lv.tab[i];
		if (!b->ptr)
			continue;
		uint64_t j = mix(b->ptr) & (slots - 1);
		while (nt[j].ptr)
			j = (j + 1) & (slots - 1);
		nt[j] = *b;
	}
	munmap(lv.tab, (lv.mask + 1) * sizeof(*lv.tab));
	lv.tab = nt;
	lv.mask = slots - 1;
	return true;
}

static void insert(const struct live_block *b)
{
	for (uint64_t i = mix(b->ptr) & lv.mask;; i = (i + 1) & lv.mask) {
		if (!lv.tab[i].ptr) {
			lv.tab[i] = *b;
			lv.used++;
			return;
		}
	}
}

static struct live_block *lookup(uint64_t ptr)
{
	for (uint64_t i = mix(ptr) & lv.mask;; i = (i + 1) & lv.mask) {
		if (lv.tab[i].ptr == ptr)
			return &lv.tab[i];
		if (!lv.tab[i].ptr)
			return NULL;
	}
}

/* remove() : delete the block at slot b with backward shift (no tombstones). */
static void remove_slot(struct live_block *b)
{
	uint64_t hole = (uint64_t)(b - lv.tab);
	for (uint64_t j = (hole + 1) & lv.mask; lv.tab[j].ptr; j = (j + 1) & lv.mask) {
		uint64_t home = mix(lv.tab[j].ptr) & lv.mask;
		bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			lv.tab[hole] = lv.tab[j];
			hole = j;
		}
	}
	lv.tab[hole].ptr = 0;
	lv.used--;
}

static struct live_site *site(uint32_t stack)
{
	if (stack > lv.max_sites)
		stack = 0;
	if (stack >= lv.top_site)
		lv.top_site = stack + 1;
	return &lv.sites[stack];
}

/* gone() : account the end of block b (not inherited ones: they were never counted). */
static void gone(const struct live_block *b)
{
	if (b->flags & LIVE_INHERITED) {
		lv.st.unmatched_frees++;
		return;
	}
	struct live_site *s = site(b->stack);
	s->frees++;
	s->freed_bytes += b->size;
	s->live_count--;
	s->live_bytes -= b->size;
	lv.st.frees++;
	lv.st.freed_bytes += b->size;
	lv.st.live_count--;
	lv.st.live_bytes -= b->size;
}

/* forget() : a block dropped because a bound was reached: no longer live, not freed. */
static void forget(const struct live_block *b)
{
	lv.st.lost++;
	if (b->flags & LIVE_INHERITED)
		return;
	struct live_site *s = site(b->stack);
	s->live_count--;
	s->live_bytes -= b->size;
	lv.st.live_count--;
	lv.st.live_bytes -= b->size;
}

static uint64_t *orphan_slot(uint64_t ptr, bool insert)
{
	for (uint32_t i = (uint32_t)(mix(ptr) & (ORPHAN_SLOTS - 1)), n = 0; n < 64;
	     i = (i + 1) & (ORPHAN_SLOTS - 1), n++) {
		if (lv.orphans[i].ptr == ptr)
			return &lv.orphans[i].ts;
		if (!lv.orphans[i].ptr) {
			if (!insert || lv.n_orphans >= ORPHAN_SLOTS / 2)
				return NULL;
			lv.orphans[i].ptr = ptr;
			lv.n_orphans++;
			return &lv.orphans[i].ts;
		}
	}
	return NULL;
}

void live_alloc(uint64_t ptr, uint64_t size, uint32_t stack, uint64_t ts)
{
	if (!lv.ok || !ptr)
		return;
	struct live_block nb = {.ptr = ptr, .size = size, .ts = ts, .stack = stack};
	struct live_site *s = site(stack);
	s->allocations++;
	s->bytes += size;
	s->live_count++;
	s->live_bytes += size;
	lv.st.allocations++;
	lv.st.bytes += size;
	lv.st.live_count++;
	lv.st.live_bytes += size;

	/* a free of this address that was drained before this (older) allocation */
	uint64_t *orph = lv.n_orphans ? orphan_slot(ptr, false) : NULL;
	if (orph && *orph >= ts) {
		*orph = 0; /* the slot stays (orphans are never deleted one by one) */
		lv.st.repaired++;
		lv.st.unmatched_frees--; /* it was counted when it arrived */
		gone(&nb);
		return;
	}
	struct live_block *b = lookup(ptr);
	if (b) {
		/* still live: its free has not been drained yet; keep the older one aside */
		struct live_block older = b->ts <= ts ? *b : nb;
		if (b->ts > ts)
			nb = *b;
		if (lv.n_displaced < DISPLACED_MAX) {
			lv.displaced[lv.n_displaced++] = older;
		} else {
			forget(&older);
		}
		lv.st.repaired++;
		*b = nb;
		return;
	}
	if ((lv.used + 1) * 2 > lv.mask + 1 && !grow() && (lv.used + 1) * 4 > (lv.mask + 1) * 3) {
		/* cannot grow and 3/4 full: forget the block rather than degrade every probe */
		forget(&nb);
		return;
	}
	insert(&nb);
}

void live_free(uint64_t ptr, uint64_t ts)
{
	if (!lv.ok || !ptr)
		return;
	struct live_block *b = lookup(ptr);
	if (b && b->ts <= ts) {
		struct live_block copy = *b;
		remove_slot(b);
		/* a displaced older block at this address becomes the live one again */
		for (uint32_t i = 0; i < lv.n_displaced; i++) {
			if (lv.displaced[i].ptr != ptr)
				continue;
			struct live_block d = lv.displaced[i];
			lv.displaced[i] = lv.displaced[--lv.n_displaced];
			insert(&d); /* a slot was just freed: no growth needed */
			break;
		}
		gone(&copy);
		return;
	}
	/* the live block is newer than this free: it frees a displaced one */
	for (uint32_t i = 0; b && i < lv.n_displaced; i++) {
		if (lv.displaced[i].ptr != ptr || lv.displaced[i].ts > ts)
			continue;
		struct live_block copy = lv.displaced[i];
		lv.displaced[i] = lv.displaced[--lv.n_displaced];
		gone(&copy);
		return;
	}
	lv.st.unmatched_frees++;
	uint64_t *o = orphan_slot(ptr, true);
	if (o)
		*o = ts;
}

void live_realloc(uint64_t old, uint64_t ts_free, uint64_t ptr, uint64_t size, uint32_t stack,
		  uint64_t ts_alloc)
{
	live_free(old, ts_free);
	live_alloc(ptr, size, stack, ts_alloc);
}

void live_get_stats(struct live_stats *out)
{
	*out = lv.st;
	out->table_bytes = lv.ok ? (lv.mask + 1) * sizeof(*lv.tab) +
					   (uint64_t)lv.top_site * sizeof(*lv.sites) +
					   lv.sorted_cap * sizeof(*lv.sorted) + sizeof(lv)
				 : 0;
}

const struct live_site *live_site(uint32_t stack)
{
	if (!lv.ok || stack >= lv.top_site)
		return NULL;
	return &lv.sites[stack];
}

uint32_t live_max_site(void)
{
	return lv.top_site;
}

void live_foreach(void (*fn)(const struct live_block *b, void *arg), void *arg)
{
	if (!lv.ok)
		return;
	for (uint64_t i = 0; i <= lv.mask; i++)
		if (lv.tab[i].ptr)
			fn(&lv.tab[i], arg);
	for (uint32_t i = 0; i < lv.n_displaced; i++)
		fn(&lv.displaced[i], arg);
}

static void sort_u64(uint64_t *a, uint64_t n)
{
	/* in-place heapsort: no recursion, no allocation, O(n log n) worst case */
	for (uint64_t start = n / 2; start-- > 0;) {
		for (uint64_t root = start;;) {
			uint64_t child = 2 * root + 1;
			if (child >= n)
				break;
			if (child + 1 < n && a[child] < a[child + 1])
				child++;
			if (a[root] >= a[child])
				break;
			uint64_t t = a[root];
			a[root] = a[child];
			a[child] = t;
			root = child;
		}
	}
	for (uint64_t end = n; end-- > 1;) {
		uint64_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		for (uint64_t root = 0;;) {
			uint64_t child = 2 * root + 1;
			if (child >= end)
				break;
			if (child + 1 < end && a[child] < a[child + 1])
				child++;
			if (a[root] >= a[child])
				break;
			t = a[root];
			a[root] = a[child];
			a[child] = t;
			root = child;
		}
	}
}

int live_sort(void)
{
	if (!lv.ok)
		return -ENOMEM;
	uint64_t n = 0, need = lv.st.live_count + lv.n_displaced + 64;
	if (need > lv.sorted_cap) {
		if (lv.sorted)
			munmap(lv.sorted, lv.sorted_cap * sizeof(*lv.sorted));
		lv.sorted = map_anon(need * sizeof(*lv.sorted));
		lv.sorted_cap = lv.sorted ? need : 0;
		if (!lv.sorted)
			return -ENOMEM;
	}
	for (uint64_t i = 0; i <= lv.mask && n < lv.sorted_cap; i++)
		if (lv.tab[i].ptr)
			lv.sorted[n++] = lv.tab[i].ptr;
	sort_u64(lv.sorted, n);
	lv.sorted_n = n;
	return 0;
}

const struct live_block *live_find(uint64_t addr)
{
	if (!lv.ok)
		return NULL;
	const struct live_block *b = lookup(addr);
	if (b || !lv.sorted_n)
		return b;
	/* the last block starting at or below addr */
	uint64_t lo = 0, hi = lv.sorted_n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (lv.sorted[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	b = lookup(lv.sorted[lo - 1]);
	if (b && addr < b->ptr + (b->size ? b->size : 1))
		return b;
	return NULL;
}

void live_fork_child(void)
{
	if (!lv.ok)
		return;
	for (uint64_t i = 0; i <= lv.mask; i++)
		if (lv.tab[i].ptr)
			lv.tab[i].flags |= LIVE_INHERITED;
	lv.n_displaced = 0;
	memset(lv.orphans, 0, sizeof(lv.orphans));
	lv.n_orphans = 0;
	memset(&lv.st, 0, sizeof(lv.st));
	if (lv.top_site)
		memset(lv.sites, 0, (uint64_t)lv.top_site * sizeof(*lv.sites));
	lv.top_site = 0;
}
