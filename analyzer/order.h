/* order.h - handing the trace's event stream to the aggregators (order.c). The writer
 * already made the stream causally consistent (trace_format.h, EVENTS), so events are
 * dispatched in file order as they are decoded. */
#ifndef INTERCEPT_ORDER_H
#define INTERCEPT_ORDER_H

#include <stdint.h>

#include "decode.h"
#include "util.h"

/* An event of the stream. payload (hook events) is valid during the consumer call only. */
struct ord_event {
	uint8_t type;
	uint32_t tid;
	uint32_t stack;
	uint64_t ts, ptr, size;
	const uint8_t *payload;
	uint32_t payload_len;
};

/* A consumer of events: one per aggregator (agg_alloc.c, and each hook's own). */
struct ord_consumer {
	void *ctx;
	int (*event)(void *ctx, const struct ord_event *e); /* 0, or AZ_* to stop */
};

struct order {
	struct ord_consumer cons[8];
	unsigned n_cons;
	uint64_t last_ts; /* timestamp of the previous event */
	uint64_t late;	  /* events timestamped before the event preceding them */
};

int ord_init(struct order *o);
void ord_free(struct order *o);
int ord_add_consumer(struct order *o, void *ctx, int (*event)(void *, const struct ord_event *));

/*! ord_event() : hand one decoded event to every consumer, in registration order.
 * @return 0, or the first consumer's error. */
int ord_event(struct order *o, const struct dec_event *e);

#endif /* INTERCEPT_ORDER_H */
