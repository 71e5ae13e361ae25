/* encode.h - turning ring events (event.h) into THREAD-section records of the trace format
 * (encode.c). Pure functions over caller-owned buffers: the writer uses them, and the unit
 * tests run them against the analyzer's decoder. */
#ifndef INTERCEPT_ENCODE_H
#define INTERCEPT_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* The running values of one THREAD section (trace_format.h): reset at each section. */
struct enc_state {
	uint64_t ts;
	uint64_t ptr;
};

/*! enc_max() : an upper bound on the encoded size of event h. */
static inline size_t enc_max(const struct ev_hdr *h)
{
	return h->type >= EV_GENERIC_FIRST ? 32u + h->aux : 64u;
}

/*! enc_section_start() : the state for a section whose first record is h.
 * @return the section's ts_base. */
uint64_t enc_section_start(struct enc_state *st, const struct ev_hdr *h);

/*! enc_event() : encode event h at p (enc_max(h) bytes of room), updating st.
 * @return the end of what was written, or p unchanged for an event the writer does not
 * know (never produced by our hooks). A timestamp older than the running one is clamped
 * (written as delta 0). */
uint8_t *enc_event(struct enc_state *st, const struct ev_hdr *h, uint8_t *p);

#endif /* INTERCEPT_ENCODE_H */
