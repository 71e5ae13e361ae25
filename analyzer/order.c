/* order.c - owns the dispatch of the event stream to the aggregators. The order itself is
 * made by the writer (preload/writer.c, merge_events): each drain merges every thread's
 * events by timestamp below a cutoff, which makes the stream causally consistent for
 * address reuse, so the analyzer processes events in file order with no window and no
 * memory for pending events. Timestamps can still step back a little (a thread preempted
 * between reading the clock and publishing the event lands in the next drain): counted as
 * late, harmless to the aggregators, which never rely on timestamps for order. Main thread
 * only. */
#define _GNU_SOURCE
#include <string.h>

#include "order.h"

int ord_init(struct order *o)
{
	memset(o, 0, sizeof(*o));
	return 0;
}

void ord_free(struct order *o)
{
	memset(o, 0, sizeof(*o));
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

int ord_event(struct order *o, const struct dec_event *d)
{
	struct ord_event e = {.type = d->type,
			      .tid = d->tid,
			      .stack = d->stack,
			      .ts = d->ts,
			      .ptr = d->ptr,
			      .size = d->size,
			      .payload = d->payload,
			      .payload_len = (uint32_t)d->payload_len};
	if (e.ts < o->last_ts)
		o->late++;
	else
		o->last_ts = e.ts;
	for (unsigned i = 0; i < o->n_cons; i++) {
		int rc = o->cons[i].event(o->cons[i].ctx, &e);
		if (rc)
			return rc;
	}
	return 0;
}
