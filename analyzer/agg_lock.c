/* agg_lock.c - owns the lock contention analysis: LOCK_WAIT records (one per acquisition
 * that found the lock busy) summed per lock address and per waiting stack, and the
 * LOCK_COUNTS records of the counting mode (cumulative per lock: the newest wins). The
 * lock's "first seen" stack is, in counting mode, the stack of its first counted acquisition;
 * otherwise the stack of its earliest contended acquisition (by timestamp, so independent
 * of arrival order). Waits are summed in clock units and converted to ns once the clock fit
 * is known (agg_lock_finish). Main thread only. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agg_lock.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"

int agg_lock_init(struct agg_lock *a)
{
	memset(a, 0, sizeof(*a));
	if (hmap_init(&a->locks, sizeof(struct lock_ent *), 64))
		return az_error(AZ_ENOMEM, "out of memory");
	return 0;
}

void agg_lock_free(struct agg_lock *a)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&a->locks, &it, &k, &v)) {
		struct lock_ent *l = *(struct lock_ent **)v;
		hmap_free(&l->waiters);
		free(l->sorted);
		free(l);
	}
	hmap_free(&a->locks);
	free(a->sorted);
	VEC_FREE(a->waits_kept);
	memset(a, 0, sizeof(*a));
}

/* lock_get() : the entry for addr, created empty on first sight. @return NULL (out of
 * memory, message set). */
static struct lock_ent *lock_get(struct agg_lock *a, uint64_t addr)
{
	bool is_new;
	struct lock_ent **slot = hmap_put(&a->locks, addr, &is_new);
	if (!slot) {
		az_error(AZ_ENOMEM, "out of memory");
		return NULL;
	}
	if (!is_new)
		return *slot;
	struct lock_ent *l = xcalloc(1, sizeof(*l));
	if (!l || hmap_init(&l->waiters, sizeof(struct lock_waiter), 4)) {
		free(l);
		hmap_del(&a->locks, addr);
		az_error(AZ_ENOMEM, "out of memory");
		return NULL;
	}
	l->addr = addr;
	*slot = l;
	return l;
}

/* Sums of clock units: a hostile trace could overflow them; saturate. */
#define ADD(x, v) ((x) = (x) + (v) < (x) ? UINT64_MAX : (x) + (v))

/* keep_wait() : offer one wait to the bounded set of the longest (a binary min-heap on
 * wait_ns: the root is the shortest kept, replaced when a longer one comes). */
