/* snapshot.c - owns heap snapshots (snapshot.h, trace_format.h SNAPSHOT / SNAP_SITES): the
 * per-site values last written (so a snapshot lists only what changed), the sampling
 * estimates, and the archive: the snapshots of the chunks the flight recorder drops, read
 * back from them, thinned to a bounded size, written again in the rewritten file. Runs on
 * the thread holding the writer lock (the writer, or init/fork/exit while the writer thread
 * is not running), inside a drain.
 * Never: malloc (tables and archive are mmap'd), a lock of its own, stdio. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>

#include "config.h"
#include "ic.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "live.h"
#include "sample.h"
#include "snapshot.h"
#include "writer.h"

#define SN_NVAL	     5			  /* allocations, frees, bytes, live_count, live_bytes */
#define SN_ENTRY_MAX (6 * ITF_VARINT_MAX) /* dstack + values, encoded */
#define SN_PAYLOAD   7800u		  /* a SNAP_SITES payload stays below this (WR_META_MAX) */
#define SN_HIST_MIN  (256u << 10)	  /* archive bytes at least (with a bound) */

struct sn_vals {
	uint64_t v[SN_NVAL];
};

/* A snapshot in the archive: this header, then entries_len bytes of entries encoded as in
 * SNAP_SITES (dstack from the previous entry of the same snapshot, then the values). */
struct sn_hist_hdr {
	uint64_t ts, seq, interval_ns;
	uint64_t totals[8];
	uint32_t flags, n, entries_len, pad;
};

static struct {
	bool ok;
	uint32_t max_sites;
	struct sn_vals *shadow;	       /* by stack id: the values last written */
	double *est_alloc, *est_bytes; /* sampling: cumulative estimates by stack id */
	double *est_lc, *est_lb;       /* sampling: live estimates, rebuilt per snapshot */
	uint32_t est_top;	       /* est_* entries used below this */
	uint64_t seq;		       /* next snapshot's */
	bool wrote_first;	       /* a snapshot was written to this file */
	uint64_t due_ns;	       /* CLOCK_MONOTONIC time the next one is due */
	/* the archive (INTERCEPT_MAX_MB only): snapshots in the format below */
	uint8_t *hist, *hist_alt;
	uint64_t hist_cap, hist_used;
	uint32_t hist_n;
	bool hist_warned;
	uint64_t hist_q; /* the archive's time bucket (0: not needed yet) */
	/* the snapshot being read back into the archive */
	uint8_t *stage;
	uint64_t stage_cap, stage_used, stage_got;
	uint32_t stage_prev;
	bool stage_open;
	struct sn_hist_hdr stage_h;
	/* record building */
	uint64_t em_seq;
	uint32_t em_n, em_prev;
	size_t em_used;
	uint8_t rec[8192];
	uint8_t ent[8192];
} sn;

