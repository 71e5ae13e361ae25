/* encode.c - owns the THREAD record encoding of include/intercept/trace_format.h on the
 * writing side: delta timestamps, zigzag pointer deltas, varints. Runs on the writer thread
 * (and in unit tests). Never: allocation, I/O. */
#define _GNU_SOURCE
#include <string.h>

#include "encode.h"
#include "intercept/varint.h"

uint64_t enc_section_start(struct enc_state *st, const struct ev_hdr *h)
{
	st->ts = ((const struct ev_free *)h)->ts; /* every event has its timestamp at 8 */
	st->ptr = 0;
	return st->ts;
}

static uint64_t delta_ts(struct enc_state *st, uint64_t ts)
{
	if (ts < st->ts)
		return 0;
	uint64_t d = ts - st->ts;
	st->ts = ts;
	return d;
}

uint8_t *enc_event(struct enc_state *st, const struct ev_hdr *h, uint8_t *p)
{
	switch (h->type) {
	case EV_ALLOC: {
		const struct ev_alloc *e = (const void *)h;
		*p++ = ITF_EV_ALLOC;
		p = itf_put_u(p, delta_ts(st, e->ts));
		p = itf_put_s(p, (int64_t)(e->ptr - st->ptr));
		p = itf_put_u(p, e->size);
		p = itf_put_u(p, h->aux);
		st->ptr = e->ptr;
		return p;
	}
	case EV_FREE: {
		const struct ev_free *e = (const void *)h;
		*p++ = ITF_EV_FREE;
		p = itf_put_u(p, delta_ts(st, e->ts));
		p = itf_put_s(p, (int64_t)(e->ptr - st->ptr));
		st->ptr = e->ptr;
		return p;
	}
	case EV_REALLOC: {
		const struct ev_realloc *e = (const void *)h;
		*p++ = ITF_EV_REALLOC;
		p = itf_put_u(p, delta_ts(st, e->ts));
		p = itf_put_u(p, delta_ts(st, e->ts2));
		p = itf_put_s(p, (int64_t)(e->old - st->ptr));
		p = itf_put_s(p, (int64_t)(e->new_ - e->old));
		p = itf_put_u(p, e->size);
		p = itf_put_u(p, h->aux);
		st->ptr = e->new_;
		return p;
	}
	default: {
		if (h->type < EV_GENERIC_FIRST || h->len < sizeof(struct ev_generic) ||
		    h->aux > EV_GENERIC_MAX_PAYLOAD || h->aux + sizeof(struct ev_generic) > h->len)
			return p;
		const struct ev_generic *e = (const void *)h;
		uint8_t dbuf[ITF_VARINT_MAX];
		size_t dlen = (size_t)(itf_put_u(dbuf, delta_ts(st, e->ts)) - dbuf);
		*p++ = (uint8_t)h->type;
		p = itf_put_u(p, dlen + h->aux);
		memcpy(p, dbuf, dlen);
		p += dlen;
		memcpy(p, e->payload, h->aux);
		return p + h->aux;
	}
	}
}
