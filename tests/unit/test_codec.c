/* test_codec.c - round trip of the trace record coding: ring events encoded by the
 * preload's encoder (preload/encode.c) and decoded by the analyzer's decoder
 * (analyzer/decode.c), on random and extreme values; plus the decoder's refusal of every
 * truncation and corruption of a valid chunk (it must fail cleanly, never read past). */
#define _GNU_SOURCE
#include <stdlib.h>

#include "decode.h"
#include "encode.h"
#include "harness.h"
#include "intercept/trace_format.h"
#include "intercept/varint.h"
#include "util.h"

TEST(varint_edges)
{
	uint64_t vals[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63,
			   UINT64_MAX};
	uint8_t buf[16];
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t *e = itf_put_u(buf, vals[i]);
		const uint8_t *p = buf;
		uint64_t out = 0;
		EXPECT(itf_get_u(&p, e, &out) == 0);
		EXPECT_EQ(out, vals[i]);
		EXPECT(p == e);
		/* every truncation fails and leaves the cursor alone */
		for (uint8_t *cut = buf; cut < e; cut++) {
			p = buf;
			EXPECT(itf_get_u(&p, cut, &out) == -1);
			EXPECT(p == buf);
		}
		int64_t sv = (int64_t)vals[i];
		e = itf_put_s(buf, sv);
		p = buf;
		int64_t so = 0;
		EXPECT(itf_get_s(&p, e, &so) == 0);
		EXPECT_EQ(so, sv);
	}
	/* 11 continuation bytes, and a 10th byte > 1: overflow */
	uint8_t bad[11];
	memset(bad, 0x80, sizeof(bad));
	const uint8_t *p = bad;
	uint64_t out = 0;
	EXPECT(itf_get_u(&p, bad + sizeof(bad), &out) == -1);
	memset(bad, 0xff, 9);
	bad[9] = 0x02;
	p = bad;
	EXPECT(itf_get_u(&p, bad + 10, &out) == -1);
}

/* ---- a chunk built from random events, decoded back ---------------------------------- */

#define N_EV 5000
static struct dec_event want[N_EV];
static size_t n_got;
static int mismatches;

static int on_event(void *ctx, const struct dec_event *e)
{
	(void)ctx;
	if (n_got >= N_EV)
		return AZ_ECORRUPT;
	const struct dec_event *w = &want[n_got++];
	if (e->type != w->type || e->ts != w->ts || e->ptr != w->ptr || e->tid != w->tid ||
	    (e->type != ITF_EV_FREE && e->type < 0x20 &&
	     (e->size != w->size || e->stack != w->stack)) ||
	    (e->type >= 0x20 && (e->payload_len != w->payload_len ||
				 memcmp(e->payload, w->payload, w->payload_len))))
		mismatches++;
	return 0;
}

static uint64_t rnd(void)
{
	static uint64_t s = 88172645463325252ull;
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static const uint8_t payload[] = "SELECT * FROM t WHERE x = ?";

/* build_chunk() : encode N_EV random events of 12 threads (more than the 8 slots, so
 * slots are rebound), with timestamps that sometimes step back, into one EVENTS section. */
static size_t build_chunk(uint8_t *chunk, size_t cap)
{
	uint8_t *p = chunk + sizeof(struct itf_chunk_hdr) + sizeof(struct itf_sec_hdr);
	struct enc_state st;
	uint64_t ts = 1000000;
	uint32_t n_records = 0;
	uint64_t ts_base = enc_section_start(&st, ts);
	for (size_t i = 0; i < N_EV; i++) {
		uint64_t r = rnd();
		if (r % 11 == 0)
			ts -= r % 500; /* a late event */
		else
			ts += (r >> 8) % 100000;
		uint32_t tid = 1000 + (uint32_t)(rnd() % 12);
		uint64_t ptr = (i % 7 == 0) ? (rnd() | 1) : 0x7f0000000000ull + (rnd() % 100000) * 16;
		struct enc_ev e = {.tid = tid, .ts = ts, .ptr = ptr};
		switch (r % 4) {
		case 0:
			e.type = ITF_EV_ALLOC;
			e.size = i == 5 ? UINT64_MAX : rnd() % 5000;
			e.stack = (uint32_t)(rnd() >> 40);
			break;
		case 1:
			e.type = ITF_EV_FREE;
			break;
		case 2:
			e.type = ITF_EV_REALLOC;
			e.size = 333;
			e.stack = 9;
			break;
		default:
			e.type = 0x21;
			e.payload = payload;
			e.payload_len = sizeof(payload);
			e.ptr = 0;
			break;
		}
		struct dec_event *w = &want[i];
		memset(w, 0, sizeof(*w));
		w->type = e.type;
		w->tid = tid;
		w->ts = ts;
		w->ptr = e.ptr;
		w->size = e.size;
		w->stack = e.stack;
		w->payload = e.payload;
		w->payload_len = e.payload_len;
		if ((size_t)(p - chunk) + enc_max(&e) > cap)
			return 0;
		p = enc_event(&st, &e, p, &n_records);
	}
	uint8_t *h = chunk;
	size_t len = (size_t)(p - chunk);
	itf_st32(h, ITF_CHUNK_MAGIC);
	itf_st16(h + 4, sizeof(struct itf_chunk_hdr));
	itf_st16(h + 6, 0);
	itf_st64(h + 8, 0);
	itf_st64(h + 16, 0);
	itf_st32(h + 24, 1);
	itf_st32(h + 28, (uint32_t)(len - sizeof(struct itf_chunk_hdr)));
	uint8_t *s = h + sizeof(struct itf_chunk_hdr);
	itf_st16(s, ITF_SEC_EVENTS);
	itf_st16(s + 2, 0);
	itf_st32(s + 4, (uint32_t)(len - sizeof(struct itf_chunk_hdr) - sizeof(struct itf_sec_hdr)));
	itf_st32(s + 8, 0);
	itf_st32(s + 12, n_records);
	itf_st64(s + 16, ts_base);
	return len;
}

static uint8_t chunk[N_EV * 80];

TEST(round_trip)
{
	size_t len = build_chunk(chunk, sizeof(chunk));
	EXPECT(len > 0);
	struct dec_sink sink = {.event = on_event};
	n_got = 0;
	mismatches = 0;
	EXPECT_EQ(dec_chunk(chunk, len, &sink), 0);
	EXPECT_EQ(n_got, N_EV);
	EXPECT_EQ(mismatches, 0);
	fprintf(stderr, "  %d events in %zu bytes: %.2f bytes/event before compression\n", N_EV,
		len, (double)len / N_EV);
}

TEST(truncation_and_corruption)
{
	size_t len = build_chunk(chunk, sizeof(chunk));
	struct dec_sink sink = {.event = on_event};
	/* every prefix is refused (sizes no longer add up), without reading past it */
	for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, chunk, cut);
		n_got = 0;
		az_error_clear();
		EXPECT(dec_chunk(copy, cut, &sink) != 0);
		free(copy);
	}
	/* flipping bytes gives either a clean error or a clean decode, never a crash (ASan
	 * builds check the "never reads past" part) */
	for (int i = 0; i < 4000; i++) {
		uint8_t *copy = malloc(len);
		memcpy(copy, chunk, len);
		copy[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
		n_got = 0;
		az_error_clear();
		int rc = dec_chunk(copy, len, &sink);
		EXPECT(rc == 0 || rc == AZ_ECORRUPT);
		free(copy);
	}
	az_error_clear();
}

int main(void)
{
	RUN(varint_edges);
	RUN(round_trip);
	RUN(truncation_and_corruption);
	return TEST_EXIT();
}
