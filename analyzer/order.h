/* order.h - merging the per-thread event streams of a trace into one timestamp order
 * (order.c), within a bounded window, and handing events to the aggregators. */
#ifndef INTERCEPT_ORDER_H
#define INTERCEPT_ORDER_H

#include <stdint.h>

#include "decode.h"
#include "util.h"

/* An event in the merged stream. payload (hook events) is owned by the order stage and
 * valid during the consumer call only. */
struct ord_event {
	uint8_t type;
	uint32_t tid;
	uint32_t stack;
	uint64_t ts, ts2, ptr, old, size;
	uint8_t *payload;
	uint32_t payload_len;
};

/* A consumer of merged events: one per aggregator (agg_alloc.c, and each hook's own). */
struct ord_consumer {
	void *ctx;
	int (*event)(void *ctx, const struct ord_event *e); /* 0, or AZ_* to stop */
};

struct ord_queue; /* one thread's pending events (order.c) */

struct order {
	struct hmap queues; /* tid -> struct ord_queue * */
	struct ord_consumer cons[8];
	unsigned n_cons;
	uint64_t slack;	    /* clock units a late event may lag its drain */
	uint64_t cur_emit, prev_emit;
	uint64_t released_ts; /* the newest timestamp handed on */
	uint64_t pending;     /* events waiting */
	uint64_t late;	      /* events older than what was already released */
	uint64_t max_pending;
};

int ord_init(struct order *o);
void ord_free(struct order *o);
int ord_add_consumer(struct order *o, void *ctx, int (*event)(void *, const struct ord_event *));
/*! ord_set_slack() : how long an event can lag behind its chunk's drain, in clock units. */
void ord_set_slack(struct order *o, uint64_t ticks);

/*! ord_chunk() : a new chunk begins (its emit_ts moves the watermark). */
int ord_chunk(struct order *o, uint64_t emit_ts);
/*! ord_event() : queue one decoded event (payload copied). */
int ord_event(struct order *o, const struct dec_event *e);
/*! ord_release() : hand on every event older than the watermark, oldest first. */
int ord_release(struct order *o);
/*! ord_flush() : hand on everything (end of the trace). */
int ord_flush(struct order *o);

#endif /* INTERCEPT_ORDER_H */
