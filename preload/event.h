/* event.h - the in-memory layout of events in a thread's ring (buffer.c): fixed-width,
 * 8-byte aligned, cheap to write on the hook path. This is NOT the trace format: the
 * writer (writer.c) turns these into the compact varint records of trace_format.h. */
#ifndef INTERCEPT_EVENT_H
#define INTERCEPT_EVENT_H

#include <stdint.h>

#include "intercept/trace_format.h"

enum ev_type {
	EV_PAD = 0,			/* filler up to the ring's end; skipped */
	EV_ALLOC = ITF_EV_ALLOC,	/* struct ev_alloc */
	EV_FREE = ITF_EV_FREE,		/* struct ev_free */
	EV_REALLOC = ITF_EV_REALLOC,	/* struct ev_realloc */
	/* 0x20..0xff: struct ev_generic, copied to the trace as type | len | dts | payload */
	EV_GENERIC_FIRST = 0x20,
};

struct ev_hdr {
	uint16_t type; /* enum ev_type */
	uint16_t len;  /* whole record in bytes, a multiple of 8 (PAD: 0) */
	uint32_t aux;  /* ALLOC/REALLOC: stack id; GENERIC: payload bytes; PAD: its length */
};

struct ev_alloc {
	struct ev_hdr h;
	uint64_t ts; /* clk_after() */
	uint64_t ptr;
	uint64_t size;
};

struct ev_free {
	struct ev_hdr h;
	uint64_t ts; /* clk_before() */
	uint64_t ptr;
};

struct ev_realloc {
	struct ev_hdr h;
	uint64_t ts;  /* clk_before(): the free of old */
	uint64_t ts2; /* clk_after(): the allocation of new */
	uint64_t old;
	uint64_t new_;
	uint64_t size;
};

/* A record whose wire payload (everything after dts) the hook encoded itself. */
struct ev_generic {
	struct ev_hdr h;
	uint64_t ts;
	uint8_t payload[]; /* h.aux bytes, then padding to a multiple of 8 */
};

_Static_assert(sizeof(struct ev_alloc) == 32, "ev_alloc");
_Static_assert(sizeof(struct ev_free) == 24, "ev_free");
_Static_assert(sizeof(struct ev_realloc) == 48, "ev_realloc");
_Static_assert(sizeof(struct ev_generic) == 16, "ev_generic");

#define EV_GENERIC_MAX_PAYLOAD 16000u /* keeps len within uint16_t and the ring sane */

#endif /* INTERCEPT_EVENT_H */