static void *map_anon(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int snap_init(uint32_t max_sites)
{
	if (sn.ok || !opt_snapshot_ms)
		return 0;
	uint64_t n = (uint64_t)max_sites + 1;
	sn.shadow = map_anon(n * sizeof(*sn.shadow));
	if (!sn.shadow)
		return -ENOMEM;
	if (opt_sample_bytes) {
		sn.est_alloc = map_anon(n * sizeof(double));
		sn.est_bytes = map_anon(n * sizeof(double));
		sn.est_lc = map_anon(n * sizeof(double));
		sn.est_lb = map_anon(n * sizeof(double));
		if (!sn.est_alloc || !sn.est_bytes || !sn.est_lc || !sn.est_lb)
			return -ENOMEM;
	}
	if (opt_max_mb) {
		uint64_t cap = (opt_max_mb << 20) / 4;
		sn.hist_cap = cap < SN_HIST_MIN ? SN_HIST_MIN : cap;
		sn.hist = map_anon(sn.hist_cap);
		sn.hist_alt = map_anon(sn.hist_cap);
		if (!sn.hist || !sn.hist_alt)
			return -ENOMEM;
	}
	sn.max_sites = max_sites;
	sn.ok = true;
	return 0;
}

bool snap_ok(void)
{
	return sn.ok;
}

void snap_reset(void)
{
	if (!sn.ok)
		return;
	/* Only pages that were touched hold anything; MADV_DONTNEED gives them back zeroed. */
	uint64_t n = (uint64_t)sn.max_sites + 1;
	madvise(sn.shadow, n * sizeof(*sn.shadow), MADV_DONTNEED);
	if (sn.est_alloc) {
		madvise(sn.est_alloc, n * sizeof(double), MADV_DONTNEED);
		madvise(sn.est_bytes, n * sizeof(double), MADV_DONTNEED);
	}
	sn.est_top = 0;
	sn.seq = 0;
	sn.wrote_first = false;
	sn.due_ns = 0;
	snap_archive_reset();
}

static uint32_t site_index(uint32_t stack)
{
	return stack > sn.max_sites ? 0 : stack;
}

void snap_note_alloc(uint32_t stack, uint64_t size)
{
	if (!sn.ok || !sn.est_alloc)
		return;
	uint32_t i = site_index(stack);
	double w = smp_weight(size, opt_sample_bytes);
	sn.est_alloc[i] += w;
	sn.est_bytes[i] += w * (double)size;
	if (i >= sn.est_top)
		sn.est_top = i + 1;
}

bool snap_due(uint64_t now_ns)
{
	return sn.ok && now_ns >= sn.due_ns;
}

uint64_t snap_next_seq(void)
{
	return sn.seq;
}

uint64_t snap_memory_bytes(void)
{
	/* the per-site tables are touched up to the highest site in use */
	uint64_t per_site = sizeof(struct sn_vals) + (sn.est_alloc ? 4 * sizeof(double) : 0);
	return sn.ok ? 2 * sn.hist_cap + sizeof(sn) + (uint64_t)live_max_site() * per_site : 0;
}

/* ---- values -------------------------------------------------------------------------------- */

static void est_live_cb(const struct live_block *b, void *arg)
{
	(void)arg;
	if (b->flags & LIVE_INHERITED)
		return;
	uint32_t i = site_index(b->stack);
	double w = smp_weight(b->size, opt_sample_bytes);
	sn.est_lc[i] += w;
	sn.est_lb[i] += w * (double)b->size;
	if (i >= sn.est_top)
		sn.est_top = i + 1;
}

static uint64_t rnd(double x)
{
	return x > 0.5 ? (uint64_t)llround(x) : 0;
}

/* site_vals() : the values a snapshot gives site i now (exact, or estimated). */
static void site_vals(uint32_t i, struct sn_vals *out)
{
	if (sn.est_alloc) {
		uint64_t a = i < sn.est_top ? rnd(sn.est_alloc[i]) : 0;
		uint64_t lc = i < sn.est_top ? rnd(sn.est_lc[i]) : 0;
		out->v[0] = a;
		out->v[1] = a > lc ? a - lc : 0;
		out->v[2] = i < sn.est_top ? rnd(sn.est_bytes[i]) : 0;
		out->v[3] = lc;
		out->v[4] = i < sn.est_top ? rnd(sn.est_lb[i]) : 0;
		return;
	}
	const struct live_site *s = live_site(i);
	if (!s) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->v[0] = s->allocations;
	out->v[1] = s->frees;
	out->v[2] = s->bytes;
	out->v[3] = s->live_count;
	out->v[4] = s->live_bytes;
}

static unsigned ulen(uint64_t v)
{
	unsigned n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* ---- records -------------------------------------------------------------------------------- */

static void put_snapshot_record(const struct sn_hist_hdr *h)
{
	uint8_t *p = sn.rec;
	p = itf_put_u(p, h->ts);
	p = itf_put_u(p, h->seq);
	p = itf_put_u(p, h->flags);
	p = itf_put_u(p, h->interval_ns);
	p = itf_put_u(p, h->n);
	for (int i = 0; i < 8; i++)
		p = itf_put_u(p, h->totals[i]);
	wr_meta_put(ITF_META_SNAPSHOT, sn.rec, (size_t)(p - sn.rec));
}

static void em_flush(void)
{
	if (!sn.em_n)
		return;
	uint8_t *p = sn.rec;
	p = itf_put_u(p, sn.em_seq);
	p = itf_put_u(p, sn.em_n);
	memcpy(p, sn.ent, sn.em_used);
	p += sn.em_used;
	wr_meta_put(ITF_META_SNAP_SITES, sn.rec, (size_t)(p - sn.rec));
	sn.em_n = 0;
	sn.em_used = 0;
	sn.em_prev = 0;
}

static void em_begin(uint64_t seq)
{
	sn.em_seq = seq;
	sn.em_n = 0;
	sn.em_used = 0;
	sn.em_prev = 0;
}

static void em_add(uint32_t stack, const struct sn_vals *v)
{
	if (sn.em_used + SN_ENTRY_MAX > SN_PAYLOAD)
		em_flush();
	uint8_t *p = sn.ent + sn.em_used;
	p = itf_put_u(p, stack - sn.em_prev);
	for (int k = 0; k < SN_NVAL; k++)
		p = itf_put_u(p, v->v[k]);
	sn.em_prev = stack;
	sn.em_n++;
	sn.em_used = (size_t)(p - sn.ent);
}

/* ---- the archive ----------------------------------------------------------------------------- */

/* One archived snapshot being read. */
struct hs_cur {
	struct sn_hist_hdr h;
	const uint8_t *p, *end; /* its entries */
	uint32_t left, stack;
};

static void hs_open(struct hs_cur *c, const uint8_t *at)
{
	memcpy(&c->h, at, sizeof(c->h));
	c->p = at + sizeof(c->h);
	c->end = c->p + c->h.entries_len;
	c->left = c->h.n;
	c->stack = 0;
}

/* hs_next() : the next entry of c. @return false at the end (or on damage: our own data,
 * but a bounded decoder costs nothing). */
static bool hs_next(struct hs_cur *c, uint32_t *stack, struct sn_vals *v)
{
	uint64_t d;
	if (!c->left || itf_get_u(&c->p, c->end, &d))
		return false;
	for (int k = 0; k < SN_NVAL; k++)
		if (itf_get_u(&c->p, c->end, &v->v[k]))
			return false;
	c->stack += (uint32_t)d;
	*stack = c->stack;
	c->left--;
	return true;
}

static uint8_t *hs_put_entry(uint8_t *p, uint32_t *prev, uint32_t stack, const struct sn_vals *v)
{
	p = itf_put_u(p, stack - *prev);
	for (int k = 0; k < SN_NVAL; k++)
		p = itf_put_u(p, v->v[k]);
	*prev = stack;
	return p;
}

/* merge_into() : the snapshots a then b (b later) as one at out: b's time, seq and totals,
 * the union of their sites with b's values where both have one. Cumulative values make it
 * exactly the state at b; only a's instant is lost. @return the bytes written. */
static size_t merge_into(const uint8_t *at_a, const uint8_t *at_b, uint8_t *out)
{
	struct hs_cur a, b;
	hs_open(&a, at_a);
	hs_open(&b, at_b);
	struct sn_hist_hdr m = b.h;
	m.flags = b.h.flags | (a.h.flags & ITF_SNAP_FULL);
	uint8_t *p = out + sizeof(m), *start = p;
	uint32_t prev = 0, cnt = 0, sa = 0, sb = 0;
	struct sn_vals va, vb;
	bool ha = hs_next(&a, &sa, &va), hb = hs_next(&b, &sb, &vb);
	while (ha || hb) {
		if (hb && (!ha || sb <= sa)) {
			if (ha && sa == sb)
				ha = hs_next(&a, &sa, &va);
			p = hs_put_entry(p, &prev, sb, &vb);
			hb = hs_next(&b, &sb, &vb);
		} else {
			p = hs_put_entry(p, &prev, sa, &va);
			ha = hs_next(&a, &sa, &va);
		}
		cnt++;
	}
	m.n = cnt;
	m.entries_len = (uint32_t)(p - start);
	memcpy(out, &m, sizeof(m));
	return sizeof(m) + m.entries_len;
}

static size_t entry_len(const uint8_t *at)
{
	struct sn_hist_hdr h;
	memcpy(&h, at, sizeof(h));
	return sizeof(h) + h.entries_len;
}

static uint64_t entry_ts(const uint8_t *at)
{
	struct sn_hist_hdr h;
	memcpy(&h, at, sizeof(h));
	return h.ts;
}

/* The archive keeps at most one snapshot per time bucket of width hist_q, counted from its
 * first snapshot (the start of the run, which is never merged): when it is full the buckets
 * double and the snapshots that now share one merge (the later one's time). So however the
 * snapshots came (sparse ones read back from a previous prologue, then the dense ones of the
 * segments dropped now), the archive stays evenly spread over the whole run. */
static uint64_t bucket(uint64_t t0, uint64_t ts)
{
	return sn.hist_q ? (ts > t0 ? ts - t0 : 0) / sn.hist_q : ts;
}

/* hist_thin() : one pass merging neighbours (all but the first) that share a bucket.
 * @return whether anything was merged. */
static bool hist_thin(void)
{
	if (sn.hist_n < 3)
		return false;
	uint64_t t0 = entry_ts(sn.hist);
	uint8_t *in = sn.hist, *out = sn.hist_alt;
	uint64_t ipos = 0, opos = 0;
	uint32_t n = 0, i = 0;
	bool merged = false;
	while (i < sn.hist_n) {
		const uint8_t *a = in + ipos;
		size_t la = entry_len(a);
		if (i >= 1 && i + 1 < sn.hist_n) {
			const uint8_t *b = a + la;
			if (bucket(t0, entry_ts(a)) == bucket(t0, entry_ts(b))) {
				opos += merge_into(a, b, out + opos);
				ipos += la + entry_len(b);
				i += 2;
				n++;
				merged = true;
				continue;
			}
		}
		memcpy(out + opos, a, la);
		opos += la;
		ipos += la;
		i++;
		n++;
	}
	sn.hist_alt = sn.hist;
	sn.hist = out;
	sn.hist_used = opos;
	sn.hist_n = n;
	return merged;
}

/* hist_coarsen() : widen the buckets (the first time: to the average spacing) and merge. */
static void hist_coarsen(void)
{
	if (!sn.hist_q) {
		uint64_t t0 = entry_ts(sn.hist), t1 = t0;
		for (uint64_t pos = 0, i = 0; i < sn.hist_n; i++) {
			t1 = entry_ts(sn.hist + pos);
			pos += entry_len(sn.hist + pos);
		}
		sn.hist_q = (t1 > t0 ? t1 - t0 : 0) / (sn.hist_n > 1 ? sn.hist_n - 1 : 1) + 1;
	} else {
		sn.hist_q = sn.hist_q * 2 > sn.hist_q ? sn.hist_q * 2 : UINT64_MAX;
	}
	hist_thin();
}

/* hist_reserve() : room for a snapshot of need bytes. @return where to write its header,
 * or NULL when it cannot be kept (bigger than the whole archive: it is dropped, and said
 * once). */
static uint8_t *hist_reserve(uint64_t need)
{
	if (!sn.hist)
		return NULL;
	while (sn.hist_used + need > sn.hist_cap && sn.hist_n >= 3)
		hist_coarsen();
	if (sn.hist_used + need > sn.hist_cap) {
		sn.hist_used = 0;
		sn.hist_n = 0;
		if (!sn.hist_warned)
			ic_log("one heap snapshot is larger than the snapshot archive (a "
			       "quarter of INTERCEPT_MAX_MB): the snapshots of dropped chunks "
			       "are lost; raise INTERCEPT_MAX_MB");
		sn.hist_warned = true;
		if (need > sn.hist_cap)
			return NULL;
	}
	return sn.hist + sn.hist_used;
}

void snap_archive_reset(void)
{
	sn.hist_used = 0;
	sn.hist_n = 0;
	sn.hist_q = 0;
	sn.stage_open = false;
}

/* stage_commit() : the snapshot read back is complete: into the archive. */
static void stage_commit(void)
{
	sn.stage_open = false;
	sn.stage_h.n = (uint32_t)sn.stage_got;
	sn.stage_h.entries_len = (uint32_t)sn.stage_used;
	uint8_t *hh = hist_reserve(sizeof(sn.stage_h) + sn.stage_used);
	if (!hh)
		return;
	memcpy(hh, &sn.stage_h, sizeof(sn.stage_h));
	memcpy(hh + sizeof(sn.stage_h), sn.stage, sn.stage_used);
	sn.hist_used += sizeof(sn.stage_h) + sn.stage_used;
	sn.hist_n++;
	/* in the same bucket as the one before (not the first): merge the two */
	if (sn.hist_q && sn.hist_n >= 3) {
		uint8_t *prev = sn.hist, *last = NULL;
		for (uint32_t i = 0; i + 2 < sn.hist_n; i++)
			prev += entry_len(prev);
		last = prev + entry_len(prev);
		uint64_t t0 = entry_ts(sn.hist);
		if (bucket(t0, entry_ts(prev)) == bucket(t0, entry_ts(last))) {
			size_t len = merge_into(prev, last, sn.hist_alt);
			memcpy(prev, sn.hist_alt, len);
			sn.hist_used = (uint64_t)(prev - sn.hist) + len;
			sn.hist_n--;
		}
	}
}

/* stage_fail() : a record that does not parse: the snapshot being read is dropped. */
static void stage_fail(void)
{
	sn.stage_open = false;
}

void snap_archive_record(uint8_t type, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	if (!sn.hist)
		return;
	if (type == ITF_META_SNAPSHOT) {
		struct sn_hist_hdr h = {0};
		uint64_t flags, n;
		sn.stage_open = false; /* one left open never completed: dropped */
		if (itf_get_u(&p, end, &h.ts) || itf_get_u(&p, end, &h.seq) ||
		    itf_get_u(&p, end, &flags) || itf_get_u(&p, end, &h.interval_ns) ||
		    itf_get_u(&p, end, &n) || n > UINT32_MAX / SN_ENTRY_MAX)
			return;
		for (int i = 0; i < 8; i++)
			if (itf_get_u(&p, end, &h.totals[i]))
				return;
		uint64_t need = n * SN_ENTRY_MAX;
		if (need > sn.stage_cap) {
			uint64_t cap = (need + 0xfffff) & ~(uint64_t)0xfffff;
			uint8_t *m = map_anon(cap);
			if (!m)
				return;
			if (sn.stage)
				munmap(sn.stage, sn.stage_cap);
			sn.stage = m;
			sn.stage_cap = cap;
		}
		h.flags = (uint32_t)flags;
		h.n = (uint32_t)n;
		sn.stage_h = h;
		sn.stage_used = sn.stage_got = 0;
		sn.stage_prev = 0;
		sn.stage_open = true;
		if (!n)
			stage_commit();
		return;
	}
	if (type != ITF_META_SNAP_SITES || !sn.stage_open)
		return;
	uint64_t seq, m, stack = 0;
	if (itf_get_u(&p, end, &seq) || itf_get_u(&p, end, &m) || seq != sn.stage_h.seq ||
	    m > sn.stage_h.n - sn.stage_got) {
		stage_fail();
		return;
	}
	for (uint64_t i = 0; i < m; i++) {
		uint64_t d;
		struct sn_vals v;
		bool bad = itf_get_u(&p, end, &d) != 0;
		for (int k = 0; k < SN_NVAL && !bad; k++)
			bad = itf_get_u(&p, end, &v.v[k]) != 0;
		stack += d;
		if (bad || stack > UINT32_MAX ||
		    (sn.stage_got && (uint32_t)stack <= sn.stage_prev)) {
			stage_fail();
			return;
		}
		uint8_t *q =
			hs_put_entry(sn.stage + sn.stage_used, &sn.stage_prev, (uint32_t)stack, &v);
		sn.stage_used = (uint64_t)(q - sn.stage);
		sn.stage_got++;
	}
	if (sn.stage_got == sn.stage_h.n)
		stage_commit();
}

void snap_emit_archive(void)
{
	uint64_t pos = 0;
	for (uint32_t i = 0; i < sn.hist_n; i++) {
		struct hs_cur c;
		hs_open(&c, sn.hist + pos);
		pos += sizeof(c.h) + c.h.entries_len;
		put_snapshot_record(&c.h);
		em_begin(c.h.seq);
		uint32_t stack;
		struct sn_vals v;
		while (hs_next(&c, &stack, &v))
			em_add(stack, &v);
		em_flush();
	}
}

/* ---- the snapshot ---------------------------------------------------------------------------- */

static bool differs(const struct sn_vals *a, const struct sn_vals *b)
{
	return memcmp(a, b, sizeof(*a)) != 0;
}

/* plan() : pass 1 of a snapshot: which sites it lists, how many bytes their entries take,
 * the process totals, all into *h (FULL added to a file's first snapshot). The sampling
 * estimates of what is live are rebuilt (scratch tables). @return the sites to scan. */
static uint32_t plan(struct sn_hist_hdr *h, uint64_t ts, unsigned flags)
{
	if (!sn.wrote_first)
		flags |= ITF_SNAP_FULL;
	bool full = flags & ITF_SNAP_FULL;
	uint32_t top = live_max_site();
	if (sn.est_alloc) {
		if (top > sn.est_top)
			sn.est_top = top;
		memset(sn.est_lc, 0, sn.est_top * sizeof(double));
		memset(sn.est_lb, 0, sn.est_top * sizeof(double));
		live_foreach(est_live_cb, NULL);
		top = sn.est_top;
	}
	*h = (struct sn_hist_hdr){.ts = ts,
				  .seq = sn.seq,
				  .interval_ns = (uint64_t)opt_snapshot_ms * 1000000u,
				  .flags = flags};
	uint64_t ent_bytes = 0;
	uint32_t prev = 0;
	struct sn_vals v;
	for (uint32_t i = 0; i < top; i++) {
		site_vals(i, &v);
		if (sn.est_alloc) {
			h->totals[0] += v.v[0];
			h->totals[1] += v.v[1];
			h->totals[2] += v.v[2];
			h->totals[3] += v.v[2] - (v.v[4] < v.v[2] ? v.v[4] : v.v[2]);
			h->totals[4] += v.v[3];
			h->totals[5] += v.v[4];
		}
		if (full ? !(v.v[0] || v.v[3]) : !differs(&v, &sn.shadow[i]))
			continue;
		h->n++;
		ent_bytes += ulen(i - prev);
		for (int k = 0; k < SN_NVAL; k++)
			ent_bytes += ulen(v.v[k]);
		prev = i;
	}
	struct live_stats ls;
	live_get_stats(&ls);
	if (!sn.est_alloc) {
		h->totals[0] = ls.allocations;
		h->totals[1] = ls.frees;
		h->totals[2] = ls.bytes;
		h->totals[3] = ls.freed_bytes;
		h->totals[4] = ls.live_count;
		h->totals[5] = ls.live_bytes;
		h->totals[6] = ls.unmatched_frees;
	}
	h->totals[7] = ls.lost;
	h->entries_len = (uint32_t)ent_bytes;
	return top;
}

uint64_t snap_estimate(unsigned flags)
{
	if (!sn.ok)
		return 0;
	struct sn_hist_hdr h;
	plan(&h, 0, flags);
	/* the SNAPSHOT record, the entries, and each SNAP_SITES record's type, length, seq, n
	 * and section header */
	return 160 + h.entries_len +
	       ((uint64_t)h.entries_len / (SN_PAYLOAD - SN_ENTRY_MAX) + 1) * 64;
}

void snap_write(uint64_t ts, uint64_t now_ns, unsigned flags)
{
	if (!sn.ok)
		return;
	uint64_t interval_ns = (uint64_t)opt_snapshot_ms * 1000000u;
	/* keep the cadence: the next one is due an interval after this one was due (a
	 * segment's full snapshot, now_ns 0, is outside it) */
	if (now_ns)
		sn.due_ns = sn.due_ns && now_ns >= sn.due_ns && now_ns - sn.due_ns < interval_ns
				    ? sn.due_ns + interval_ns
				    : now_ns + interval_ns;
	struct sn_hist_hdr h;
	uint32_t top = plan(&h, ts, flags);
	bool full = h.flags & ITF_SNAP_FULL;
	struct sn_vals v;

	/* pass 2: the records and the shadow */
	put_snapshot_record(&h);
	em_begin(h.seq);
	for (uint32_t i = 0; i < top; i++) {
		site_vals(i, &v);
		if (full ? !(v.v[0] || v.v[3]) : !differs(&v, &sn.shadow[i]))
			continue;
		em_add(i, &v);
		sn.shadow[i] = v;
	}
	em_flush();
	sn.seq++;
	sn.wrote_first = true;
}
