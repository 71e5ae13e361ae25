/* encode.c - owns the EVENTS record encoding of include/intercept/trace_format.h on the
 * writing side: thread slots bound by BIND records, signed delta timestamps, per-slot
 * zigzag pointer deltas, varints. Runs on the writer thread (and in unit tests).
 * Never: allocation, I/O. */
#define _GNU_SOURCE
#include <string.h>

#include "encode.h"
#include "intercept/varint.h"

uint64_t enc_section_start(struct enc_state *st, uint64_t ts)
{
	memset(st, 0, sizeof(*st));
	st->ts = ts;
	return ts;
}

/* slot_for() : the slot of tid, binding one (the least recently used) when needed. */
static unsigned slot_for(struct enc_state *st, uint32_t tid, uint8_t **pp, uint32_t *n_records)
{
	unsigned victim = 0;
	st->tick++;
	for (unsigned i = 0; i < ITF_EV_SLOTS; i++) {
		if (st->tid[i] == tid && tid) {
			st->used[i] = st->tick;
			return i;
		}
		if (st->used[i] < st->used[victim])
			victim = i;
	}
	uint8_t *p = *pp;
	*p++ = ITF_EV_HOT_BYTE(ITF_EV_BIND, victim);
	p = itf_put_u(p, tid);
	*pp = p;
	(*n_records)++;
	st->tid[victim] = tid;
	st->ptr[victim] = 0;
	st->used[victim] = st->tick;
	return victim;
}

uint8_t *enc_event(struct enc_state *st, const struct enc_ev *e, uint8_t *p, uint32_t *n_records)
{
	unsigned slot = slot_for(st, e->tid, &p, n_records);
	int64_t dts = (int64_t)(e->ts - st->ts);
	st->ts = e->ts;
	(*n_records)++;
	if (e->type >= 0x20) {
		uint8_t head[2 * ITF_VARINT_MAX];
		uint8_t *h = itf_put_u(head, slot);
		h = itf_put_s(h, dts);
		size_t hlen = (size_t)(h - head);
		*p++ = e->type;
		p = itf_put_u(p, hlen + e->payload_len);
		memcpy(p, head, hlen);
		p += hlen;
		memcpy(p, e->payload, e->payload_len);
		return p + e->payload_len;
	}
	*p++ = ITF_EV_HOT_BYTE(e->type, slot);
	p = itf_put_s(p, dts);
	p = itf_put_s(p, (int64_t)(e->ptr - st->ptr[slot]));
	st->ptr[slot] = e->ptr;
	if (e->type != ITF_EV_FREE) {
		p = itf_put_u(p, e->size);
		p = itf_put_u(p, e->stack);
	}
	return p;
}
