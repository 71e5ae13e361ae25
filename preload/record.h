/* record.h - what every hook file uses to record an event other than an allocation:
 * a length-prefixed THREAD record (trace_format.h, types 0x20..0x3f) whose payload the
 * hook encodes itself with the varint helpers, and interned strings. Hook-path safe: no
 * malloc, no lock; call with the guard held (hook_enter()). */
#ifndef INTERCEPT_RECORD_H
#define INTERCEPT_RECORD_H

#include <stdint.h>
#include <string.h>

#include "buffer.h"
#include "clock.h"
#include "intercept/varint.h"
#include "writer.h"

/* A record being built: rec_begin() reserves room, the hook appends payload at `p`,
 * rec_end() publishes it. */
struct rec {
	struct tstate *t;
	struct ev_generic *ev;
	uint8_t *p;   /* next payload byte */
	uint8_t *end; /* end of the reserved payload room */
};

/*! rec_begin() : reserve a record of `type` (0x20..0x3f) with room for max_payload bytes
 * and timestamp ts (clk_before()/clk_after(), as the event requires).
 * @return 0, or -1 when it is dropped (ring full in drop mode, no thread state: counted)
 * or max_payload exceeds EV_GENERIC_MAX_PAYLOAD (nothing is reserved then). */
static inline int rec_begin(struct rec *r, uint8_t type, uint32_t max_payload, uint64_t ts)
{
	if (max_payload > EV_GENERIC_MAX_PAYLOAD)
		return -1;
	r->t = tls_state();
	if (!r->t)
		return -1;
	uint32_t len = (uint32_t)((sizeof(struct ev_generic) + max_payload + 7) & ~7u);
	r->ev = buf_reserve(r->t, len);
	if (!r->ev)
		return -1;
	r->ev->h.type = type;
	r->ev->h.len = (uint16_t)len;
	r->ev->ts = ts;
	r->p = r->ev->payload;
	r->end = r->ev->payload + max_payload;
	return 0;
}

/* Payload appenders; callers size max_payload so that these never pass r->end (checked in
 * debug builds). */
static inline void rec_u(struct rec *r, uint64_t v)
{
	IC_ASSERT(r->end - r->p >= ITF_VARINT_MAX);
	r->p = itf_put_u(r->p, v);
}

static inline void rec_s(struct rec *r, int64_t v)
{
	IC_ASSERT(r->end - r->p >= ITF_VARINT_MAX);
	r->p = itf_put_s(r->p, v);
}

/*! rec_end() : publish the record (its length shrinks to what was written). */
static inline void rec_end(struct rec *r)
{
	uint32_t payload = (uint32_t)(r->p - r->ev->payload);
	uint32_t len = (uint32_t)((sizeof(struct ev_generic) + payload + 7) & ~7u);
	r->ev->h.aux = payload;
	r->ev->h.len = (uint16_t)len;
	buf_commit(r->t, len);
}

#define STR_MAX 4096 /* interned strings are cut at this many bytes */

/*! str_intern() : the id of string s (len bytes, cut at STR_MAX) of the given kind
 * (enum itf_str_kind), defining it in the trace on first sight. @return id >= 1, or 0 when
 * the string table is full. Costs a hash of the string and a probe: hooks should cache the
 * id where they can (per statement, per handle). */
static inline uint32_t str_intern(unsigned kind, const char *s, size_t len)
{
	uint8_t key[1 + STR_MAX];
	if (len > STR_MAX)
		len = STR_MAX;
	key[0] = (uint8_t)kind;
	memcpy(key + 1, s, len);
	return intern_get(&str_table, key, (uint32_t)(len + 1));
}

#endif /* INTERCEPT_RECORD_H */