static int keep_wait(struct agg_lock *a, const struct lock_wait_ev *ev)
{
	struct lock_wait_ev *h = a->waits_kept.v;
	size_t n = a->waits_kept.n, i;
	if (n < LOCK_WAITS_KEPT) {
		if (VEC_PUSH(a->waits_kept, *ev))
			return az_error(AZ_ENOMEM, "out of memory");
		h = a->waits_kept.v;
		for (i = n; i > 0 && h[(i - 1) / 2].wait_ns > h[i].wait_ns; i = (i - 1) / 2) {
			struct lock_wait_ev t = h[i];
			h[i] = h[(i - 1) / 2];
			h[(i - 1) / 2] = t;
		}
		return 0;
	}
	a->waits_not_kept++;
	if (ev->wait_ns <= h[0].wait_ns)
		return 0;
	h[0] = *ev;
	for (i = 0;;) {
		size_t l = 2 * i + 1, rr = l + 1, m = i;
		if (l < n && h[l].wait_ns < h[m].wait_ns)
			m = l;
		if (rr < n && h[rr].wait_ns < h[m].wait_ns)
			m = rr;
		if (m == i)
			break;
		struct lock_wait_ev t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return 0;
}

#define GET(field)                                                                                 \
	RETURN_ERR_IF(itf_get_u(&p, end, &(field)), AZ_ECORRUPT,                                   \
		      "thread %u: LOCK_WAIT record truncated", e->tid)

int agg_lock_event(void *ctx, const struct ord_event *e)
{
	struct agg_lock *a = ctx;
	if (e->type != ITF_EV_LOCK_WAIT)
		return 0;
	const uint8_t *p = e->payload, *end = e->payload + e->payload_len;
	uint64_t addr, kind, wait, result, stack, flags;
	GET(addr);
	GET(kind);
	GET(wait);
	GET(result);
	GET(stack);
	GET(flags); /* ITF_LOCKF_TIMED: not shown yet; later fields are ignored */
	RETURN_ERR_IF(kind < ITF_LOCK_MUTEX || kind > ITF_LOCK_WRITE, AZ_ECORRUPT,
		      "thread %u: LOCK_WAIT of unknown kind %llu", e->tid,
		      (unsigned long long)kind);
	RETURN_ERR_IF(stack > UINT32_MAX, AZ_ECORRUPT, "thread %u: LOCK_WAIT stack id %llu",
		      e->tid, (unsigned long long)stack);
	struct lock_ent *l = lock_get(a, addr);
	if (!l)
		return AZ_ENOMEM;
	bool is_new;
	struct lock_waiter *w = hmap_put(&l->waiters, stack, &is_new);
	if (!w)
		return az_error(AZ_ENOMEM, "out of memory");
	w->stack = (uint32_t)stack;
	w->kinds |= 1u << kind;
	w->waits++;
	ADD(w->wait_ns, wait);
	if (wait > w->max_wait_ns)
		w->max_wait_ns = wait;
	l->kinds |= 1u << kind;
	if (l->contended == 0 || e->ts < l->first_wait_ts) {
		l->first_wait_ts = e->ts;
		l->first_wait_stack = (uint32_t)stack;
	}
	l->contended++;
	ADD(l->wait_ns, wait);
	if (wait > l->max_wait_ns)
		l->max_wait_ns = wait;
	if (kind == ITF_LOCK_READ) {
		l->read_contended++;
		ADD(l->read_wait_ns, wait);
	} else if (kind == ITF_LOCK_WRITE) {
		l->write_contended++;
		ADD(l->write_wait_ns, wait);
	}
	if (result == ETIMEDOUT)
		l->timeouts++;
	else if (result != 0 && result != EOWNERDEAD)
		l->errors++;
	a->waits++;
	struct lock_wait_ev ev = {.end_ts = e->ts, .wait_ns = wait, .addr = addr, .tid = e->tid,
				  .stack = (uint32_t)stack, .kind = (uint32_t)kind,
				  .result = result > UINT32_MAX ? UINT32_MAX : (uint32_t)result};
	return keep_wait(a, &ev);
}
#undef GET

#define GETC(field)                                                                                \
	RETURN_ERR_IF(itf_get_u(&p, end, &(field)), AZ_ECORRUPT, "LOCK_COUNTS record truncated")

int agg_lock_counts(struct agg_lock *a, const uint8_t *payload, size_t len)
{
	const uint8_t *p = payload, *end = payload + len;
	uint64_t ts, overflow, n;
	GETC(ts);
	GETC(overflow);
	GETC(n);
	/* each entry takes at least 5 bytes: a count that cannot fit is corrupt */
	RETURN_ERR_IF(n > len / 5, AZ_ECORRUPT, "LOCK_COUNTS record with %llu entries in %zu bytes",
		      (unsigned long long)n, len);
	a->counting = true;
	if (overflow > a->count_overflow)
		a->count_overflow = overflow;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t addr, m, r, w, stack;
		GETC(addr);
		GETC(m);
		GETC(r);
		GETC(w);
		GETC(stack);
		RETURN_ERR_IF(stack > UINT32_MAX, AZ_ECORRUPT, "LOCK_COUNTS stack id %llu",
			      (unsigned long long)stack);
		struct lock_ent *l = lock_get(a, addr);
		if (!l)
			return AZ_ENOMEM;
		/* cumulative: the newest (largest) figures win */
		l->counted = true;
		if (m > l->acq_mutex)
			l->acq_mutex = m;
		if (r > l->acq_read)
			l->acq_read = r;
		if (w > l->acq_write)
			l->acq_write = w;
		if (stack)
			l->first_acq_stack = (uint32_t)stack;
		l->kinds |= (m ? 1u << ITF_LOCK_MUTEX : 0) | (r ? 1u << ITF_LOCK_READ : 0) |
			    (w ? 1u << ITF_LOCK_WRITE : 0);
	}
	(void)ts;
	return 0;
}
#undef GETC

