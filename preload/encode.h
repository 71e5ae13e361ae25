/* encode.h - turning events into EVENTS-section records of the trace format (encode.c).
 * Pure functions over caller-owned buffers: the writer uses them, and the unit tests run
 * them against the analyzer's decoder. */
#ifndef INTERCEPT_ENCODE_H
#define INTERCEPT_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "intercept/trace_format.h"

/* One event as the writer's merge hands it over: a ring record, or one half of a realloc
 * (its FREE of the old block, then its REALLOC allocation of the new one). */
struct enc_ev {
	uint8_t type;	/* ITF_EV_ALLOC, _FREE, _REALLOC, or a hook type 0x20..0x3f */
	uint32_t tid;
	uint32_t stack; /* ALLOC, REALLOC */
	uint64_t ts;
	uint64_t ptr;
	uint64_t size;		/* ALLOC, REALLOC */
	const uint8_t *payload; /* hook types: the payload after slot and dts */
	uint32_t payload_len;
};

/* The running values of one EVENTS section (trace_format.h): reset at each section. */
struct enc_state {
	uint64_t ts;
	uint32_t tid[ITF_EV_SLOTS]; /* 0 = unbound */
	uint64_t ptr[ITF_EV_SLOTS];
	uint64_t used[ITF_EV_SLOTS]; /* last use, for choosing the slot to rebind */
	uint64_t tick;
};

/*! enc_max() : an upper bound on the bytes enc_event() writes for e (a BIND included). */
static inline size_t enc_max(const struct enc_ev *e)
{
	return 24u + (e->type >= 0x20 ? 32u + e->payload_len : 48u);
}

/*! enc_section_start() : reset st for a section starting at timestamp ts. @return the
 * section's ts_base. */
uint64_t enc_section_start(struct enc_state *st, uint64_t ts);

/*! enc_event() : encode e at p (enc_max(e) bytes of room), preceded by a BIND record when
 * e's thread has no slot yet; adds the number of records written to *n_records.
 * @return the end of what was written. */
uint8_t *enc_event(struct enc_state *st, const struct enc_ev *e, uint8_t *p, uint32_t *n_records);

#endif /* INTERCEPT_ENCODE_H */
