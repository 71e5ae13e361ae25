/* order.c - owns the cross-thread merge. Each thread's events arrive in its own order; the
 * file gives no order across threads (trace_format.h, ORDER). Events wait in per-thread
 * queues until the watermark passes them: after a chunk of drain D arrives, no unseen event
 * can be older than the start of drain D-1 minus the slack (a thread preempted between its
 * clock read and its commit), so everything older is released in timestamp order, ties
 * broken by thread id. An event that still arrives behind the watermark is handed on at
 * once and counted as late; agg_alloc.c keeps the live set exact for those too. Memory is
 * bounded by the events of about two drains plus the slack. Main thread only. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "order.h"

struct ord_queue {
	struct ord_event *ev; /* ring */
	size_t head, n, cap;
	uint32_t tid;
};

int ord_init(struct order *o)
{
	memset(o, 0, sizeof(*o));
	return hmap_init(&o->queues, sizeof(struct ord_queue *), 64);
}

void ord_free(struct order *o)
{
	size_t it = 0;
	uint64_t k;
	void *v;
	while (hmap_next(&o->queues, &it, &k, &v)) {
		struct ord_queue *q = *(struct ord_queue **)v;
		for (size_t i = 0; i < q->n; i++)
			free(q->ev[(q->head + i) % q->cap].payload);
		free(q->ev);
		free(q);
	}
	hmap_free(&o->queues);
}

int ord_add_consumer(struct order *o, void *ctx, int (*event)(void *, const struct ord_event *))
{
	if (o->n_cons >= sizeof(o->cons) / sizeof(o->cons[0]))
		return az_error(AZ_ENOMEM, "too many consumers");
	o->cons[o->n_cons].ctx = ctx;
	o->cons[o->n_cons].event = event;
	o->n_cons++;
	return 0;
}

void ord_set_slack(struct order *o, uint64_t ticks)
{
	o->slack = ticks;
}

int ord_chunk(struct order *o, uint64_t emit_ts)
{
	if (emit_ts != o->cur_emit) {
		o->prev_emit = o->cur_emit;
		o->cur_emit = emit_ts;
	}
	return 0;
}

static int dispatch(struct order *o, const struct ord_event *e)
{
	for (unsigned i = 0; i < o->n_cons; i++) {
		int rc = o->cons[i].event(o->cons[i].ctx, e);
		if (rc)
			return rc;
	}
	return 0;
}

int ord_event(struct order *o, const struct dec_event *d)
{
	struct ord_event e = {.type = d->type,
			      .tid = d->tid,
			      .stack = d->stack,
			      .ts = d->ts,
			      .ts2 = d->ts2,
			      .ptr = d->ptr,
			      .old = d->old,
			      .size = d->size};
	if (d->payload_len) {
		e.payload = xmalloc(d->payload_len);
		if (!e.payload)
			return az_error(AZ_ENOMEM, "out of memory");
		memcpy(e.payload, d->payload, d->payload_len);
		e.payload_len = (uint32_t)d->payload_len;
	}
	if (o->released_ts && e.ts < o->released_ts) {
		/* behind the watermark: hand on now (agg_alloc.c repairs address reuse) */
		o->late++;
		int rc = dispatch(o, &e);
		free(e.payload);
		return rc;
	}
	bool is_new;
	struct ord_queue **qp = hmap_put(&o->queues, d->tid, &is_new);
	if (!qp)
		goto oom;
	if (is_new) {
		*qp = xcalloc(1, sizeof(struct ord_queue));
		if (!*qp)
			goto oom;
		(*qp)->tid = d->tid;
	}
	struct ord_queue *q = *qp;
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 1024;
		struct ord_event *nev = xmalloc(ncap * sizeof(*nev));
		if (!nev)
			goto oom;
		for (size_t i = 0; i < q->n; i++)
			nev[i] = q->ev[(q->head + i) % q->cap];
		free(q->ev);
		q->ev = nev;
		q->head = 0;
		q->cap = ncap;
	}
	q->ev[(q->head + q->n) % q->cap] = e;
	q->n++;
	o->pending++;
	if (o->pending > o->max_pending)
		o->max_pending = o->pending;
	return 0;
oom:
	free(e.payload);
	return az_error(AZ_ENOMEM, "out of memory");
}

/* release_until() : hand on events with ts < limit in order. With few threads a linear
 * scan over queue heads is cheaper than a heap. */
static int release_until(struct order *o, uint64_t limit)
{
	struct ord_queue *qs[256];
	size_t nq = 0, it = 0;
	uint64_t k;
	void *v;
	bool many = o->queues.n > sizeof(qs) / sizeof(qs[0]);
	struct ord_queue **all = many ? xmalloc(o->queues.n * sizeof(*all)) : qs;
	if (!all)
		return az_error(AZ_ENOMEM, "out of memory");
	while (hmap_next(&o->queues, &it, &k, &v)) {
		struct ord_queue *q = *(struct ord_queue **)v;
		if (q->n)
			all[nq++] = q;
	}
	int rc = 0;
	for (;;) {
		struct ord_queue *best = NULL;
		uint64_t best_ts = limit;
		for (size_t i = 0; i < nq; i++) {
			struct ord_queue *q = all[i];
			if (!q->n)
				continue;
			uint64_t ts = q->ev[q->head].ts;
			if (ts < best_ts || (ts == best_ts && best && q->tid < best->tid &&
					     ts < limit)) {
				best = q;
				best_ts = ts;
			}
		}
		if (!best)
			break;
		struct ord_event e = best->ev[best->head];
		best->head = (best->head + 1) % best->cap;
		best->n--;
		o->pending--;
		if (e.ts > o->released_ts)
			o->released_ts = e.ts;
		rc = dispatch(o, &e);
		free(e.payload);
		if (rc)
			break;
	}
	if (many)
		free(all);
	return rc;
}

int ord_release(struct order *o)
{
	if (!o->prev_emit || o->prev_emit <= o->slack)
		return 0;
	return release_until(o, o->prev_emit - o->slack);
}

int ord_flush(struct order *o)
{
	return release_until(o, UINT64_MAX);
}