const char *lock_kind_name(const struct lock_ent *l)
{
	bool mutex = l->kinds & (1u << ITF_LOCK_MUTEX);
	bool rw = l->kinds & ((1u << ITF_LOCK_READ) | (1u << ITF_LOCK_WRITE));
	return mutex && rw ? "mutex+rwlock" : rw ? "rwlock" : "mutex";
}

uint64_t lock_acquisitions(const struct lock_ent *l)
{
	return l->acq_mutex + l->acq_read + l->acq_write;
}

static int cmp_waiter(const void *x, const void *y)
{
	const struct lock_waiter *a = x, *b = y;
	if (a->waits != b->waits)
		return a->waits > b->waits ? -1 : 1;
	if (a->wait_ns != b->wait_ns)
		return a->wait_ns > b->wait_ns ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int cmp_lock(const void *x, const void *y)
{
	const struct lock_ent *a = *(struct lock_ent *const *)x, *b = *(struct lock_ent *const *)y;
	if (a->wait_ns != b->wait_ns)
		return a->wait_ns > b->wait_ns ? -1 : 1;
	if (a->contended != b->contended)
		return a->contended > b->contended ? -1 : 1;
	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int cmp_wait_ev(const void *x, const void *y)
{
	const struct lock_wait_ev *a = x, *b = y;
	if (a->end_ts != b->end_ts)
		return a->end_ts < b->end_ts ? -1 : 1;
	return a->tid < b->tid ? -1 : a->tid > b->tid;
}

static uint64_t to_ns(uint64_t ticks, double ns_per_tick)
{
	double ns = (double)ticks * ns_per_tick;
	return ns >= 1.8e19 ? UINT64_MAX : ns > 0 ? (uint64_t)llround(ns) : 0;
}

int agg_lock_finish(struct agg_lock *a, const struct trace *tr)
{
	double npt = tr->ns_per_tick > 0 ? tr->ns_per_tick : 1.0;
	if (tr->hdr.flags & ITF_HDR_LOCK_COUNT)
		a->counting = true;
	a->wait_ns = 0; /* the sum of the locks' waits in ns, so that the figures add up */
	a->sorted = xcalloc(a->locks.n ? a->locks.n : 1, sizeof(*a->sorted));
	if (!a->sorted)
		return az_error(AZ_ENOMEM, "out of memory");
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&a->locks, &it, &k, &v)) {
		struct lock_ent *l = *(struct lock_ent **)v;
		if (l->counted) {
			a->locks_counted++;
			a->acquisitions += lock_acquisitions(l);
		}
		if (!l->contended)
			continue;
		a->locks_contended++;
		l->max_wait_ns = to_ns(l->max_wait_ns, npt);
		l->read_wait_ns = to_ns(l->read_wait_ns, npt);
		l->write_wait_ns = to_ns(l->write_wait_ns, npt);
		l->wait_ns = 0; /* the sum of its waiters' in ns, so that every format adds up */
		l->sorted = xcalloc(l->waiters.n ? l->waiters.n : 1, sizeof(*l->sorted));
		if (!l->sorted)
			return az_error(AZ_ENOMEM, "out of memory");
		size_t wit = 0;
		uint64_t wk;
		void *wv;
		while (hmap_next(&l->waiters, &wit, &wk, &wv)) {
			struct lock_waiter *w = wv;
			w->wait_ns = to_ns(w->wait_ns, npt);
			w->max_wait_ns = to_ns(w->max_wait_ns, npt);
			ADD(l->wait_ns, w->wait_ns);
			l->sorted[l->n_sorted++] = *w;
		}
		ADD(a->wait_ns, l->wait_ns);
		qsort(l->sorted, l->n_sorted, sizeof(*l->sorted), cmp_waiter);
		a->sorted[a->n_sorted++] = l;
	}
	qsort(a->sorted, a->n_sorted, sizeof(*a->sorted), cmp_lock);
	for (size_t i = 0; i < a->waits_kept.n; i++)
		a->waits_kept.v[i].wait_ns = to_ns(a->waits_kept.v[i].wait_ns, npt);
	if (a->waits_kept.n > 1)
		qsort(a->waits_kept.v, a->waits_kept.n, sizeof(a->waits_kept.v[0]), cmp_wait_ev);
	return 0;
}
